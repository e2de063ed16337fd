"""What the dipole and polar fittings share: DeePMD-kit's keys, the selected types, one net
per selected type whose output the descriptor's rotation matrix turns into a tensor that
rotates with the frame, and the atomic labels' two layouts."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np

from deepkit.config.args import Arg, layer_widths, one_of, seed
from deepkit.errors import InputError
from deepkit.fit.base import Fitting
from deepkit.nn.by_type import map_by_type
from deepkit.nn.layers import ACTIVATIONS, PRECISIONS, fitting_net, net_seed, precision_dtype
from deepkit.tfenv import tf

# DeePMD-kit's fitting keys deepkit does not take for tensors (DeePMD-kit's TF backend
# refuses fparam / aparam there too).
TENSOR_UNSUPPORTED = {
    "numb_fparam": "",
    "numb_aparam": "",
    "dim_case_embd": "",
    "default_fparam": "",
    "trainable": "",
}


def tensor_args(sel_alias: str) -> list[Arg]:
    """The keys every tensor fitting takes (DeePMD-kit's names and defaults)."""
    return [
        Arg(
            "neuron",
            "list[int]",
            [120, 120, 120],
            "Widths of the fitting net layers",
            alias=("n_neuron",),
            check=layer_widths,
        ),
        Arg(
            "activation_function",
            "str",
            "tanh",
            "Fitting net activation",
            check=one_of(*ACTIVATIONS),
        ),
        Arg("resnet_dt", "bool", True, "Timestep-scaled residual connections"),
        Arg(
            "precision",
            "str",
            "default",
            "Precision of the fitting net (default: float64)",
            check=one_of(*PRECISIONS),
        ),
        Arg(
            "sel_type",
            "list[int]|int|None",
            None,
            "Types (indices into type_map) that carry a tensor; None: every type",
            alias=(sel_alias,),
        ),
        Arg("seed", "int|None", None, "Random seed of the initial parameters", check=seed),
    ]


def full_atomic(values: np.ndarray, selected: np.ndarray, width: int, where: str) -> np.ndarray:
    """An atomic tensor label (nf, natoms * width) or (nf, nsel * width), selected atoms only,
    in file order -> (nf, natoms, width) with zeros for atoms outside sel_type."""
    values = np.asarray(values, dtype=np.float64)
    nframes, natoms, nsel = len(values), len(selected), int(selected.sum())
    columns = values.reshape(nframes, -1).shape[1]
    if columns == natoms * width:
        out = values.reshape(nframes, natoms, width).copy()
        out[:, ~selected] = 0.0
        return out
    if columns == nsel * width:
        out = np.zeros((nframes, natoms, width))
        out[:, selected] = values.reshape(nframes, nsel, width)
        return out
    raise InputError(
        f"{where}: {columns} columns per frame, expected {natoms * width} (natoms = {natoms} "
        f"x {width}) or {nsel * width} ({nsel} atoms of sel_type x {width})"
    )


class TensorFitting(Fitting):
    """T_i = N^{type_i}(D_i) turned by the rotation matrix R_i (M x 3) of the descriptor;
    zero for atoms whose type is not in sel_type."""

    width: ClassVar[int]  # components of one tensor: 3 or 9
    label: ClassVar[str]  # the global label key; the atomic one is atomic_<label>
    example: ClassVar[dict] = {"neuron": [8, 8], "seed": 3}

    def __init__(
        self, *, ntypes, neuron, activation_function, resnet_dt, precision, sel_type, seed
    ):
        self.ntypes, self.neuron, self.activation = ntypes, list(neuron), activation_function
        self.resnet_dt, self.dtype, self.seed = resnet_dt, precision_dtype(precision), seed
        if sel_type is None:
            sel_type = list(range(ntypes))
        self.sel_type = sorted({sel_type} if isinstance(sel_type, int) else set(sel_type))

    @classmethod
    def check(cls, params: dict, ntypes: int, path: str) -> None:
        sel_type = params["sel_type"]
        types = [sel_type] if isinstance(sel_type, int) else sel_type or []
        bad = [t for t in types if not 0 <= t < ntypes]
        if bad:
            raise InputError(
                f"{path}.sel_type: type {bad[0]} outside the type map (0..{ntypes - 1})"
            )
        if sel_type is not None and not types:
            raise InputError(f"{path}.sel_type: empty; give at least one type, or null for all")

    def selected(self, atype: np.ndarray) -> np.ndarray:
        """(natoms,) bool: the atoms whose type carries a tensor."""
        return np.isin(atype, self.sel_type)

    def compute_statistics(self, systems, type_map, frames=None) -> None:
        """Nothing to learn from the data by default."""

    @abstractmethod
    def net_width(self, m: int) -> int:
        """Outputs of a type's net for a rotation matrix of M rows."""

    @abstractmethod
    def rotate(self, out, rot_mat, t: int):
        """out (n, net_width), rot_mat (n, M, 3) of atoms of type t -> (n, width)."""

    def build(self, descriptor, atype, fparam=None, aparam=None, *, rot_mat=None):
        """descriptor (nf * natoms, dim), rot_mat (nf * natoms, M, 3), atype (nf, natoms) ->
        atomic tensors (nf * natoms, width) float64, zero outside sel_type."""
        del fparam, aparam  # refused by the schema
        m = int(rot_mat.shape[1])
        dim = int(descriptor.shape[1])
        rows = tf.concat(
            [
                tf.cast(descriptor, self.dtype),
                tf.cast(tf.reshape(rot_mat, [-1, 3 * m]), self.dtype),
            ],
            axis=1,
        )

        def fit(part, t):
            if t not in self.sel_type:
                return tf.zeros([tf.shape(part)[0], self.width], tf.float64)
            d, rot = tf.split(part, [dim, 3 * m], axis=1)
            # mixed_types: every type reuses one net (its scope), only rotate() differs
            net_type = 0 if self.mixed_types else t
            # DeePMD-kit's seed order: the nets of sel_type one after the other
            index = sorted(self.sel_type).index(net_type) if not self.mixed_types else 0
            out = fitting_net(
                d,
                self.neuron,
                self.activation,
                self.resnet_dt,
                net_seed(self.seed, index, len(self.neuron)),
                self.dtype,
                True,
                0.0,
                "fitting_type_all" if self.mixed_types else f"fitting_type_{t}",
                nout=self.net_width(m),
                bias_std=1.0,  # DeePMD-kit's tensor nets start their final bias at N(0, 1)
            )
            out = tf.reshape(out, [-1, self.net_width(m)])
            tensor = self.rotate(out, tf.reshape(rot, [-1, m, 3]), t)
            return tf.cast(tf.reshape(tensor, [-1, self.width]), tf.float64)

        return map_by_type(rows, tf.reshape(atype, [-1]), self.ntypes, fit)
