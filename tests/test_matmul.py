"""ops.matmul: TensorFlow's products by default, DkMatMul / DkBatchMatMul (float64 built for
AVX2/FMA) inside ops.cpu_products; both against numpy, with their gradients."""

import numpy as np
import pytest
import tensorflow as tf

from deepkit import ops

needs_avx2 = pytest.mark.skipif(
    not ops.cpu_products_preferred(), reason="no AVX2/FMA, a GPU, or DEEPKIT_CPU_PRODUCTS=0"
)


@pytest.fixture(params=["tensorflow", pytest.param("deepkit", marks=needs_avx2)])
def products(request):
    """The products ops.matmul builds in the test: TensorFlow's, or deepkit's (Dk ops)."""
    with ops.cpu_products(request.param == "deepkit"):
        yield request.param


def product_types(operations) -> set[str]:
    return {op.type for op in operations if "MatMul" in op.type}


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_matmul_matches_numpy_and_has_gradients(sess, rng, products, ta, tb):
    a = rng.normal(size=(5, 7) if not ta else (7, 5))
    b = rng.normal(size=(7, 3) if not tb else (3, 7))
    x, y = tf.constant(a), tf.constant(b)
    product = ops.matmul(x, y, ta, tb)
    assert product.op.type == {"tensorflow": "MatMul", "deepkit": "DkMatMul"}[products]
    expected = (a.T if ta else a) @ (b.T if tb else b)
    np.testing.assert_allclose(sess.run(product), expected, rtol=1e-13, atol=1e-13)
    for var, value in ((x, a), (y, b)):
        theoretical, numerical = tf.compat.v1.test.compute_gradient(
            var, value.shape, product, [5, 3], x_init_value=value, delta=1e-6
        )
        np.testing.assert_allclose(theoretical, numerical, rtol=1e-7, atol=1e-8)


def test_large_product_and_empty_inner_dimension(sess, rng, products):
    a, b = rng.normal(size=(3000, 50)), rng.normal(size=(50, 100))
    np.testing.assert_allclose(
        sess.run(ops.matmul(tf.constant(a), tf.constant(b))), a @ b, rtol=1e-12, atol=1e-12
    )
    empty = ops.matmul(tf.zeros((4, 0), tf.float64), tf.zeros((0, 2), tf.float64))
    assert np.all(sess.run(empty) == 0) and sess.run(empty).shape == (4, 2)


@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True), (True, True)])
def test_batch_matmul_matches_numpy_and_has_gradients(sess, rng, products, ta, tb):
    a = rng.normal(size=(4, 6, 3) if ta else (4, 3, 6))
    b = rng.normal(size=(4, 2, 6) if tb else (4, 6, 2))
    x, y = tf.constant(a), tf.constant(b)
    product = ops.matmul(x, y, ta, tb)
    assert product.op.type == {"tensorflow": "BatchMatMulV2", "deepkit": "DkBatchMatMul"}[products]
    expected = np.matmul(a.transpose(0, 2, 1) if ta else a, b.transpose(0, 2, 1) if tb else b)
    np.testing.assert_allclose(sess.run(product), expected, rtol=1e-13, atol=1e-13)
    for var, value in ((x, a), (y, b)):
        theoretical, numerical = tf.compat.v1.test.compute_gradient(
            var, value.shape, product, [4, 3, 2], x_init_value=value, delta=1e-6
        )
        np.testing.assert_allclose(theoretical, numerical, rtol=1e-7, atol=1e-8)


def test_products_are_tensorflow_s_unless_chosen(sess):
    """Graphs built outside cpu_products (freeze, compress) run on any device."""
    x, x3 = tf.ones((2, 2), tf.float64), tf.ones((3, 2, 2), tf.float64)
    ops.matmul(x, x)
    ops.matmul(x3, x3, transpose_a=True)
    with ops.cpu_products(False):
        ops.matmul(x, x)
    assert product_types(sess.graph.get_operations()) == {"MatMul", "BatchMatMulV2"}


@needs_avx2
def test_cpu_products_choose_deepkit_s_for_float64_only(sess):
    assert ops.cpu_has_avx2_fma()
    x = tf.ones((2, 2), tf.float64)
    with ops.cpu_products():
        product = ops.matmul(x, ops.matmul(x[None], x[None])[0])
        single = ops.matmul(tf.ones((2, 2)), tf.ones((2, 2)))
    assert product.op.type == "DkMatMul" and single.op.type == "MatMul"
    assert ops.matmul(x, x).op.type == "MatMul"  # the block is over
    # A Dk product's gradient is made of Dk products, wherever it is built.
    tf.gradients(tf.reduce_sum(product), [x])
    gradient = {op for op in sess.graph.get_operations() if op.name.startswith("gradients/")}
    assert product_types(gradient) == {"DkMatMul", "DkBatchMatMul"}


def test_environment_turns_cpu_products_off(sess, monkeypatch):
    monkeypatch.setenv("DEEPKIT_CPU_PRODUCTS", "0")
    assert not ops.cpu_products_preferred()
    with ops.cpu_products():
        product = ops.matmul(tf.ones((2, 2), tf.float64), tf.ones((2, 2), tf.float64))
    assert product.op.type == "MatMul"
