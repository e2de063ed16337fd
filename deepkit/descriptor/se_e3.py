"""se_e3 (DeePMD-kit's se_t): three-body embedding over the angles between neighbour pairs.

From the normalised se_e2_a rows R_ij = (s, s x/r, s y/r, s z/r) of centre i, for every pair
of neighbour types a <= b the angle term of two neighbours is the dot product of their
normalised xyz parts, theta_jk = R_ij[1:] . R_ik[1:] (j of type a, k of type b, every
ordered pair of slots, j = k included), and

    D_i = sum_{a <= b} 1 / (sel_a sel_b) sum_{j in a, k in b} theta_jk G_ab(theta_jk),

G_ab an embedding net per neighbour type pair (the centre's type does not choose it), so
dim_out = neuron[-1]. Forces come from the same environment matrix as se_e2_a's."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from deepkit import ops
from deepkit.config.args import Group
from deepkit.descriptor.smooth import SmoothEmbedding, largest_s, smooth_args
from deepkit.nn.layers import embedding_net, net_seed
from deepkit.registry import DESCRIPTORS
from deepkit.tfenv import tf


@DESCRIPTORS.register
class SeE3(SmoothEmbedding):
    """se_e3: an embedding of the angle term of every neighbour pair, contracted with it."""

    name = "se_e3"
    aliases = ("se_t", "se_at", "se_a_3be")
    doc = "smooth edition, three-body embedding of the angles between neighbour pairs"
    example: ClassVar[dict] = {
        "sel": [20, 20],
        "rcut": 4.0,
        "rcut_smth": 1.0,
        "neuron": [2, 4],
        "seed": 1,
    }
    # DeePMD-kit's se_t keys: those of se_e2_r but type_one_side (its nets never depend on
    # the centre's type).
    schema = Group([arg for arg in smooth_args() if arg.name != "type_one_side"])
    env_kind, ncomp = "a", 4

    def __init__(self, **keys):
        super().__init__(type_one_side=True, **keys)

    @property
    def dim_out(self) -> int:
        return self.neuron[-1]

    # -- the nets: one per neighbour type pair a <= b -----------------------------------------
    def _nets(self):
        kept = [t for t in range(self.ntypes) if self.sel[t] > 0]
        return [
            (f"{self.scope}filter_pair_{a}_{b}", None, (a, b)) for a in kept for b in kept if a <= b
        ]

    def input_ranges(self, min_nbor_dist: float) -> dict[str, tuple[float, float]]:
        """theta = R_j[1:] . R_k[1:] with |R_j[1:]| <= (s_max + |avg_j[1:]|) / min std_j[1:],
        s_max = s(min_nbor_dist) with its switch (as DeePMD-kit bounds se_t: the xyz std
        of a short cut-off is small, so 1 / min_nbor_dist would make tables far too wide):
        symmetric bounds, the larger over centre types."""
        begin = np.cumsum([0, *self.sel])
        s_max = largest_s(min_nbor_dist, self.rcut_smth, self.rcut)

        def reach(t):  # (ntypes,) largest |normalised xyz| of a type-t slot per centre type
            block = slice(begin[t], begin[t + 1])
            shift = np.linalg.norm(self.avg[:, block, 1:], axis=-1).max(axis=1)
            return (s_max + shift) / self.std[:, block, 1:].min(axis=(1, 2))

        ranges = {}
        for scope, _, (a, b) in self._nets():
            bound = float(np.max(reach(a) * reach(b)))
            ranges[scope] = (-bound, bound)
        return ranges

    # -- the graph -----------------------------------------------------------------------------
    def _angles(self, rows, distinct: bool = False):
        """rows (n, nnei, 4) -> {(a, b): theta (n, sel_a * sel_b)} for every net's pair;
        distinct: for a == b, where theta is symmetric, each unordered pair of slots once
        (the upper triangle, diagonal included: (n, sel_a (sel_a + 1) / 2))."""
        kept = [s for s in self.sel if s > 0]
        xyz = tf.split(tf.split(rows, [1, 3], axis=2)[1], kept, axis=1)
        index = {t: sum(1 for s in self.sel[:t] if s > 0) for t in range(self.ntypes)}
        angles = {}
        for _, _, (a, b) in self._nets():
            theta = ops.matmul(xyz[index[a]], xyz[index[b]], transpose_b=True)
            theta = tf.reshape(theta, [-1, self.sel[a] * self.sel[b]])
            if distinct and a == b:
                theta = tf.gather(theta, _upper_triangle(self.sel[a])[0], axis=1)
            angles[a, b] = theta
        return angles

    def _pair_weights(self, a: int, b: int) -> np.ndarray | float:
        """How often each column of _angles(distinct=True) occurs among the ordered pairs:
        2 off the diagonal of a same-type block (theta_jk = theta_kj), else 1."""
        return _upper_triangle(self.sel[a])[1] if a == b else 1.0

    def _contract(self, rows, centre_type, occupied, atype_flat):
        del centre_type, occupied, atype_flat  # one set of nets for every centre
        # Same-type blocks run the net over each unordered pair once (a third less work
        # for water's sel), the off-diagonal terms weighted 2.
        angles, total = self._angles(rows, distinct=True), None
        # DeePMD-kit's seed order: every pair a <= b of types in turn
        pairs = [(a, b) for a in range(self.ntypes) for b in range(a, self.ntypes)]
        for scope, _, (a, b) in self._nets():
            theta, nterms = angles[a, b], self.sel[a] * self.sel[b]
            nslots = int(theta.shape[1])
            block = theta[:, :, None] * tf.constant(
                np.reshape(self._pair_weights(a, b), (1, -1, 1)), theta.dtype
            )
            if self.tables is not None:
                part = self._tabulated(scope, theta, block, nslots)
            else:
                g = embedding_net(
                    tf.reshape(theta, [-1, 1]),
                    self.neuron,
                    self.activation,
                    self.resnet_dt,
                    net_seed(self.seed, pairs.index((a, b)), len(self.neuron)),
                    self.dtype,
                    self.trainable,
                    scope,
                )
                g = tf.reshape(g, [-1, nslots, self.neuron[-1]])
                part = self.pair_term(g, block)
            part = part / float(nterms)  # DeePMD-kit's normalisation, per type pair
            total = part if total is None else total + part
        return self.finish(total)

    def pair_term(self, g, block):
        return ops.matmul(g, block, transpose_a=True)  # sum_jk G(theta) theta: (n, M, 1)

    def table_term(self, coefficients, info, x, block):
        return ops.tabulate_fusion(coefficients, info, x, block)

    def finish(self, total):
        return tf.reshape(total, [-1, self.dim_out])

    def _table_overflow(self, em, atype):
        """(nf,) number of angle terms beyond their tables."""
        nf = tf.shape(em)[0]
        rows = self._excluded_zero(tf.reshape(em, [-1, self.nnei, 4]), tf.reshape(atype, [-1]))
        beyond = []
        for (a, b), theta in self._angles(rows).items():
            lower, _, upper_ext = self.tables[self._nets_by_pair()[a, b]].info[:3]
            outside = tf.logical_or(theta > upper_ext, theta < lower)
            beyond.append(tf.reduce_sum(tf.reshape(tf.cast(outside, tf.int32), [nf, -1]), 1))
        return tf.add_n(beyond)

    def _nets_by_pair(self) -> dict:
        return {pair: scope for scope, _, pair in self._nets()}


def _upper_triangle(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the upper triangle (diagonal included) of a size x size block, and
    how often each stands for an ordered pair: 1 on the diagonal, 2 off it."""
    upper = np.triu(np.ones((size, size), bool))
    return np.flatnonzero(upper), (2.0 * upper - np.eye(size))[upper]
