"""deepkit.nn.streamed: a per-atom function and its gradient taken a chunk of atoms at a
time equal those over all atoms at once, for any number of atoms; a frozen model streamed
in chunks gives what one without chunks gives."""

import numpy as np
import pytest
from models import frozen_alcu_model

from deepkit import DeepPot
from deepkit.errors import InputError
from deepkit.nn import streamed
from deepkit.tfenv import tf
from deepkit.train.freeze import freeze

v1 = tf.compat.v1


def per_atom(rows, extras):
    """A small net over two row tensors (n, 5, 4) and (n, 2) and int types: one scalar per
    atom, as a model's atomic energy."""
    (types,) = extras
    with v1.variable_scope("net", reuse=v1.AUTO_REUSE):
        w = v1.get_variable("w", [4, 3], tf.float64, v1.random_normal_initializer(seed=1))
    y = tf.tanh(tf.einsum("nsc,ck->nsk", rows[0], w))
    scale = tf.cast(types + 1, tf.float64) * tf.reduce_sum(rows[1] ** 2, axis=1)
    return tf.reduce_sum(y * y, axis=[1, 2]) * scale


@pytest.mark.parametrize("n", [0, 3, 8, 37])
def test_chunks_give_the_values_and_gradients_of_all_rows(rng, n):
    x, z = rng.normal(size=(n, 5, 4)), rng.normal(size=(n, 2))
    t = rng.integers(0, 2, n).astype(np.int32)
    with tf.Graph().as_default(), v1.Session() as sess:
        rows = [v1.placeholder(tf.float64, [None, 5, 4]), v1.placeholder(tf.float64, [None, 2])]
        types = v1.placeholder(tf.int32, [None])
        plain = per_atom(rows, [types])
        plain_grads = tf.gradients(tf.reduce_sum(plain), rows)
        chunked, grads = streamed.values_and_gradients(per_atom, rows, [types], 8)
        sess.run(v1.global_variables_initializer())
        feed = {rows[0]: x, rows[1]: z, types: t}
        a, b, ga, gb = sess.run([plain, chunked, plain_grads, grads], feed)
    assert a.shape == b.shape == (n,)
    np.testing.assert_array_equal(a, b)
    for expected, got in zip(ga, gb, strict=True):
        np.testing.assert_array_equal(expected, got)


def test_frozen_model_streams_atoms_in_chunks(tmp_path_factory, monkeypatch):
    """A model frozen with chunks of 5 atoms gives what one frozen without chunks gives
    (derivatives by autodiff over all atoms), and its graph holds the loop."""
    root = tmp_path_factory.mktemp("streamed")
    _, arrays, atype = frozen_alcu_model(root)
    monkeypatch.setenv("DEEPKIT_FREEZE_CHUNK", "5")
    freeze(root / "run", root / "chunks.pb")
    monkeypatch.setenv("DEEPKIT_FREEZE_CHUNK", "0")
    freeze(root / "run", root / "whole.pb")  # autodiff over all atoms at once
    chunks, whole = DeepPot(root / "chunks.pb"), DeepPot(root / "whole.pb")
    assert len(atype) > 10 and chunks.graph.as_graph_def().library.function
    assert not whole.graph.as_graph_def().library.function
    coord, box = arrays["coord"][:2], arrays["box"][:2]
    for got, expected in zip(
        chunks.eval(coord, box, atype, atomic=True),
        whole.eval(coord, box, atype, atomic=True),
        strict=True,
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("value", ["-1", "1.5", "many", "9" * 12])
def test_bad_chunk_setting_is_one_line(monkeypatch, value):
    monkeypatch.setenv("DEEPKIT_FREEZE_CHUNK", value)
    with pytest.raises(InputError, match="DEEPKIT_FREEZE_CHUNK: expected a whole number"):
        streamed.configured_chunk()
