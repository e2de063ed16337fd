"""se_e2_a: two-body embedding with the full radial and angular information.

T_i = G_i^T R_i / Nnei (M1 x 4), D_i = T_i T_i<^T (M1 x M2), M2 = axis_neuron."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from deepkit import ops
from deepkit.config.args import Group
from deepkit.descriptor.smooth import SmoothEmbedding, axis_neuron_arg, smooth_args
from deepkit.nn.layers import embedding_net
from deepkit.nn.tabulate import Layer, layers_of
from deepkit.nn.type_embedding import TypeEmbedding
from deepkit.registry import DESCRIPTORS
from deepkit.tfenv import tf


@DESCRIPTORS.register
class SeE2A(SmoothEmbedding):
    """se_e2_a: G (embedding of s(r)) contracted with the full rows (s, sx/r, sy/r, sz/r)."""

    name = "se_e2_a"
    aliases = ("se_a",)
    doc = "smooth edition, two-body embedding, full radial and angular information"
    example: ClassVar[dict] = {
        "sel": [20, 20],
        "rcut": 4.0,
        "rcut_smth": 1.0,
        "neuron": [4, 8],
        "axis_neuron": 2,
        "seed": 1,
    }
    schema = Group(
        [
            *smooth_args(),
            axis_neuron_arg(),
        ],
        unsupported={
            "type_nchanl": "",
            "type_nlayer": "",
            "numb_aparam": "",
            "stripped_type_embedding": "",
            "tebd_input_mode": "",
        },
    )
    env_kind, ncomp = "a", 4

    def __init__(
        self,
        *,
        axis_neuron: int,
        type_embedding: dict | None = None,
        type_map: list[str] | None = None,
        **keys,
    ):
        super().__init__(**keys)
        self.axis_neuron = axis_neuron
        # With model.type_embedding: one net over (s, t_j[, t_i]) instead of one per type
        # (pair), and the centre's type vector appended, as DeePMD-kit's se_a + tebd.
        self.type_embedding = (
            None
            if type_embedding is None
            else TypeEmbedding(self.ntypes, **type_embedding, type_map=type_map)
        )

    @classmethod
    def accepts_type_embedding(cls, params: dict) -> bool:
        return True

    @property
    def mixed_types(self) -> bool:
        return self.type_embedding is not None

    @property
    def dim_out(self) -> int:
        tebd = 0 if self.type_embedding is None else self.type_embedding.width
        return self.neuron[-1] * self.axis_neuron + tebd

    def untabulable(self) -> str | None:
        if self.type_embedding is None:
            return None
        inputs = 1 + self.type_embedding.width * (1 if self.type_one_side else 2)
        if self.neuron[0] in (1, 2, inputs, 2 * inputs):
            # the first layer's residual would differ once the type vectors are folded in
            return (
                f"se_e2_a with a type embedding and a first layer of {self.neuron[0]} "
                "neurons cannot be tabulated"
            )
        return None

    def net_layers(self, scope: str, consts: dict) -> list:
        """With a type embedding, each tabulated (centre, neighbour) net is the shared net
        with the two type vectors folded into its first layer's bias: a net of s alone."""
        if self.type_embedding is None:
            return super().net_layers(scope, consts)
        centre, neighbor = next((ti, t) for name, ti, t in self._nets() if name == scope)
        table = self.type_embedding.table_from(consts)
        shared = f"{self.scope}filter_type_all"
        layers = layers_of(consts, shared, len(self.neuron), self.resnet_dt)
        first = layers[0].matrix
        width = self.type_embedding.width
        bias = layers[0].bias + table[neighbor] @ first[1 : 1 + width]
        if centre is not None:
            bias = bias + table[centre] @ first[1 + width :]
        layers[0] = Layer(first[:1], bias, layers[0].idt)
        return layers

    def _per_atom(self, rows, atype_flat, occupied):
        if self.type_embedding is None:
            return super()._per_atom(rows, atype_flat, occupied)
        if self.tables is not None:  # the per-pair tables, then the centre's type vector
            table = tf.cast(self.type_embedding.build(), self.dtype)
            d, rot = tf.split(
                super()._per_atom(rows, atype_flat, occupied),
                [self.dim_out - self.type_embedding.width, 3 * self.rot_mat_width()],
                axis=1,
            )
            return tf.concat([d, tf.gather(table, atype_flat), rot], axis=1)
        table = tf.cast(self.type_embedding.build(), self.dtype)
        n, width = tf.shape(rows)[0], self.type_embedding.width
        slot_type = np.repeat(np.arange(self.ntypes), self.sel)  # the list is type-blocked
        columns = [
            tf.reshape(rows[:, :, :1], [-1, 1]),
            tf.reshape(tf.tile(tf.gather(table, slot_type)[None], [n, 1, 1]), [-1, width]),
        ]
        centre_vec = tf.gather(table, atype_flat)
        if not self.type_one_side:
            tiled = tf.tile(centre_vec[:, None, :], [1, self.nnei, 1])
            columns.append(tf.reshape(tiled, [-1, width]))
        g = embedding_net(
            tf.concat(columns, axis=1),
            self.neuron,
            self.activation,
            self.resnet_dt,
            self.seed,  # DeePMD-kit's one net takes the descriptor's seed
            self.dtype,
            self.trainable,
            f"{self.scope}filter_type_all",
        )
        g = tf.reshape(g, [n, self.nnei, self.neuron[-1]])
        total = self.pair_term(g, rows) / self.nnei
        rot = tf.reshape(self.rotation(total), [-1, 3 * self.rot_mat_width()])
        return tf.concat([self.finish(total), centre_vec, rot], axis=1)

    def rot_mat_width(self) -> int:
        return self.neuron[-1]

    def rotation(self, total):
        # The angular columns of T = G^T R / Nnei: (n, M1, 3), rotates with the frame.
        return total[:, :, 1:]

    def pair_term(self, g, block):
        return ops.matmul(g, block, transpose_a=True)  # G^T R: (n, M1, 4)

    def table_term(self, coefficients, info, x, block):
        return ops.tabulate_fusion(coefficients, info, x, block)

    def finish(self, total):
        # D = T T<^T: (n, M1, 4) x (n, 4, M2) -> (n, M1 * M2)
        d = ops.matmul(total, total[:, : self.axis_neuron, :], transpose_b=True)
        return tf.reshape(d, [-1, self.neuron[-1] * self.axis_neuron])
