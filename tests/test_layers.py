"""Initial values of the nets' parameters follow DeePMD-kit's, so that training from the
same input starts from the same distribution (deepmd/tf/utils/network.py)."""

import numpy as np
import tensorflow as tf

from deepkit.nn.layers import SeedSequence, embedding_net, fitting_net

v1 = tf.compat.v1


def _initial_variables(build):
    graph = tf.Graph()
    with graph.as_default():
        build()
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            return {v.op.name: sess.run(v) for v in v1.global_variables()}


def test_timesteps_start_at_one_in_embeddings_and_a_tenth_in_fittings():
    def build():
        x = v1.placeholder(tf.float64, [None, 1])
        embedding_net(x, [8, 16, 16], "tanh", True, SeedSequence(1), tf.float64, True, "emb")
        y = v1.placeholder(tf.float64, [None, 6])
        fitting_net(y, [32, 32, 32], "tanh", True, SeedSequence(2), tf.float64, True, 0.0, "fit")

    values = _initial_variables(build)
    emb = [v for k, v in values.items() if k.startswith("emb/idt_")]
    fit = [v for k, v in values.items() if k.startswith("fit/idt_")]
    assert len(emb) == 3 and len(fit) == 2  # the fitting's first layer has no residual
    np.testing.assert_allclose(np.concatenate(emb), 1.0, atol=0.01)
    np.testing.assert_allclose(np.concatenate(fit), 0.1, atol=0.01)
