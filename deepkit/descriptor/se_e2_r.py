"""se_e2_r: two-body embedding with the radial information only:
D_i = RES_RESCALE * sum_j G_ij / Nnei, as DeePMD-kit scales it."""

from __future__ import annotations

from typing import ClassVar

from deepkit import ops
from deepkit.config.args import Group
from deepkit.descriptor.smooth import SmoothEmbedding, smooth_args
from deepkit.registry import DESCRIPTORS
from deepkit.tfenv import tf

# DeePMD-kit scales se_e2_r's mean over neighbours by 1/5 (its se_r.py `res_rescale`); the
# fitting net's initial weights assume inputs of that size, so the same input trains alike.
RES_RESCALE = 0.2


@DESCRIPTORS.register
class SeE2R(SmoothEmbedding):
    """se_e2_r: the embedding of s(r) summed over neighbours."""

    name = "se_e2_r"
    aliases = ("se_r",)
    doc = "smooth edition, two-body embedding, radial information only"
    example: ClassVar[dict] = {
        "sel": [20, 20],
        "rcut": 4.0,
        "rcut_smth": 1.0,
        "neuron": [4, 8],
        "seed": 1,
    }
    schema = Group(smooth_args(), unsupported={"type_nchanl": "", "type_nlayer": ""})
    env_kind, ncomp = "r", 1

    @property
    def dim_out(self) -> int:
        return self.neuron[-1]

    def pair_term(self, g, block):
        del block  # the radial column is G's input already
        return tf.reduce_sum(g, axis=1)

    def slot_term(self, g, rows, count):
        del rows  # the radial column is G's input already: sum G over the slots
        ones = tf.ones([tf.shape(g)[0], 1], g.dtype)
        return ops.slot_contract(g, ones, count)[:, :, 0]

    def table_term(self, coefficients, info, x, block):
        del block
        ones = tf.ones_like(x)[:, :, None]
        return tf.squeeze(ops.tabulate_fusion(coefficients, info, x, ones), axis=2)

    def finish(self, total):
        return total * RES_RESCALE
