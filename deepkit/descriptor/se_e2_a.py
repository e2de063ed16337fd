"""se_e2_a: two-body embedding with the full radial and angular information.

T_i = G_i^T R_i / Nnei (M1 x 4), D_i = T_i T_i<^T (M1 x M2), M2 = axis_neuron."""

from __future__ import annotations

from typing import ClassVar

from deepkit import ops
from deepkit.config.args import Arg, Group, positive
from deepkit.descriptor.smooth import SmoothEmbedding, smooth_args
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
            Arg(
                "axis_neuron",
                "int",
                4,
                "Columns M2 of the axis matrix (sub-matrix of G)",
                alias=("n_axis_neuron",),
                check=positive,
            ),
        ],
        unsupported={
            "type_nchanl": "",
            "type_nlayer": "",
            "numb_aparam": "",
            "stripped_type_embedding": "",
        },
    )
    env_kind, ncomp = "a", 4

    def __init__(self, *, axis_neuron: int, **keys):
        super().__init__(**keys)
        self.axis_neuron = axis_neuron

    @property
    def dim_out(self) -> int:
        return self.neuron[-1] * self.axis_neuron

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
        return tf.reshape(d, [-1, self.dim_out])
