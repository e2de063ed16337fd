"""What se_e2_a and se_e2_r share: keys, env-mat statistics, embedding nets per type
(pair), excluded type pairs and their compressed form (DESIGN.md "se_e2_a")."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from deepkit import ops
from deepkit.config.args import Arg, layer_widths, non_negative, one_of, positive, seed
from deepkit.descriptor.base import DescriptorOut, EnvMat, Tabulable
from deepkit.descriptor.normalised import NormalisedEnvMat
from deepkit.errors import InputError
from deepkit.nn.by_type import map_by_type
from deepkit.nn.layers import (
    ACTIVATIONS,
    PRECISIONS,
    embedding_net,
    net_seed,
    precision_dtype,
)
from deepkit.nn.slots import OccupiedSlots
from deepkit.tfenv import tf

_MAX_SEL = 65_536


def _sel(value) -> str | None:
    if isinstance(value, list):
        if not all(v >= 0 for v in value):
            return "every entry must be >= 0"
        if value and sum(value) == 0:
            return "leaves no neighbour slot: give at least one positive entry"
        # Each atom's slots cost ~100 doubles through the net: beyond this no machine copes.
        return None if sum(value) <= _MAX_SEL else f"more than {_MAX_SEL:,} slots in all"
    if value == "auto":
        return None
    if value.startswith("auto:"):
        try:
            return None if float(value[5:]) > 0 else "the auto:FACTOR factor must be positive"
        except ValueError:
            return "should be auto:FACTOR with a number, e.g. auto:1.1"
    return 'should be a list of ints, "auto" or "auto:FACTOR"'


def _exclude_types(value) -> str | None:
    return None if all(len(pair) == 2 for pair in value) else "every entry must be a pair of types"


def smooth_args() -> list[Arg]:
    """The keys of every smooth-edition descriptor (DeePMD-kit's names and defaults)."""
    return [
        Arg(
            "sel",
            "list[int]|str",
            "auto",
            "Neighbour slots per type within rcut; 'auto' or "
            "'auto:FACTOR' sets it from the data at training start (max count x FACTOR, "
            "default 1.1, rounded up to a multiple of 4)",
            check=_sel,
        ),
        Arg("rcut", "float", 6.0, "Cut-off radius, Angstrom", check=positive),
        Arg(
            "rcut_smth",
            "float",
            0.5,
            "Where the smooth switch starts, Angstrom (< rcut)",
            check=non_negative,
        ),
        Arg(
            "neuron",
            "list[int]",
            [10, 20, 40],
            "Widths of the embedding net layers",
            check=layer_widths,
        ),
        Arg(
            "activation_function",
            "str",
            "tanh",
            "Embedding net activation",
            check=one_of(*ACTIVATIONS),
        ),
        Arg(
            "resnet_dt", "bool", False, "Timestep-scaled residual connections in the embedding net"
        ),
        Arg(
            "type_one_side",
            "bool",
            False,
            "One embedding net per neighbour type (else per centre and neighbour type pair)",
        ),
        Arg(
            "precision",
            "str",
            "default",
            "Precision of the embedding nets (default: float64)",
            check=one_of(*PRECISIONS),
        ),
        Arg("trainable", "bool", True, "Whether the embedding nets are trained"),
        Arg("seed", "int|None", None, "Random seed of the initial parameters", check=seed),
        Arg(
            "exclude_types",
            "list[list[int]]",
            [],
            "Type pairs whose interaction is left out",
            check=_exclude_types,
        ),
        Arg("set_davg_zero", "bool", False, "Keep the env-mat average at zero"),
        Arg(
            "env_protection",
            "float",
            0.0,
            "Accepted for DeePMD-kit inputs; only 0 is supported",
            check=lambda v: None if v == 0 else "only 0 is supported",
        ),
    ]


def axis_neuron_arg() -> Arg:
    """`axis_neuron`: the columns M2 of the axis matrix of se_e2_a-style descriptors."""
    return Arg(
        "axis_neuron",
        "int",
        4,
        "Columns M2 of the axis matrix (sub-matrix of G)",
        alias=("n_axis_neuron",),
        check=positive,
    )


def check_cutoffs_and_exclusions(params: dict, ntypes: int, path: str) -> None:
    """rcut_smth below rcut and exclude_types within the type map; InputError at `path`."""
    if params["rcut_smth"] >= params["rcut"]:
        raise InputError(
            f"{path}.rcut_smth: must be smaller than rcut ({params['rcut']}), "
            f"got {params['rcut_smth']}"
        )
    for pair in params["exclude_types"]:
        if not all(0 <= t < ntypes for t in pair):
            raise InputError(f"{path}.exclude_types: {pair} has a type outside 0..{ntypes - 1}")


def largest_s(min_nbor_dist: float, rcut_smth: float, rcut: float) -> float:
    """The largest s(r) = switch(r) / r for r >= min_nbor_dist: s decreases with r, so its
    value at min_nbor_dist (DESIGN.md "se_e2_a" for the switch)."""
    if min_nbor_dist >= rcut:
        return 0.0
    u = max(min_nbor_dist - rcut_smth, 0.0) / (rcut - rcut_smth)
    return (u**3 * (-6 * u**2 + 15 * u - 10) + 1) / min_nbor_dist


class SmoothEmbedding(NormalisedEnvMat, Tabulable):
    """Per-slot rows R_ij (ncomp columns) of the environment matrix; an embedding net G of
    the radial column per (centre type, neighbour type), or per neighbour type with
    type_one_side. A subclass says how a type block's G and R combine (`pair_term`) and
    how the sum over blocks becomes the descriptor (`finish`)."""

    env_kind: str  # the env_mat op's kind: "a" (s, sx/r, sy/r, sz/r) or "r" (s)
    ncomp: int

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
    ):
        del env_protection  # validated to be 0 by the schema
        self.ntypes, self.sel, self.rcut, self.rcut_smth = ntypes, list(sel), rcut, rcut_smth
        self.neuron, self.activation, self.resnet_dt = list(neuron), activation_function, resnet_dt
        self.type_one_side, self.dtype = type_one_side, precision_dtype(precision)
        self.trainable, self.seed = trainable, seed
        self.exclude_types = [tuple(p) for p in exclude_types]
        self.set_davg_zero = set_davg_zero
        self.nnei = sum(self.sel)
        self.avg = np.zeros((ntypes, self.nnei, self.ncomp))
        self.std = np.ones((ntypes, self.nnei, self.ncomp))
        self.tables = None

    @classmethod
    def check(cls, params: dict, ntypes: int, path: str) -> None:
        check_cutoffs_and_exclusions(params, ntypes, path)
        sel = params["sel"]
        if isinstance(sel, list) and len(sel) != ntypes:
            raise InputError(f"{path}.sel: {len(sel)} entries for {ntypes} types in model.type_map")

    # -- the subclass's part -------------------------------------------------------------
    @abstractmethod
    def pair_term(self, g, block):
        """g (n, sel_t, M1) of one neighbour type's slots, block (n, sel_t, ncomp) their
        rows -> that type's contribution to the sum over slots."""

    def slot_term(self, g, rows, count):
        """pair_term from the occupied slots alone, stored one after the other: g (K, M1)
        and rows (K, ncomp), count (n,) slots per centre. G^T R (n, M1, ncomp) here; a
        descriptor whose pair_term is another sum overrides it."""
        return ops.slot_contract(g, rows, count)

    @abstractmethod
    def table_term(self, coefficients, info, x, block):
        """The same contribution from a compressed net's table (ops.tabulate_fusion)."""

    @abstractmethod
    def finish(self, total):
        """The sum over slots / nnei -> descriptors (n, dim_out)."""

    def rotation(self, total):
        """The sum over slots / nnei -> rotation matrices (n, M, 3), for descriptors whose
        rot_mat_width() is not None."""
        raise NotImplementedError

    # -- contract --------------------------------------------------------------------------
    def net_scopes(self) -> list[str]:
        return [scope for scope, _, _ in self._nets()]

    def net_spec(self, scope: str) -> tuple[list[int], str, bool]:
        del scope  # every net of a smooth descriptor has the same layers
        return list(self.neuron), self.activation, self.resnet_dt

    def input_ranges(self, min_nbor_dist: float) -> dict[str, tuple[float, float]]:
        """[lower, upper] of each net's input, the normalised radial component
        (s - avg) / std, for s in [0, 1 / min_nbor_dist] (s(r) <= 1/r)."""
        begin = np.cumsum([0, *self.sel])
        s_max = 1.0 / min_nbor_dist
        excluded = self._pair_mask() == 0
        ranges = {}
        for scope, ti, t in self._nets():
            centre = slice(None) if ti is None else slice(ti, ti + 1)
            avg = self.avg[centre, begin[t] : begin[t + 1], 0]
            std = self.std[centre, begin[t] : begin[t + 1], 0]
            lower, upper = float(np.min(-avg / std)), float(np.max((s_max - avg) / std))
            if excluded[centre, t].any():  # masked slots feed the net a zero
                lower, upper = min(lower, 0.0), max(upper, 0.0)
            ranges[scope] = (lower, upper)
        return ranges

    def build(self, coord, atype, box) -> DescriptorOut:
        nlist, rij, max_count = ops.neighbor_list(coord, atype, box, self.rcut, self.sel)
        return self._from_neighbors(nlist, rij, max_count, atype, atype)

    def build_external(self, coord, atype, nloc, offsets, neighbors) -> DescriptorOut:
        nlist, rij, max_count = ops.external_neighbor_list(
            coord, atype, nloc, offsets, neighbors, self.rcut, self.sel
        )
        return self._from_neighbors(nlist, rij, max_count, atype, atype[:, :nloc])

    # -- the graph -------------------------------------------------------------------------
    def _nets(self) -> list[tuple[str, int | None, int]]:
        """(variable scope, centre type or None with type_one_side, neighbour type) of every
        embedding net."""
        centres = [None] if self.type_one_side else list(range(self.ntypes))
        return [
            (self._scope(ti, t), ti, t)
            for ti in centres
            for t in range(self.ntypes)
            if self.sel[t] > 0
        ]

    def _scope(self, centre_type: int | None, neighbor_type: int) -> str:
        if centre_type is None:
            return f"{self.scope}filter_type_{neighbor_type}"
        return f"{self.scope}filter_type_{centre_type}_{neighbor_type}"

    def _net_seed(self, centre_type: int | None, neighbor_type: int) -> int | None:
        """A net's seed in DeePMD-kit's order: (centre, neighbour) type pairs in turn, or
        neighbour types with type_one_side; an excluded pair has no net there, so here
        its (unused) net draws past the others."""
        if centre_type is None:
            return net_seed(self.seed, neighbor_type, len(self.neuron))
        excluded = self._pair_mask() == 0
        pairs = [(a, b) for a in range(self.ntypes) for b in range(self.ntypes)]
        built = [p for p in pairs if not excluded[p]]
        pair = (centre_type, neighbor_type)
        index = built.index(pair) if pair in built else len(built) + pairs.index(pair)
        return net_seed(self.seed, index, len(self.neuron))

    def _pair_mask(self) -> np.ndarray:
        """(ntypes, ntypes) 0 for excluded (centre, neighbour) type pairs, else 1."""
        mask = np.ones((self.ntypes, self.ntypes))
        for a, b in self.exclude_types:
            mask[a, b] = mask[b, a] = 0.0
        return mask

    def _from_neighbors(self, nlist, rij, max_count, atype, centre_type) -> DescriptorOut:
        """Neighbour rows of the centres (the first nloc atoms) -> their descriptors."""
        avg, std = self._statistics()
        em, em_deriv = ops.env_mat(
            rij, nlist, atype, avg, std, self.rcut_smth, self.rcut, self.env_kind
        )
        env = EnvMat(em, em_deriv, rij, nlist, max_count, tuple(self.sel))
        overflow = self._table_overflow(em, centre_type) if self.tables is not None else None

        rows = tf.cast(tf.reshape(em, [-1, self.nnei, self.ncomp]), self.dtype)
        atype_flat = tf.reshape(centre_type, [-1])
        rows = self._excluded_zero(rows, atype_flat)
        occupied = tf.reshape(nlist >= 0, [-1, self.nnei])
        d, rot_mat = self._split_rot_mat(self._per_atom(rows, atype_flat, occupied))
        return DescriptorOut(d, (env,), overflow, rot_mat=rot_mat, per_atom=self._from_em)

    def _from_em(self, ems, nlists, atype_flat):
        """DescriptorOut.per_atom: em rows (c, nnei * ncomp) and neighbour lists (c, nnei) of
        c centres -> (c, dim_out)."""
        (em,), (nlist,) = ems, nlists
        rows = tf.cast(tf.reshape(em, [-1, self.nnei, self.ncomp]), self.dtype)
        rows = self._excluded_zero(rows, atype_flat)
        occupied = tf.reshape(nlist >= 0, [-1, self.nnei])
        return self._split_rot_mat(self._per_atom(rows, atype_flat, occupied))[0]

    def _per_atom(self, rows, atype_flat, occupied):
        """rows (n, nnei, ncomp) of n centres of types atype_flat, occupied (n, nnei) their
        filled slots -> what _contract gives."""
        if self.type_one_side:
            return self._contract(rows, None, occupied, atype_flat)
        # one net per (centre type, neighbour type): split atoms by type, stitch back
        return map_by_type(
            (rows, occupied),
            atype_flat,
            self.ntypes,
            lambda rows_t, occupied_t, t: self._contract(rows_t, t, occupied_t, None),
        )

    def _split_rot_mat(self, d):
        """(d, rotation matrix (n, width, 3) float64) of _contract's output, which carries the
        rotation matrix after d where the descriptor has one (one stitch for both)."""
        width = self.rot_mat_width()
        if width is None:
            return d, None
        d, rot = tf.split(d, [self.dim_out, 3 * width], axis=1)
        return d, tf.reshape(tf.cast(rot, tf.float64), [-1, width, 3])

    def _excluded_zero(self, rows, atype_flat):
        """rows (n, nnei, ncomp) with the slots of excluded type pairs zeroed."""
        if not self.exclude_types:
            return rows
        pair_mask = tf.gather(tf.constant(self._pair_mask(), rows.dtype), atype_flat)
        slot_type = np.repeat(np.arange(self.ntypes), self.sel)
        slot_mask = tf.gather(pair_mask, slot_type, axis=1)  # (n, nnei)
        return rows * slot_mask[:, :, None]

    def _contract(self, rows, centre_type, occupied, atype_flat):
        """rows (n, nnei, ncomp), occupied (n, nnei) -> descriptors (n, dim_out); the
        centres are of centre_type, or of types atype_flat when it is None."""
        total = None
        # tf.split rather than slices: its gradient is one concat instead of padded sums.
        kept = [s for s in self.sel if s > 0]
        blocks = tf.split(rows, kept, axis=1)
        radial = tf.split(rows, [1, self.ncomp - 1], axis=2)[0] if self.ncomp > 1 else rows
        radial_blocks = tf.split(radial, kept, axis=1)
        occupied_blocks = tf.split(occupied, kept, axis=1)
        for t in range(self.ntypes):
            if self.sel[t] == 0:
                continue
            k = sum(1 for s in self.sel[:t] if s > 0)
            scope = self._scope(centre_type, t)
            if self.tables is not None:
                part = self._tabulated(scope, radial_blocks[k], blocks[k], self.sel[t])
            else:
                part = self._embedded(
                    radial_blocks[k], blocks[k], occupied_blocks[k], centre_type, atype_flat, t
                )
            total = part if total is None else total + part
        total = total / self.nnei
        if self.rot_mat_width() is None:
            return self.finish(total)
        rot = tf.reshape(self.rotation(total), [-1, 3 * self.rot_mat_width()])
        return tf.concat([self.finish(total), rot], axis=1)

    def _embedded(self, radial, block, occupied, centre_type, atype_flat, t):
        """pair_term of neighbour type t's slots, the net run on their occupied slots only.

        Every empty slot of a centre holds the row e0 = (0 - avg) / std of its type and slot,
        and slots fill nearest first, so a centre with c occupied slots has the empty ones
        c .. sel_t - 1: their share is row c of a suffix sum of pair_term(G(e0), e0) over
        the slots, per centre type (a table of sel_t + 1 rows, through the same net)."""
        nslots, m1 = self.sel[t], self.neuron[-1]
        centres = list(range(self.ntypes)) if centre_type is None else [centre_type]
        pair_mask = self._pair_mask()[centres, t]  # excluded pairs: zero rows, no slots
        if centre_type is None:
            if not pair_mask.all():
                kept = tf.gather(tf.constant(pair_mask > 0), atype_flat)
                occupied = tf.logical_and(occupied, kept[:, None])
        elif not pair_mask.all():
            occupied = tf.zeros_like(occupied)

        def net(x):
            return embedding_net(
                x,
                self.neuron,
                self.activation,
                self.resnet_dt,
                self._net_seed(centre_type, t),
                self.dtype,
                self.trainable,
                self._scope(centre_type, t),
            )

        slots = OccupiedSlots(tf.reshape(occupied, [-1]))
        g = net(slots.compact(tf.reshape(radial, [-1, 1])))
        count = tf.reduce_sum(tf.cast(occupied, tf.int32), axis=1)
        if ops.gpu_present():  # no CUDA slot_contract: G back in every slot, zero if empty
            part = self.pair_term(tf.reshape(slots.expand(g), [-1, nslots, m1]), block)
        else:
            part = self.slot_term(g, slots.compact(tf.reshape(block, [-1, self.ncomp])), count)

        empty = self._empty_rows(centres, t, pair_mask)  # (centres, nslots, ncomp)
        g_empty = net(tf.reshape(empty[:, :, :1], [-1, 1]))
        per_slot = self.pair_term(
            tf.reshape(g_empty, [-1, 1, m1]), tf.reshape(empty, [-1, 1, self.ncomp])
        )
        width = int(np.prod(per_slot.shape[1:]))
        per_slot = tf.reshape(per_slot, [len(centres), nslots, width])
        suffix = tf.pad(tf.cumsum(per_slot, axis=1, reverse=True), [[0, 0], [0, 1], [0, 0]])
        row = count if centre_type is not None else atype_flat * (nslots + 1) + count
        share = tf.gather(tf.reshape(suffix, [-1, width]), row)
        return part + tf.reshape(share, [-1, *part.shape[1:]])

    def _empty_rows(self, centres, t, pair_mask):
        """The rows env_mat writes into neighbour type t's empty slots, (0 - avg) * (1 / std)
        as the op computes them, per centre type in `centres`; zero for excluded pairs."""
        avg, std = self._statistics()
        begin = sum(self.sel[:t])
        avg = tf.gather(avg[:, begin : begin + self.sel[t]], centres)
        std = tf.gather(std[:, begin : begin + self.sel[t]], centres)
        rows = (0.0 - avg) * (1.0 / std) * pair_mask[:, None, None]
        return tf.cast(rows, self.dtype)

    def _tabulated(self, scope, radial, block, nslots):
        """A compressed net's contribution straight from its table (ops.tabulate_fusion)."""
        coefficients, info = self.table_variables(scope)
        x = tf.cast(tf.reshape(radial, [-1, nslots]), tf.float64)
        part = self.table_term(coefficients, info, x, tf.cast(block, tf.float64))
        return tf.cast(part, self.dtype)

    def _table_overflow(self, em, atype):
        """(nf,) number of slots whose net input lies beyond its table (upper_ext)."""
        ext = np.full((self.ntypes, self.nnei), np.inf)
        begin = np.cumsum([0, *self.sel])
        excluded = self._pair_mask() == 0
        for scope, ti, t in self._nets():
            for centre in range(self.ntypes) if ti is None else [ti]:
                if not excluded[centre, t]:
                    ext[centre, begin[t] : begin[t + 1]] = self.tables[scope].info[2]
        limit = tf.gather(tf.constant(ext), atype)  # (nf, nloc, nnei)
        beyond = tf.cast(em[..., 0] > limit, tf.int32)
        return tf.reduce_sum(beyond, axis=[1, 2])
