"""Energy fitting: one net per atom type maps each descriptor to an atomic energy."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from deepkit.nn.layers import PRECISIONS, SeedSequence, fitting_net


class EnergyFitting:
    """E_i = N_fit^{type_i}(D_i) + bias[type_i] (the bias starts the final layer's bias)."""

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
        if numb_fparam or numb_aparam:
            from deepkit.errors import InputError

            raise InputError(
                "model.fitting_net.numb_fparam/numb_aparam: frame and atomic "
                "parameters are not supported by deepkit yet"
            )
        self.ntypes, self.neuron, self.activation = ntypes, list(neuron), activation_function
        self.dtype, self.resnet_dt, self.trainable = PRECISIONS[precision], resnet_dt, trainable
        self.rcond, self.seed, self.atom_ener = rcond, seed, atom_ener
        self.bias = np.zeros(ntypes)

    def compute_energy_bias(self, systems, type_map) -> None:
        from deepkit.data.stats import energy_bias

        self.bias = energy_bias(systems, type_map, rcond=self.rcond)
        for t, value in enumerate(self.atom_ener):
            if value is not None:
                self.bias[t] = value

    def build(self, descriptor, atype_flat):
        """descriptor (n, dim), atype_flat (n,) -> atomic energies (n,) float64."""
        descriptor = tf.cast(descriptor, self.dtype)
        index = tf.range(tf.shape(atype_flat)[0])
        parts = tf.dynamic_partition(descriptor, atype_flat, self.ntypes)
        places = tf.dynamic_partition(index, atype_flat, self.ntypes)
        energies = []
        for t in range(self.ntypes):
            seeds = SeedSequence(None if self.seed is None else self.seed + 1000 * t)
            energies.append(
                fitting_net(
                    parts[t],
                    self.neuron,
                    self.activation,
                    self.resnet_dt,
                    seeds,
                    self.dtype,
                    self.trainable,
                    float(self.bias[t]),
                    f"fitting_type_{t}",
                )
            )
        return tf.cast(tf.dynamic_stitch(places, energies), tf.float64)
