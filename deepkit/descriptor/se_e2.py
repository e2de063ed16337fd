"""se_e2_a and se_e2_r: smooth two-body embedding descriptors (DESIGN.md)."""

from __future__ import annotations

import numpy as np

from deepkit import ops
from deepkit.data.stats import env_mat_stats
from deepkit.descriptor.base import Descriptor, register
from deepkit.model import names
from deepkit.nn.by_type import map_by_type
from deepkit.nn.layers import PRECISIONS, SeedSequence, constant_variable, embedding_net
from deepkit.tfenv import tf

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
        self.tables: dict | None = None  # net scope -> compress.table.Table when compressed

    def net_scopes(self) -> list[tuple[str, int | None, int]]:
        """(variable scope, centre type or None with type_one_side, neighbour type) of every
        embedding net."""
        centres = [None] if self.type_one_side else list(range(self.ntypes))
        return [
            (_scope(ti, t), ti, t) for ti in centres for t in range(self.ntypes) if self.sel[t] > 0
        ]

    def input_ranges(self, min_nbor_dist: float) -> dict[str, tuple[float, float]]:
        """[lower, upper] of each net's input, the normalised radial component
        (s - avg) / std, for s in [0, 1 / min_nbor_dist] (s(r) <= 1/r)."""
        begin = np.cumsum([0, *self.sel])
        s_max = 1.0 / min_nbor_dist
        excluded = self._pair_mask() == 0
        ranges = {}
        for scope, ti, t in self.net_scopes():
            centre = slice(None) if ti is None else slice(ti, ti + 1)
            avg = self.avg[centre, begin[t] : begin[t + 1], 0]
            std = self.std[centre, begin[t] : begin[t + 1], 0]
            lower, upper = float(np.min(-avg / std)), float(np.max((s_max - avg) / std))
            if excluded[centre, t].any():  # masked slots feed the net a zero
                lower, upper = min(lower, 0.0), max(upper, 0.0)
            ranges[scope] = (lower, upper)
        return ranges

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
        nlist, rij, max_count = ops.neighbor_list(coord, atype, box, self.rcut, self.sel)
        return self._from_neighbors(nlist, rij, max_count, atype, atype)

    def build_external(self, coord, atype, nloc, offsets, neighbors):
        nlist, rij, max_count = ops.external_neighbor_list(
            coord, atype, nloc, offsets, neighbors, self.rcut, self.sel
        )
        return self._from_neighbors(nlist, rij, max_count, atype, atype[:, :nloc])

    def _from_neighbors(self, nlist, rij, max_count, atype, centre_type):
        """Neighbour rows of the centres (the first nloc atoms) -> their descriptors."""
        with v1.variable_scope("descrpt_attr", reuse=v1.AUTO_REUSE):
            avg = constant_variable("t_avg", self.avg)
            std = constant_variable("t_std", self.std)
        assert avg.name.startswith(names.DESCRIPTOR_AVG) and std.name.startswith(
            names.DESCRIPTOR_STD
        )
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
        if self.tables is not None:
            self.env["table_overflow"] = self._table_overflow(em, centre_type)

        rows = tf.cast(tf.reshape(em, [-1, self.nnei, self.ncomp]), self.dtype)
        atype_flat = tf.reshape(centre_type, [-1])
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
            scope = _scope(centre_type, t)
            if self.tables is not None:
                part = self._tabulated(scope, radial_blocks[k], block, self.sel[t])
                total = part if total is None else total + part
                continue
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

    def _tabulated(self, scope, radial, block, nslots):
        """The compressed net's contribution: G^T R (kind a) or sum of G (kind r) straight
        from the table (ops.tabulate_fusion)."""
        table = self.tables[scope]
        x = tf.cast(tf.reshape(radial, [-1, nslots]), tf.float64)
        rows = tf.cast(block, tf.float64) if self.kind == "a" else tf.ones_like(x)[:, :, None]
        # Non-trainable variables rather than constants: checkpoints of a fine-tuned
        # compressed model then carry the tables, and freezing folds them back.
        with v1.variable_scope(f"{names.TABLE_PREFIX}/{scope}", reuse=v1.AUTO_REUSE):
            coefficients = constant_variable("table", table.coefficients)
            info = constant_variable("info", table.info)
        part = ops.tabulate_fusion(coefficients, info, x, rows)
        if self.kind == "r":
            part = tf.squeeze(part, axis=2)
        return tf.cast(part, self.dtype)

    def _table_overflow(self, em, atype):
        """(nf,) number of slots whose net input lies beyond its table (upper_ext)."""
        ext = np.full((self.ntypes, self.nnei), np.inf)
        begin = np.cumsum([0, *self.sel])
        excluded = self._pair_mask() == 0
        for scope, ti, t in self.net_scopes():
            for centre in range(self.ntypes) if ti is None else [ti]:
                if not excluded[centre, t]:
                    ext[centre, begin[t] : begin[t + 1]] = self.tables[scope].info[2]
        limit = tf.gather(tf.constant(ext), atype)  # (nf, nloc, nnei)
        beyond = tf.cast(em[..., 0] > limit, tf.int32)
        return tf.reduce_sum(beyond, axis=[1, 2])


def _scope(centre_type: int | None, neighbor_type: int) -> str:
    if centre_type is None:
        return f"filter_type_{neighbor_type}"
    return f"filter_type_{centre_type}_{neighbor_type}"


@register("se_e2_a")
class SeE2A(SmoothEdition):
    kind = "a"


@register("se_e2_r")
class SeE2R(SmoothEdition):
    kind = "r"
