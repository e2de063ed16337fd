"""se_atten (DPA-1) and se_atten_v2: one embedding net for every type, fed the type
embedding, over the `sel` nearest neighbours of any type, refined by self-attention
between a centre's neighbours (DeePMD-kit's TensorFlow se_atten; Zhang et al., npj Comput.
Mater. 10, 94, 2024).

Per centre i with slots j (type-blind list, nearest first):
  G_ij = N(s_ij, t_j[, t_i])              tebd_input_mode "concat"
  G_ij = N(s_ij) (1 + w_ij N2(t_j, t_i))  "strip", w_ij the smooth weight when smooth
  attn_layer times: G <- LayerNorm(G + A(G) V(G) W_out), A the softmax of normalised
  query-key products (masked, or smoothly weighted), times r^_j . r^_k with attn_dotr;
  T = G^T R / sel, D = T T<^T (as se_e2_a), the centre's type vector appended.
The type embedding is `model.type_embedding` when given, else a linear one of width
tebd_dim. smooth_type_embedding (se_atten_v2) makes energies continuous as neighbours cross
rcut; without it the attention renormalises when a neighbour enters, as in DeePMD-kit."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from deepkit import ops
from deepkit.config.args import Arg, Group, non_negative, one_of, positive
from deepkit.config.type_embedding import type_embedding_args
from deepkit.descriptor.base import DescriptorOut, EnvMat, Tabulable
from deepkit.descriptor.normalised import NormalisedEnvMat
from deepkit.descriptor.smooth import axis_neuron_arg, check_cutoffs_and_exclusions, smooth_args
from deepkit.nn.layers import (
    SeedSequence,
    dense,
    embedding_net,
    layer_norm,
    precision_dtype,
)
from deepkit.nn.type_embedding import TypeEmbedding
from deepkit.registry import DESCRIPTORS
from deepkit.tfenv import tf, v1

_OWN_TEBD_SEED_OFFSET = 1_000_000
# DeePMD-kit's shift of smoothly weighted attention scores: a slot of weight 0 scores -20,
# the same whether it is empty or holds an atom just inside rcut, so entering is smooth.
_SMOOTH_SHIFT = 20.0
_MASKED = -float(2 << 32)


def _sel(value) -> str | None:
    if isinstance(value, int):
        return None if value > 0 else "must be positive"
    if isinstance(value, list):
        return None if value and sum(value) > 0 and min(value) >= 0 else "needs a positive sum"
    if value == "auto" or value.startswith("auto:"):
        return None
    return 'should be an int, a list of ints, "auto" or "auto:FACTOR"'


def _only(expected, backend_note: str = "as DeePMD-kit's TensorFlow backend"):
    def check(value) -> str | None:
        return None if value == expected else f"only {expected!r} is supported ({backend_note})"

    return check


def _common_args(set_davg_zero: bool) -> list[Arg]:
    """The keys se_atten and se_atten_v2 share (DeePMD-kit's names and defaults)."""
    kept = {
        arg.name: arg
        for arg in smooth_args()
        if arg.name not in ("sel", "set_davg_zero", "type_one_side")
    }
    return [
        Arg(
            "sel",
            "int|list[int]|str",
            "auto",
            "Neighbour slots of any type (a list counts its sum); 'auto' or 'auto:FACTOR' "
            "sets it from the data at training start",
            check=_sel,
        ),
        *kept.values(),
        axis_neuron_arg(),
        Arg(
            "type_one_side",
            "bool",
            False,
            "The embedding net sees the neighbour's type only (else the centre's too; concat mode)",
        ),
        Arg("set_davg_zero", "bool", set_davg_zero, "Keep the env-mat average at zero"),
        Arg("attn", "int", 128, "Width of the attention's query, key and value", check=positive),
        Arg("attn_layer", "int", 2, "Attention layers (0: none)", check=non_negative),
        Arg("attn_dotr", "bool", True, "Gate the attention weights by r^_j . r^_k"),
        Arg("attn_mask", "bool", False, "Zero the attention of a slot with itself"),
        Arg("trainable_ln", "bool", True, "Whether the layer norms' scale and shift train"),
        Arg("ln_eps", "float|None", None, "Layer norm epsilon (None: 1e-3)", check=positive),
        Arg(
            "tebd_dim",
            "int",
            8,
            "Width of the type embedding made without model.type_embedding",
            check=positive,
        ),
        Arg(
            "use_econf_tebd",
            "bool",
            False,
            "Start the type embedding made here from each element's electronic "
            "configuration instead of a one-hot vector (needs model.type_map of elements)",
        ),
        Arg("use_tebd_bias", "bool", False, "Biases in the type embedding made here"),
        Arg("scaling_factor", "float", 1.0, "Attention scaling", check=_only(1.0)),
        Arg("normalize", "bool", True, "Normalise query, key and value", check=_only(True)),
        Arg("temperature", "float|None", None, "Attention temperature", check=_only(None)),
        Arg(
            "concat_output_tebd",
            "bool",
            True,
            "Append the centre's type vector to the descriptor",
            check=_only(True),
        ),
    ]


@DESCRIPTORS.register
class SeAtten(NormalisedEnvMat, Tabulable):
    """se_atten: type-embedded embedding net over a type-blind list, with attention."""

    name = "se_atten"
    aliases = ("dpa1",)
    type_blind = True
    env_kind = "a"
    doc = "attention-based descriptor DPA-1 over a type-blind neighbour list (many elements)"
    schema = Group(
        [
            *_common_args(set_davg_zero=True),
            Arg(
                "tebd_input_mode",
                "str",
                "concat",
                "concat: the type vectors join the net's input; strip: a second net of "
                "the type vectors scales the radial net's output",
                check=one_of("concat", "strip"),
            ),
            Arg(
                "stripped_type_embedding",
                "bool|None",
                None,
                "Older name of tebd_input_mode strip (True) or concat (False)",
            ),
            Arg(
                "smooth_type_embedding",
                "bool",
                False,
                "Weight attention and strip type terms by a switch that vanishes at rcut",
                alias=("smooth_type_embdding",),
            ),
        ],
        unsupported={"lmax": ""},
    )
    example: ClassVar[dict] = {
        "sel": 30,
        "rcut": 4.0,
        "rcut_smth": 1.0,
        "neuron": [4, 8],
        "axis_neuron": 2,
        "attn": 6,
        "attn_layer": 1,
        "seed": 1,
    }

    def __init__(
        self,
        *,
        ntypes,
        sel,
        rcut,
        rcut_smth,
        neuron,
        axis_neuron,
        activation_function,
        resnet_dt,
        type_one_side,
        precision,
        trainable,
        seed,
        exclude_types,
        set_davg_zero,
        env_protection,
        attn,
        attn_layer,
        attn_dotr,
        attn_mask,
        trainable_ln,
        ln_eps,
        tebd_dim,
        use_econf_tebd,
        use_tebd_bias,
        scaling_factor,
        normalize,
        temperature,
        concat_output_tebd,
        tebd_input_mode="strip",
        stripped_type_embedding=None,
        smooth_type_embedding=True,
        type_embedding=None,
        type_map=None,
    ):
        # validated to their only values by the schema
        del env_protection, scaling_factor, normalize, temperature, concat_output_tebd
        self.ntypes, self.rcut, self.rcut_smth = ntypes, rcut, rcut_smth
        self.nnei = sum(sel) if isinstance(sel, list) else int(sel)
        self.sel = [self.nnei]
        self.neuron, self.axis_neuron = list(neuron), axis_neuron
        self.activation, self.resnet_dt = activation_function, resnet_dt
        self.type_one_side, self.dtype = type_one_side, precision_dtype(precision)
        self.trainable, self.seed = trainable, seed
        self.exclude_types = [tuple(p) for p in exclude_types]
        self.set_davg_zero = set_davg_zero
        self.attn, self.attn_layer, self.attn_dotr, self.attn_mask = (
            attn,
            attn_layer,
            attn_dotr,
            attn_mask,
        )
        self.trainable_ln, self.ln_eps = trainable_ln, 1e-3 if ln_eps is None else ln_eps
        if stripped_type_embedding is not None:  # the older key wins, as in DeePMD-kit
            tebd_input_mode = "strip" if stripped_type_embedding else "concat"
        self.strip, self.smooth = tebd_input_mode == "strip", smooth_type_embedding
        if type_embedding is None:  # DeePMD-kit's default: linear, no bias
            defaults = {a.name: a.default for a in type_embedding_args(tebd_dim, "linear")}
            # DeePMD-kit draws this one unseeded; here it is reproducible, from seeds far
            # from every net's (the nets' seeds stay DeePMD-kit's)
            own_seed = None if seed is None else seed + _OWN_TEBD_SEED_OFFSET
            type_embedding = {
                **defaults,
                "seed": own_seed,
                "use_tebd_bias": use_tebd_bias,
                "use_econf_tebd": use_econf_tebd,
            }
        self.type_embedding = TypeEmbedding(ntypes, **type_embedding, type_map=type_map)
        self.avg = np.zeros((ntypes, self.nnei, 4))
        self.std = np.ones((ntypes, self.nnei, 4))
        self.tables = None

    @classmethod
    def accepts_type_embedding(cls, params: dict) -> bool:
        return True

    @property
    def mixed_types(self) -> bool:
        return True

    @classmethod
    def check(cls, params: dict, ntypes: int, path: str) -> None:
        check_cutoffs_and_exclusions(params, ntypes, path)

    # -- contract --------------------------------------------------------------------------
    @property
    def dim_out(self) -> int:
        return self.neuron[-1] * self.axis_neuron + self.type_embedding.width

    def rot_mat_width(self) -> int:
        return self.neuron[-1]

    def build(self, coord, atype, box) -> DescriptorOut:
        nlist, rij, max_count = ops.neighbor_list(
            coord, atype, box, self.rcut, self.sel, mixed_types=True
        )
        return self._from_neighbors(nlist, rij, max_count, atype, atype)

    def build_external(self, coord, atype, nloc, offsets, neighbors) -> DescriptorOut:
        nlist, rij, max_count = ops.external_neighbor_list(
            coord, atype, nloc, offsets, neighbors, self.rcut, self.sel, mixed_types=True
        )
        return self._from_neighbors(nlist, rij, max_count, atype, atype[:, :nloc])

    # -- the graph -------------------------------------------------------------------------
    def _from_neighbors(self, nlist, rij, max_count, atype, centre_type) -> DescriptorOut:
        avg, std = self._statistics()
        em, em_deriv = ops.env_mat(rij, nlist, atype, avg, std, self.rcut_smth, self.rcut, "a")
        env = EnvMat(em, em_deriv, rij, nlist, max_count, tuple(self.sel))
        # The type of each slot's atom; the padding type ntypes in empty slots.
        nei_type = tf.where(
            nlist >= 0, tf.gather(atype, tf.maximum(nlist, 0), batch_dims=1), self.ntypes
        )
        n = tf.shape(nlist)[0] * tf.shape(nlist)[1]
        rows = tf.cast(tf.reshape(em, [n, self.nnei, 4]), self.dtype)
        centre = tf.reshape(centre_type, [n])
        nei = tf.reshape(nei_type, [n, self.nnei])
        # Excluded pairs' rows are zeroed; empty slots keep theirs, (0 - avg) / std, the row
        # of an atom at rcut (zeroing them would make entering a jump when avg != 0).
        allowed = self._kept_slots(centre, nei)
        rows = rows * allowed[:, :, None]
        keep = allowed * tf.cast(tf.reshape(nlist >= 0, [n, self.nnei]), self.dtype)
        weight = self._switch(rows, centre, std, avg) * allowed if self.smooth else keep
        table = tf.cast(self.type_embedding.build(), self.dtype)  # (ntypes + 1, width)
        overflow = None
        if self.tables is not None:  # the radial net read from its table
            overflow = self._table_overflow(rows, tf.shape(nlist)[0])
            total = self._tabulated_total(rows, centre, nei, table, weight)
        else:
            g = self._embedding(rows, centre, nei, table, weight)
            for layer in range(self.attn_layer):
                g = self._attention(g, rows, weight, keep, layer)
            total = ops.matmul(g, rows, transpose_a=True)  # G^T R: (n, M1, 4)
        total = total / self.nnei
        d = tf.reshape(
            ops.matmul(total, total[:, : self.axis_neuron, :], transpose_b=True),
            [n, self.neuron[-1] * self.axis_neuron],
        )
        d = tf.concat([d, tf.gather(table, centre)], axis=1)
        rot_mat = tf.cast(total[:, :, 1:], tf.float64)
        return DescriptorOut(d, (env,), overflow, rot_mat=rot_mat)

    def _kept_slots(self, centre, nei):
        """(n, nnei) 0 where (centre type, slot type) is an excluded pair, else 1."""
        if not self.exclude_types:
            return tf.ones(tf.shape(nei), self.dtype)
        mask = np.ones((self.ntypes, self.ntypes + 1))
        for a, b in self.exclude_types:
            mask[a, b] = mask[b, a] = 0.0
        pairs = tf.constant(mask.reshape(-1), self.dtype)
        return tf.gather(pairs, centre[:, None] * (self.ntypes + 1) + nei)

    def _switch(self, rows, centre, std, avg):
        """DeePMD-kit's smooth weight from s(r) recovered from the normalised rows: 1 up to
        rcut_smth, 0 at rcut and in empty slots."""
        radial_std = tf.cast(tf.gather(std[:, 0, 0], centre), self.dtype)[:, None]
        radial_avg = tf.cast(tf.gather(avg[:, 0, 0], centre), self.dtype)[:, None]
        s = rows[:, :, 0] * radial_std + radial_avg
        u = 1.0 - self.rcut_smth * s
        return tf.clip_by_value(1.0 - u * u * u, 0.0, 1.0)

    def _net(self, x, scope, seed):
        return embedding_net(
            x,
            self.neuron,
            self.activation,
            self.resnet_dt,
            seed,
            self.dtype,
            self.trainable,
            self.scope + scope,
        )

    def _net_seeds(self) -> list[int | None]:
        """Seeds of the filter net, the strip mode's type-pair net, then the first
        attention layer: DeePMD-kit's order (its one_layer calls overlap by design)."""
        seeds = SeedSequence(self.seed)
        nets = [seeds.net(len(self.neuron)) for _ in range(2 if self.strip else 1)]
        return [*nets, seeds.take(0)]

    def _embedding(self, rows, centre, nei, table, weight):
        """G (n, nnei, M1) of every slot from its radial row and the two types."""
        if self.strip:
            return self._with_types(self._radial(rows), centre, nei, table, weight)
        n, m1, width = tf.shape(rows)[0], self.neuron[-1], self.type_embedding.width
        columns = [
            tf.reshape(rows[:, :, :1], [-1, 1]),
            tf.reshape(tf.gather(table, nei), [-1, width]),
        ]
        if not self.type_one_side:
            centre_vec = tf.gather(table, centre)
            columns.append(
                tf.reshape(tf.tile(centre_vec[:, None, :], [1, self.nnei, 1]), [-1, width])
            )
        g = self._net(tf.concat(columns, axis=1), "filter_type_all", self._net_seeds()[0])
        return tf.reshape(g, [n, self.nnei, m1])

    def _radial(self, rows):
        """The strip mode's radial net N (n, nnei, M1) of every slot's s."""
        n, m1 = tf.shape(rows)[0], self.neuron[-1]
        radial = tf.reshape(rows[:, :, :1], [-1, 1])
        g = self._net(radial, "filter_type_all", self._net_seeds()[0])
        return tf.reshape(g, [n, self.nnei, m1])

    def _with_types(self, g, centre, nei, table, weight):
        """The strip mode's G = N (1 + T(t_i, t_j)), T weighted by w when smooth, from the
        radial net's N (n, nnei, M1)."""
        t = tf.gather(
            self._pair_net(table, self._net_seeds()[1]), centre[:, None] * (self.ntypes + 1) + nei
        )
        if self.smooth:
            t = t * weight[:, :, None]
        return g * t + g

    def _pair_net(self, table, seed):
        """The strip mode's type net over every (centre, neighbour) pair of the type table
        (padding type included) once: (ntab * ntab, M1), row centre * ntab + neighbour."""
        ntab, width = self.ntypes + 1, self.type_embedding.width
        pair_input = tf.concat(
            [
                tf.tile(table[None, :, :], [ntab, 1, 1]),  # neighbour's vector
                tf.tile(table[:, None, :], [1, ntab, 1]),  # centre's vector
            ],
            axis=2,
        )
        return self._net(
            tf.reshape(pair_input, [ntab * ntab, 2 * width]), "filter_type_all_two_side", seed
        )

    # -- compression (strip mode, no attention: DeePMD-kit's se_atten_compressible) -------
    def untabulable(self) -> str | None:
        if not self.strip:
            return (
                f"{self.name} compresses only with tebd_input_mode 'strip' (the radial net "
                "alone then takes the neighbour distance), as in DeePMD-kit"
            )
        if self.attn_layer != 0:
            return f"{self.name} compresses only with attn_layer 0, as in DeePMD-kit"
        return None

    def net_scopes(self) -> list[str]:
        return [f"{self.scope}filter_type_all"]

    def net_spec(self, scope: str) -> tuple[list[int], str, bool]:
        del scope  # the one radial net
        return list(self.neuron), self.activation, self.resnet_dt

    def input_ranges(self, min_nbor_dist: float) -> dict[str, tuple[float, float]]:
        """The radial net's input (s - avg) / std over every centre type and slot, for s in
        [0, 1 / min_nbor_dist]; 0 too where excluded pairs zero the row."""
        avg, std = self.avg[:, :, 0], self.std[:, :, 0]
        lower = float(np.min(-avg / std))
        upper = float(np.max((1.0 / min_nbor_dist - avg) / std))
        if self.exclude_types:
            lower, upper = min(lower, 0.0), max(upper, 0.0)
        return {self.net_scopes()[0]: (lower, upper)}

    def _tabulated_total(self, rows, centre, nei, table, weight):
        """sum_j N_j (1 + w_j T(t_i, t_j)) (x) R_j, (n, M1, 4), N the radial net's table.
        On a CPU, one fused call summing per neighbour type b (ops.tabulate_fusion_blocks;
        smooth: the rows R and w R side by side), N read once per slot and never stored,
        then each type's sums scaled by T(t_i, b). On a GPU, whose kernels take no blocks, N
        is stored and the type factor applied as in the original."""
        n, m1, ntab = tf.shape(rows)[0], self.neuron[-1], self.ntypes + 1
        if ops.gpu_present():
            g = self._with_types(self._tabulated_radial(rows), centre, nei, table, weight)
            return ops.matmul(g, rows, transpose_a=True)
        pair = tf.reshape(self._pair_net(table, self._net_seeds()[1]), [ntab, ntab, m1])
        scale = tf.gather(pair, centre)  # (n, ntab, M1): T(t_i, b), the padding type's last
        coefficients, info = self.table_variables(self.net_scopes()[0])
        x = tf.cast(rows[:, :, 0], tf.float64)
        if self.smooth:  # N (1 + w T): sums of N R and of N w R per type (w = 0 when empty)
            both = tf.concat([rows, rows * weight[:, :, None]], axis=2)
            factors = tf.stack([tf.ones_like(scale), scale], axis=3)  # (n, ntab, M1, 2)
        else:  # N (1 + T) per type, the padding type included
            both, factors = rows, (1.0 + scale)[:, :, :, None]
        ncomp = both.shape[2]
        block = tf.cast(nei, tf.int32)
        both = tf.cast(both, tf.float64)
        part = ops.tabulate_fusion_blocks(coefficients, info, x, both, block, nblocks=ntab)
        part = tf.reshape(tf.cast(part, self.dtype), [n, m1, ntab, ncomp // 4, 4])
        return tf.einsum("nbmk,nmbkc->nmc", factors, part)

    def _tabulated_radial(self, rows):
        """N (n, nnei, M1) of every slot from the radial net's table: the fused op over one
        slot per row with a row of ones (its gradients come with it)."""
        n, m1 = tf.shape(rows)[0], self.neuron[-1]
        coefficients, info = self.table_variables(self.net_scopes()[0])
        x = tf.reshape(tf.cast(rows[:, :, 0], tf.float64), [-1, 1])
        radial = ops.tabulate_fusion(coefficients, info, x, tf.ones_like(x)[:, :, None])
        return tf.reshape(tf.cast(radial, self.dtype), [n, self.nnei, m1])

    def _table_overflow(self, rows, nframes):
        """(nf,) number of slots whose net input lies beyond the table (upper_ext)."""
        upper_ext = float(self.tables[self.net_scopes()[0]].info[2])
        beyond = tf.cast(rows[:, :, 0] > upper_ext, tf.int32)
        return tf.reduce_sum(tf.reshape(beyond, [nframes, -1]), axis=1)

    def _attention(self, g, rows, weight, keep, layer):
        """One attention layer over a centre's slots: g (n, nnei, M1) -> the same."""
        m1 = self.neuron[-1]
        seeds = SeedSequence(self._net_seeds()[-1])
        for _ in range(layer):
            seeds.take(5)
        flat = tf.reshape(g, [-1, m1])
        with v1.variable_scope(f"{self.scope}attention_layer_{layer}", reuse=v1.AUTO_REUSE):

            def project(name):
                y = dense(flat, self.attn, name, seeds.take(1), self.dtype, self.trainable)
                return tf.math.l2_normalize(tf.reshape(y, [-1, self.nnei, self.attn]), axis=-1)

            q, k, v = project("c_query"), project("c_key"), project("c_value")
            scores = ops.matmul(q, k, transpose_b=True)  # (n, nnei, nnei)
            if self.smooth:
                pair_weight = weight[:, :, None] * weight[:, None, :]
                scores = (scores + _SMOOTH_SHIFT) * pair_weight - _SMOOTH_SHIFT
                a = tf.nn.softmax(scores, axis=-1) * pair_weight
            else:
                scores = scores * keep[:, None, :] + _MASKED * (1.0 - keep[:, None, :])
                a = tf.nn.softmax(scores, axis=-1) * keep[:, :, None]
            if self.attn_dotr:
                direction = tf.math.l2_normalize(rows[:, :, 1:], axis=-1)
                a = a * ops.matmul(direction, direction, transpose_b=True)
            if self.attn_mask:
                a = a * (1.0 - tf.eye(self.nnei, dtype=self.dtype))
            out = tf.reshape(ops.matmul(a, v), [-1, self.attn])
            flat = flat + dense(out, m1, "c_out", seeds.take(1), self.dtype, self.trainable)
            flat = layer_norm(
                flat, m1, "layer_normalization", self.dtype, self.trainable_ln, self.ln_eps
            )
        return tf.reshape(flat, [-1, self.nnei, m1])


@DESCRIPTORS.register
class SeAttenV2(SeAtten):
    """se_atten_v2: se_atten with the strip type net and the smooth weights always on."""

    name = "se_atten_v2"
    aliases = ()
    doc = "se_atten with stripped, smoothly weighted type embedding (continuous at rcut)"
    schema = Group(_common_args(set_davg_zero=False), unsupported={"lmax": ""})
    example: ClassVar[dict] = {**SeAtten.example, "seed": 2}

    def __init__(self, **keys):
        super().__init__(**keys, tebd_input_mode="strip", smooth_type_embedding=True)
