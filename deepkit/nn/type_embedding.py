"""The type embedding: one learned vector per element (DeePMD-kit's `type_embedding`), so
that one embedding net and one fitting net serve every type instead of one per type
(pair). Descriptors that take it (se_atten, se_e2_a with `model.type_embedding`) look up
their neighbours' and centres' vectors; the row after the last type is the zero vector of
an empty neighbour slot."""

from __future__ import annotations

import numpy as np

from deepkit.errors import InputError
from deepkit.nn.econf import econf_inputs
from deepkit.nn.layers import embedding_net, precision_dtype
from deepkit.nn.tabulate import ACTIVATION_DERIVATIVES
from deepkit.tfenv import tf

SCOPE = "type_embed_net"


class TypeEmbedding:
    """The net from one-hot (or electronic-configuration) type vectors to the (ntypes + 1, width) embedding table, its
    last row zero (empty slots). Variables live under `type_embed_net`, shared by every
    descriptor part and fitting of a model."""

    def __init__(
        self,
        ntypes: int,
        *,
        neuron,
        activation_function,
        resnet_dt,
        precision,
        trainable,
        seed,
        use_econf_tebd,
        use_tebd_bias,
        type_map=None,
    ):
        # The net's fixed input per type: one-hot, or the electronic configuration.
        self.inputs = np.eye(ntypes)
        if use_econf_tebd:
            if type_map is None:
                raise InputError("use_econf_tebd needs model.type_map (the elements' names)")
            try:
                self.inputs = econf_inputs(list(type_map))
            except ValueError as err:
                raise InputError(f"model.type_map: use_econf_tebd needs elements; {err}") from None
        self.ntypes, self.neuron, self.activation = ntypes, list(neuron), activation_function
        self.resnet_dt, self.dtype, self.trainable = (
            resnet_dt,
            precision_dtype(precision),
            trainable,
        )
        self.seed, self.use_bias = seed, use_tebd_bias

    @property
    def width(self) -> int:
        """Width of one type's vector."""
        return self.neuron[-1]

    def build(self):
        """The (ntypes + 1, width) table, float64; row ntypes is zero."""
        table = embedding_net(
            tf.constant(self.inputs, self.dtype),
            self.neuron,
            self.activation,
            self.resnet_dt,
            self.seed,
            self.dtype,
            self.trainable,
            SCOPE,
            use_bias=self.use_bias,
        )
        padding = tf.zeros([1, self.width], self.dtype)
        return tf.cast(tf.concat([table, padding], axis=0), tf.float64)

    def table_from(self, consts: dict):
        """The same (ntypes + 1, width) table in numpy, from a frozen model's constants
        (compression folds each type's vector into a net's first layer)."""
        act = ACTIVATION_DERIVATIVES[self.activation]
        x = self.inputs
        for k in range(len(self.neuron)):
            w = consts[f"{SCOPE}/matrix_{k}"]
            y = act(x @ w + (consts[f"{SCOPE}/bias_{k}"] if self.use_bias else 0.0))[0]
            if self.resnet_dt:
                y = y * consts[f"{SCOPE}/idt_{k}"]
            if w.shape[1] == w.shape[0]:
                x = x + y
            elif w.shape[1] == 2 * w.shape[0]:
                x = np.concatenate([x, x], axis=1) + y
            else:
                x = y
        return np.concatenate([x, np.zeros((1, self.width))])
