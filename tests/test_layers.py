"""Initial values of the nets' parameters follow DeePMD-kit's, so that training from the
same input starts from the same distribution (deepmd/tf/utils/network.py)."""

import numpy as np
import tensorflow as tf

from deepkit.nn.layers import SeedSequence, embedding_net, fitting_net, net_seed

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
        embedding_net(x, [8, 16, 16], "tanh", True, 1, tf.float64, True, "emb")
        y = v1.placeholder(tf.float64, [None, 6])
        fitting_net(y, [32, 32, 32], "tanh", True, 2, tf.float64, True, 0.0, "fit")

    values = _initial_variables(build)
    emb = [v for k, v in values.items() if k.startswith("emb/idt_")]
    fit = [v for k, v in values.items() if k.startswith("fit/idt_")]
    assert len(emb) == 3 and len(fit) == 2  # the fitting's first layer has no residual
    np.testing.assert_allclose(np.concatenate(emb), 1.0, atol=0.01)
    np.testing.assert_allclose(np.concatenate(fit), 0.1, atol=0.01)


def _normal(shape, stddev, seed, mean=0.0):
    """What TensorFlow draws for one seeded initializer (no graph-level seed)."""
    graph = tf.Graph()
    with graph.as_default(), v1.Session() as sess:
        return sess.run(v1.random_normal(shape, mean, stddev, tf.float64, seed=seed))


def test_seed_layout_is_deepmd_kits():
    # DeePMD-kit's embedding_net: layer k (from 1) draws its matrix, bias and timestep from
    # seed + 3k, + 1, + 2; one_layer (the fitting's) from seed, + 1, + 2 and moves on by 3.
    # tools/compare_init.py checks the same against DeePMD-kit itself, variable by variable.
    def build():
        x = v1.placeholder(tf.float64, [None, 1])
        embedding_net(x, [4, 8], "tanh", True, 10, tf.float64, True, "emb")
        y = v1.placeholder(tf.float64, [None, 6])
        fitting_net(y, [5, 5], "tanh", True, 20, tf.float64, True, 3.0, "fit")

    values = _initial_variables(build)
    np.testing.assert_array_equal(values["emb/matrix_0"], _normal([1, 4], 1 / np.sqrt(5), 13))
    np.testing.assert_array_equal(values["emb/bias_0"], _normal([4], 1.0, 14))
    np.testing.assert_array_equal(values["emb/idt_0"], _normal([4], 0.001, 15, mean=1.0))
    np.testing.assert_array_equal(values["emb/matrix_1"], _normal([4, 8], 1 / np.sqrt(12), 16))
    np.testing.assert_array_equal(values["fit/matrix_0"], _normal([6, 5], 1 / np.sqrt(11), 20))
    np.testing.assert_array_equal(values["fit/bias_1"], _normal([5], 1.0, 24))
    np.testing.assert_array_equal(values["fit/idt_1"], _normal([5], 0.001, 25, mean=0.1))
    # the last layer's bias: the energy bias plus DeePMD-kit's N(0, 1) draw
    np.testing.assert_array_equal(values["fit/bias_final"], _normal([1], 1.0, 27, mean=3.0))


def test_successive_nets_draw_apart():
    seeds = SeedSequence(1)
    assert [seeds.net(3), seeds.net(3), seeds.net(2)] == [1, 13, 25]
    assert seeds.seed == 34 and net_seed(1, 2, 3) == 25
    assert SeedSequence(None).net(3) is None and net_seed(None, 1, 3) is None


def test_two_side_nets_of_different_centre_types_start_apart():
    # Once every centre type's nets began from the same seeds (identical initial weights);
    # an excluded pair's net, which DeePMD-kit does not build, draws after the others.
    import copy

    from models import BASE

    from deepkit.config import normalize
    from deepkit.descriptor.base import make_descriptor

    raw = copy.deepcopy(BASE)
    raw["model"]["descriptor"] = {"type": "se_e2_a", "sel": [4, 4], "rcut": 3.0, "seed": 5}
    raw["model"]["descriptor"] |= {
        "neuron": [2, 4],
        "type_one_side": False,
        "exclude_types": [[0, 1]],
    }
    descriptor = make_descriptor(normalize(raw)["model"]["descriptor"], 2)
    seeds = [descriptor._net_seed(ti, t) for ti in range(2) for t in range(2)]
    assert seeds == [5, 32, 41, 14]  # (0, 0), (0, 1) excluded, (1, 0) excluded, (1, 1)
