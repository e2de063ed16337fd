"""DkMatMul (float64 product built for AVX2/FMA) against numpy, and its gradient."""

import numpy as np
import pytest
import tensorflow as tf

from deepkit import ops


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_matmul_matches_numpy_and_has_gradients(sess, rng, ta, tb):
    a = rng.normal(size=(5, 7) if not ta else (7, 5))
    b = rng.normal(size=(7, 3) if not tb else (3, 7))
    x, y = tf.constant(a), tf.constant(b)
    product = ops.matmul(x, y, ta, tb)
    expected = (a.T if ta else a) @ (b.T if tb else b)
    np.testing.assert_allclose(sess.run(product), expected, rtol=1e-13, atol=1e-13)
    for var, value in ((x, a), (y, b)):
        theoretical, numerical = tf.compat.v1.test.compute_gradient(
            var, value.shape, product, [5, 3], x_init_value=value, delta=1e-6
        )
        np.testing.assert_allclose(theoretical, numerical, rtol=1e-7, atol=1e-8)


def test_large_product_and_empty_inner_dimension(sess, rng):
    a, b = rng.normal(size=(3000, 50)), rng.normal(size=(50, 100))
    np.testing.assert_allclose(
        sess.run(ops.matmul(tf.constant(a), tf.constant(b))), a @ b, rtol=1e-12, atol=1e-12
    )
    empty = ops.matmul(tf.zeros((4, 0), tf.float64), tf.zeros((0, 2), tf.float64))
    assert np.all(sess.run(empty) == 0) and sess.run(empty).shape == (4, 2)


@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True), (True, True)])
def test_batch_matmul_matches_numpy_and_has_gradients(sess, rng, ta, tb):
    a = rng.normal(size=(4, 6, 3) if ta else (4, 3, 6))
    b = rng.normal(size=(4, 2, 6) if tb else (4, 6, 2))
    x, y = tf.constant(a), tf.constant(b)
    product = ops.matmul(x, y, ta, tb)
    expected = np.matmul(a.transpose(0, 2, 1) if ta else a, b.transpose(0, 2, 1) if tb else b)
    np.testing.assert_allclose(sess.run(product), expected, rtol=1e-13, atol=1e-13)
    for var, value in ((x, a), (y, b)):
        theoretical, numerical = tf.compat.v1.test.compute_gradient(
            var, value.shape, product, [4, 3, 2], x_init_value=value, delta=1e-6
        )
        np.testing.assert_allclose(theoretical, numerical, rtol=1e-7, atol=1e-8)
