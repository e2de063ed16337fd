"""se_e2_a and se_e2_r: smooth two-body embedding descriptors (DESIGN.md)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from deepkit import ops
from deepkit.data.stats import env_mat_stats
from deepkit.descriptor.base import Descriptor, register
from deepkit.model import names
from deepkit.nn.by_type import map_by_type
from deepkit.nn.layers import PRECISIONS, SeedSequence, embedding_net

v1 = tf.compat.v1


class SmoothEdition(Descriptor):
    """Shared by se_e2_a (kind "a": T = G^T R / Nnei, D = T T<^T) and se_e2_r (kind "r":
    D = mean of G over the slots)."""

    kind = "a"

    def __init__(
        self,
        *,
        ntypes,
        sel,
        rcut,
        rcut_smth,
        neuron,
        activation_function,
        resnet_dt,
        type_one_side,
        precision,
        trainable,
        seed,
        exclude_types,
        set_davg_zero,
        env_protection,
        axis_neuron=None,
    ):
        del env_protection  # validated to be 0 by the schema
        self.ntypes, self.sel, self.rcut, self.rcut_smth = ntypes, list(sel), rcut, rcut_smth
        self.neuron, self.activation, self.resnet_dt = list(neuron), activation_function, resnet_dt
        self.type_one_side, self.dtype = type_one_side, PRECISIONS[precision]
        self.trainable, self.seed, self.axis_neuron = trainable, seed, axis_neuron
        self.exclude_types = [tuple(p) for p in exclude_types]
        self.set_davg_zero = set_davg_zero
        self.ncomp = 4 if self.kind == "a" else 1
        self.nnei = sum(self.sel)
        self.avg = np.zeros((ntypes, self.nnei, self.ncomp))
        self.std = np.ones((ntypes, self.nnei, self.ncomp))
        self.env: dict = {}

    @property
    def dim_out(self) -> int:
        m1 = self.neuron[-1]
        return m1 * self.axis_neuron if self.kind == "a" else m1

    def compute_input_stats(self, systems, type_map, max_frames, protect):
        self.avg, self.std = env_mat_stats(
            systems,
            type_map,
            self.rcut,
            self.rcut_smth,
            self.sel,
            self.kind,
            max_frames=max_frames,
            protect=protect,
            set_davg_zero=self.set_davg_zero,
        )

    def _pair_mask(self) -> np.ndarray:
        """(ntypes, ntypes) 0 for excluded (centre, neighbour) type pairs, else 1."""
        mask = np.ones((self.ntypes, self.ntypes))
        for a, b in self.exclude_types:
            mask[a, b] = mask[b, a] = 0.0
        return mask

    def build(self, coord, atype, box):
        with v1.variable_scope("descrpt_attr", reuse=v1.AUTO_REUSE):
            avg = v1.get_variable("t_avg", initializer=tf.constant(self.avg), trainable=False)
            std = v1.get_variable("t_std", initializer=tf.constant(self.std), trainable=False)
        assert avg.name.startswith(names.DESCRIPTOR_AVG) and std.name.startswith(
            names.DESCRIPTOR_STD
        )
        nlist, rij, max_count = ops.neighbor_list(coord, atype, box, self.rcut, self.sel)
        em, em_deriv = ops.env_mat(
            rij, nlist, atype, avg, std, self.rcut_smth, self.rcut, self.kind
        )
        self.env = {
            "em": em,
            "em_deriv": em_deriv,
            "rij": rij,
            "nlist": nlist,
            "max_count": max_count,
        }

        rows = tf.cast(tf.reshape(em, [-1, self.nnei, self.ncomp]), self.dtype)
        atype_flat = tf.reshape(atype, [-1])
        if self.exclude_types:
            pair_mask = tf.gather(tf.constant(self._pair_mask(), self.dtype), atype_flat)
            slot_type = np.repeat(np.arange(self.ntypes), self.sel)
            slot_mask = tf.gather(pair_mask, slot_type, axis=1)  # (n, nnei)
            rows = rows * slot_mask[:, :, None]
        if self.type_one_side:
            return self._contract(rows, None)
        # One net per (centre type, neighbour type): split the atoms by type and stitch back.
        return map_by_type(rows, atype_flat, self.ntypes, self._contract)

    def _contract(self, rows, centre_type):
        """rows (n, nnei, ncomp) -> descriptors (n, dim_out)."""
        seeds = SeedSequence(self.seed)
        m1, total = self.neuron[-1], None
        # tf.split rather than slices: its gradient is one concat instead of padded sums.
        kept = [s for s in self.sel if s > 0]
        blocks = tf.split(rows, kept, axis=1)
        radial = tf.split(rows, [1, self.ncomp - 1], axis=2)[0] if self.ncomp > 1 else rows
        radial_blocks = tf.split(radial, kept, axis=1)
        for t in range(self.ntypes):
            if self.sel[t] == 0:
                continue
            k = sum(1 for s in self.sel[:t] if s > 0)
            block = blocks[k]
            scope = f"filter_type_{t}" if centre_type is None else f"filter_type_{centre_type}_{t}"
            g = embedding_net(
                tf.reshape(radial_blocks[k], [-1, 1]),
                self.neuron,
                self.activation,
                self.resnet_dt,
                seeds,
                self.dtype,
                self.trainable,
                scope,
            )
            g = tf.reshape(g, [-1, self.sel[t], m1])
            part = (
                ops.matmul(g, block, transpose_a=True)
                if self.kind == "a"
                else tf.reduce_sum(g, axis=1)
            )
            total = part if total is None else total + part
        total = total / self.nnei
        if self.kind == "r":
            return total
        # D = T T<^T: (n, M1, 4) x (n, 4, M2) -> (n, M1 * M2)
        d = ops.matmul(total, total[:, : self.axis_neuron, :], transpose_b=True)
        return tf.reshape(d, [-1, m1 * self.axis_neuron])


@register("se_e2_a")
class SeE2A(SmoothEdition):
    kind = "a"


@register("se_e2_r")
class SeE2R(SmoothEdition):
    kind = "r"
