"""Energy fitting: one net per atom type maps each descriptor (with the optional frame and
atomic parameters) to an atomic energy."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from deepkit.config.args import Arg, Group, layer_widths, non_negative, one_of, seed
from deepkit.errors import InputError
from deepkit.fit.base import Fitting
from deepkit.nn.by_type import map_by_type
from deepkit.nn.layers import (
    ACTIVATIONS,
    PRECISIONS,
    constant_variable,
    fitting_net,
    net_seed,
    precision_dtype,
)
from deepkit.registry import FITTINGS
from deepkit.tfenv import tf, v1


def _param_stats(systems, key: str, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and inverse std (std below 1e-2 counts as 1) of fparam / aparam columns."""
    rows = []
    for system in systems:
        if not system.has_label(key):
            raise InputError(
                f"{system.path}: no {key}.npy, but model.fitting_net.numb_{key} = {width}"
            )
        for k in range(len(system.sets)):
            data = system.load_set(k).arrays[key].reshape(-1, width)
            rows.append(data)
    data = np.concatenate(rows)
    std = data.std(axis=0)
    return data.mean(axis=0), 1.0 / np.where(std < 1e-2, 1.0, std)


@FITTINGS.register
class EnergyFitting(Fitting):
    """E_i = N_fit^{type_i}([D_i, fparam, aparam_i]) + bias[type_i] (the bias starts the final
    layer's bias). fparam and aparam are normalised by their training-data statistics."""

    name = "ener"
    doc = "energy fitting: atomic energies summed to the total"
    model_type = "ener"
    example: ClassVar[dict] = {"neuron": [8, 8], "seed": 2}
    schema = Group(
        [
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
            Arg(
                "precision",
                "str",
                "default",
                "Precision of the fitting net (default: float64)",
                check=one_of(*PRECISIONS),
            ),
            Arg("resnet_dt", "bool", True, "Timestep-scaled residual connections"),
            Arg(
                "trainable",
                "bool|list[bool]",
                True,
                "Whether the fitting net (or each layer) is trained",
            ),
            Arg("rcond", "float|None", None, "Cut-off ratio of the least-squares energy bias"),
            Arg("seed", "int|None", None, "Random seed of the initial parameters", check=seed),
            Arg("atom_ener", "list[float|None]", [], "Fixed energies of isolated atoms per type"),
            Arg(
                "numb_fparam", "int", 0, "Frame parameters (fparam.npy columns)", check=non_negative
            ),
            Arg(
                "numb_aparam",
                "int",
                0,
                "Atomic parameters per atom (aparam.npy)",
                check=non_negative,
            ),
        ],
        unsupported={
            "layer_name": "",
            "use_aparam_as_mask": "",
            "dim_case_embd": "",
            "default_fparam": "",
        },
    )

    def __init__(
        self,
        *,
        ntypes,
        neuron,
        activation_function,
        precision,
        resnet_dt,
        trainable,
        rcond,
        seed,
        atom_ener,
        numb_fparam,
        numb_aparam,
    ):
        self.ntypes, self.neuron, self.activation = ntypes, list(neuron), activation_function
        self.dtype, self.resnet_dt, self.trainable = (
            precision_dtype(precision),
            resnet_dt,
            trainable,
        )
        self.rcond, self.seed, self.atom_ener = rcond, seed, atom_ener
        self.numb_fparam, self.numb_aparam = numb_fparam, numb_aparam
        self.bias = np.zeros(ntypes)
        self.fparam_stats = (np.zeros(numb_fparam), np.ones(numb_fparam))
        self.aparam_stats = (np.zeros(numb_aparam), np.ones(numb_aparam))

    def compute_statistics(self, systems, type_map, frames=None) -> None:
        """Energy bias by least squares over the frames `frames` picks (None: all);
        fparam / aparam normalisation."""
        from deepkit.data.stats import energy_bias

        self.bias = energy_bias(systems, type_map, rcond=self.rcond, frames=frames)
        for t, value in enumerate(self.atom_ener):
            if value is not None:
                self.bias[t] = value
        if self.numb_fparam:
            self.fparam_stats = _param_stats(systems, "fparam", self.numb_fparam)
        if self.numb_aparam:
            self.aparam_stats = _param_stats(systems, "aparam", self.numb_aparam)

    def _normalised(self, values, name, stats, natoms_rows):
        with v1.variable_scope("fitting_attr", reuse=v1.AUTO_REUSE):
            avg = constant_variable(f"t_{name}_avg", stats[0])
            istd = constant_variable(f"t_{name}_istd", stats[1])
        return tf.reshape((tf.reshape(values, [-1, len(stats[0])]) - avg) * istd, natoms_rows)

    def _net_seed(self, t):
        """The seed of type t's net (None: the one net of mixed types) in DeePMD-kit's
        order: the types' nets one after the other, a type with an atom_ener taking a
        second net's seeds (DeePMD-kit builds its net twice)."""
        twice = sum(1 for value in self.atom_ener[: t or 0] if value is not None)
        return net_seed(self.seed, (t or 0) + twice, len(self.neuron))

    def build(self, descriptor, atype, fparam=None, aparam=None):
        """descriptor (nf * natoms, dim), atype (nf, natoms), fparam (nf, numb_fparam),
        aparam (nf, natoms * numb_aparam) -> atomic energies (nf * natoms,) float64."""
        columns = [descriptor]
        natoms = tf.shape(atype)[1]
        if self.numb_fparam:
            frame = self._normalised(fparam, "fparam", self.fparam_stats, [-1, self.numb_fparam])
            columns.append(
                tf.reshape(tf.tile(frame[:, None, :], [1, natoms, 1]), [-1, self.numb_fparam])
            )
        if self.numb_aparam:
            columns.append(
                self._normalised(aparam, "aparam", self.aparam_stats, [-1, self.numb_aparam])
            )
        inputs = tf.cast(tf.concat(columns, axis=1) if len(columns) > 1 else descriptor, self.dtype)
        atype_flat = tf.reshape(atype, [-1])

        def fit(part, t):
            bias = 0.0 if t is None else float(self.bias[t])
            return fitting_net(
                part,
                self.neuron,
                self.activation,
                self.resnet_dt,
                self._net_seed(t),
                self.dtype,
                self.trainable,
                bias,
                "fitting_type_all" if t is None else f"fitting_type_{t}",
            )

        if not self.mixed_types:
            return tf.cast(map_by_type(inputs, atype_flat, self.ntypes, fit), tf.float64)
        # One net for every type (the descriptor carries the type embedding); the energy
        # bias is added by type, as DeePMD-kit's t_bias_atom_e.
        with v1.variable_scope("fitting_attr", reuse=v1.AUTO_REUSE):
            bias = constant_variable("t_bias_atom_e", np.asarray(self.bias, dtype=np.float64))
        # gather from the value, not the variable: a frozen graph holds no ResourceGather
        return tf.cast(fit(inputs, None), tf.float64) + tf.gather(tf.identity(bias), atype_flat)
