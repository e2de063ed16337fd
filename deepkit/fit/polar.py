"""Polarizability fitting: each selected atom's polarizability as a symmetric 3 x 3 tensor
that rotates with the frame (DeePMD-kit's "polar")."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from deepkit.config.args import Arg, Group
from deepkit.errors import InputError
from deepkit.fit.tensor import TENSOR_UNSUPPORTED, TensorFitting, full_atomic, tensor_args
from deepkit.nn.layers import constant_variable
from deepkit.registry import FITTINGS
from deepkit.tfenv import tf, v1


@FITTINGS.register
class PolarFitting(TensorFitting):
    """a_i = scale[t] R_i^T A_i R_i + shift[t] I, A_i = diag(N(D_i)) with fit_diag, else
    N(D_i) (M x M) + its transpose; shift[t] (shift_diag) is the mean diagonal of type t's
    polarizability in the training data, by least squares over the systems."""

    name = "polar"
    doc = "atomic polarizabilities of the selected types, summed to the global one"
    model_type = "polar"
    width, label = 9, "polarizability"
    example: ClassVar[dict] = {"neuron": [8, 8], "seed": 3, "fit_diag": False}
    schema = Group(
        [
            *tensor_args("pol_type"),
            Arg("fit_diag", "bool", True, "Fit a diagonal matrix A (else a full symmetric one)"),
            Arg(
                "scale",
                "list[float]|float",
                1.0,
                "Factor of each type's output (one number: every type)",
            ),
            Arg(
                "shift_diag",
                "bool",
                True,
                "Add each type's mean diagonal polarizability from the training data",
            ),
        ],
        unsupported=TENSOR_UNSUPPORTED,
    )

    def __init__(self, *, fit_diag, scale, shift_diag, **keys):
        super().__init__(**keys)
        self.fit_diag, self.shift_diag = fit_diag, shift_diag
        self.scale = np.broadcast_to(np.asarray(scale, np.float64), (self.ntypes,)).copy()
        self.shift = np.zeros(self.ntypes)

    @classmethod
    def check(cls, params, ntypes, path):
        super().check(params, ntypes, path)
        scale = params["scale"]
        if isinstance(scale, list) and len(scale) != ntypes:
            raise InputError(f"{path}.scale: {len(scale)} entries for {ntypes} types")

    def compute_statistics(self, systems, type_map, frames=None) -> None:
        """shift[t]: least squares of count-per-type x mean polarizability = each system's
        mean over its first set (atomic labels: one row per type; global labels: one row
        per system); `frames` is not used."""
        if not self.shift_diag:
            return
        rows, targets = [], []
        for system in systems:
            atype = system.type_indices(type_map)
            selected = self.selected(atype)
            arrays = system.load_set(0).arrays
            if f"atomic_{self.label}" in arrays:
                atomic = full_atomic(
                    arrays[f"atomic_{self.label}"],
                    selected,
                    9,
                    f"{system.path}/{system.sets[0]}/atomic_{self.label}.npy",
                )
                for t in self.sel_type:
                    if (atype == t).any():
                        row = np.zeros(self.ntypes)
                        row[t] = 1.0
                        rows.append(row)
                        targets.append(atomic[:, atype == t].mean(axis=(0, 1)))
            elif self.label in arrays:
                rows.append(np.bincount(atype[selected], minlength=self.ntypes).astype(float))
                targets.append(arrays[self.label].mean(axis=0))
        if not rows:
            return
        solution = np.linalg.lstsq(np.array(rows), np.array(targets), rcond=None)[0]
        diag = solution.reshape(self.ntypes, 3, 3).diagonal(axis1=1, axis2=2).mean(axis=1)
        self.shift = np.where(self.selected(np.arange(self.ntypes)), diag, 0.0)

    def net_width(self, m: int) -> int:
        return m if self.fit_diag else m * m

    def rotate(self, out, rot_mat, t):
        m = int(rot_mat.shape[1])
        if self.fit_diag:
            a = tf.linalg.diag(out)
        else:
            a = tf.reshape(out, [-1, m, m])
            a = a + tf.transpose(a, [0, 2, 1])
        tensor = tf.matmul(rot_mat, tf.matmul(a, rot_mat), transpose_a=True)  # R^T A R
        with v1.variable_scope("fitting_attr", reuse=v1.AUTO_REUSE):
            shift = constant_variable("t_shift_diag", self.shift)
        eye = tf.eye(3, dtype=tensor.dtype)
        return self.scale[t] * tensor + tf.cast(shift[t], tensor.dtype) * eye
