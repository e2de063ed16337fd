"""The embedding nets run on occupied neighbour slots only (deepkit/nn/slots.py and
SmoothEmbedding._embedded): the descriptor still equals the plain sum over every slot,
empty ones included, and the derivatives training takes through the gathers are right."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from models import small_config
from reference import embedding_net
from systems import random_box

from deepkit import ops
from deepkit.descriptor import env_mat
from deepkit.model.base import make_model
from deepkit.nn.slots import OccupiedSlots

v1 = tf.compat.v1
SEL = [32, 36]  # about half the slots empty for the system below
NEURON = [5, 10, 20]  # a first layer, then two doubling (residual) layers


def crowd(rng, natoms=28, length=6.0):
    box = random_box(rng, length, tilt=0.15)
    coord = rng.uniform(0, 1, (natoms, 3)) @ box
    atype = rng.permutation(np.arange(natoms) % 2).astype(np.int32)
    return coord, atype, box


def test_slots_fill_nearest_first_and_the_empty_ones_come_last(rng):
    """_embedded's empty share assumes it of every type block of the neighbour list."""
    coord, atype, box = crowd(rng)
    _, _, rij, nlist = env_mat(coord, atype, box, 4.0, 1.0, SEL)
    begin = np.cumsum([0, *SEL])
    filled = []
    for lo, hi in itertools.pairwise(begin):
        block = nlist[0, :, lo:hi] >= 0
        count = block.sum(axis=1)
        assert (block == (np.arange(hi - lo) < count[:, None])).all()
        r = np.linalg.norm(rij[0, :, lo:hi], axis=-1)
        assert all((np.diff(r[i, : count[i]]) >= 0).all() for i in range(len(r)))
        filled.append(block.mean())
    assert 0.2 < np.mean(filled) < 0.8  # the case has empty and filled slots to tell apart


class Descriptor:
    """A model's descriptor built alone, with statistics that differ per type and per slot
    (the empty rows then differ slot by slot, the hardest case for the empty share)."""

    def __init__(self, rng, keys):
        keys = {"sel": SEL, "neuron": NEURON, "axis_neuron": 3, **keys}
        self.model = make_model(small_config(keys)["model"])
        self.desc = desc = self.model.descriptor
        ntypes, nnei, ncomp = desc.avg.shape
        desc.avg = rng.normal(0, 0.3, (ntypes, nnei, ncomp))
        desc.std = rng.uniform(0.5, 1.5, (ntypes, nnei, ncomp))
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.coord = v1.placeholder(tf.float64, [1, None, 3])
            self.atype = v1.placeholder(tf.int32, [1, None])
            self.box = v1.placeholder(tf.float64, [1, 9])
            self.d = desc.build(self.coord, self.atype, self.box).d
            self.variables = v1.global_variables()
            init = v1.global_variables_initializer()
        self.sess = v1.Session(graph=self.graph)
        self.sess.run(init)

    def __call__(self, coord, atype, box):
        feed = {self.coord: coord[None], self.atype: atype[None], self.box: box.reshape(1, 9)}
        return self.sess.run(self.d, feed)

    def values(self):
        values = self.sess.run(self.variables)
        return {v.name[:-2]: x for v, x in zip(self.variables, values, strict=True)}


def dense_reference(desc, values, coord, atype, box):
    """se_e2_a / se_e2_r by the formula: every slot through its net, empty ones included."""
    ncomp = desc.ncomp
    raw, *_ = env_mat(coord, atype, box, desc.rcut, desc.rcut_smth, desc.sel, desc.env_kind)
    raw = raw[0].reshape(len(atype), desc.nnei, ncomp)
    rows = (raw - desc.avg[atype]) * (1.0 / desc.std[atype])  # empty slots: raw 0
    begin = np.cumsum([0, *desc.sel])
    excluded = desc._pair_mask() == 0
    out = []
    for i, ti in enumerate(atype):
        total = 0.0
        for t in range(desc.ntypes):
            block = rows[i, begin[t] : begin[t + 1]]
            if excluded[ti, t]:
                block = np.zeros_like(block)
            scope = desc._scope(None if desc.type_one_side else ti, t)
            g = embedding_net(block[:, :1], values, scope)
            total = total + (g.T @ block if ncomp == 4 else g.sum(axis=0))
        total = total / desc.nnei
        if ncomp == 4:
            out.append((total @ total[: desc.axis_neuron].T).reshape(-1))
        else:
            out.append(desc.finish(total))  # a scale factor
    return np.array(out)


CASES = [
    pytest.param({}, id="a"),
    pytest.param({"type_one_side": True}, id="a-one-side"),
    pytest.param({"exclude_types": [[0, 1]]}, id="a-exclude"),
    pytest.param({"type_one_side": True, "exclude_types": [[1, 1]]}, id="a-one-side-exclude"),
    pytest.param({"type": "se_e2_r"}, id="r"),
    pytest.param(
        {"type": "se_e2_r", "type_one_side": True, "exclude_types": [[0, 1]]}, id="r-1s-ex"
    ),
]


@pytest.mark.parametrize("keys", CASES)
@pytest.mark.parametrize("gpu_form", [False, True], ids=["cpu", "gpu-form"])
def test_descriptor_equals_the_sum_over_every_slot(rng, keys, gpu_form, monkeypatch):
    """gpu-form: the graph a GPU machine builds (G put back in every slot, no slot op)."""
    monkeypatch.setattr(ops, "gpu_present", lambda: gpu_form)
    build = Descriptor(rng, keys)
    coord, atype, box = crowd(rng)
    d = build(coord, atype, box)
    want = dense_reference(build.desc, build.values(), coord, atype, box)
    np.testing.assert_allclose(d[:, : want.shape[1]], want, rtol=1e-12, atol=1e-13)


def test_compact_and_expand_are_adjoint_through_second_derivatives():
    """d/dx of <w, expand(f(compact(x)))> and its derivative again, against the same map
    written with a mask (TensorFlow's own gradients)."""
    rng = np.random.default_rng(7)
    occupied = rng.uniform(size=40) < 0.5
    x0, w = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    with tf.Graph().as_default(), v1.Session() as sess:
        x = tf.constant(x0)
        slots = OccupiedSlots(tf.constant(occupied))
        y = tf.reduce_sum(w * slots.expand(tf.sin(slots.compact(x)) ** 2))
        masked = tf.reduce_sum(w * tf.where(occupied[:, None], tf.sin(x) ** 2, tf.zeros_like(x)))
        grads = [tf.gradients(f, x)[0] for f in (y, masked)]
        second = [tf.gradients(tf.reduce_sum(g**2), x)[0] for g in grads]
        values = sess.run([y, masked, *grads, *second])
    np.testing.assert_allclose(values[0], values[1], rtol=1e-14)
    np.testing.assert_allclose(values[2], values[3], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(values[4], values[5], rtol=1e-14, atol=1e-15)


def slot_inputs(rng, dtype=np.float64):
    count = np.array([3, 0, 5, 1], np.int32)
    g = rng.normal(size=(count.sum(), 6)).astype(dtype)
    r = rng.normal(size=(count.sum(), 4)).astype(dtype)
    return g, r, count


def test_slot_contract_is_g_transposed_r_per_atom(rng):
    g, r, count = slot_inputs(rng)
    begin = np.cumsum([0, *count])
    want = np.stack([g[b:e].T @ r[b:e] for b, e in itertools.pairwise(begin)])
    with tf.Graph().as_default(), v1.Session() as sess:
        got = sess.run(ops.slot_contract(tf.constant(g), tf.constant(r), tf.constant(count)))
        got32 = sess.run(
            ops.slot_contract(tf.constant(g, tf.float32), tf.constant(r, tf.float32), count)
        )
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(got32, want, rtol=1e-5, atol=1e-5)
    assert not got[1].any()  # an atom with no occupied slot


def test_slot_contract_derivatives_to_second_order(rng):
    """Against the same function written densely (a matmul per atom over padded slots)."""
    g0, r0, count = slot_inputs(rng)
    w = rng.normal(size=(len(count), 6, 4))
    pad = np.zeros((len(count), count.max()), bool)
    for i, c in enumerate(count):
        pad[i, :c] = True
    index = np.flatnonzero(pad.reshape(-1))
    with tf.Graph().as_default(), v1.Session() as sess:
        g, r = tf.constant(g0), tf.constant(r0)

        def dense(x, width):
            return tf.reshape(
                tf.scatter_nd(index[:, None], x, [pad.size, width]), [*pad.shape, width]
            )

        ours = tf.reduce_sum(w * tf.sin(ops.slot_contract(g, r, count)))
        plain = tf.reduce_sum(w * tf.sin(tf.matmul(dense(g, 6), dense(r, 4), transpose_a=True)))
        values = []
        for f in (ours, plain):
            dg, dr = tf.gradients(f, [g, r])
            second = tf.gradients(tf.reduce_sum(dg**2) + tf.reduce_sum(dr**3), [g, r])
            values.append(sess.run([f, dg, dr, *second]))
    for a, b in zip(*values, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("count", [[3, 0, 5, 2], [3, -1, 5, 2]], ids=["too-many", "negative"])
def test_slot_contract_refuses_counts_that_do_not_match_the_rows(rng, count):
    g, r, _ = slot_inputs(rng)
    with tf.Graph().as_default(), v1.Session() as sess:
        out = ops.slot_contract(tf.constant(g), tf.constant(r), tf.constant(count, tf.int32))
        with pytest.raises(tf.errors.InvalidArgumentError, match="slot_contract"):
            sess.run(out)


@pytest.mark.parametrize(
    "keys", [{}, {"type_one_side": True}, {"type": "se_e2_r"}], ids=["a", "a-one-side", "r"]
)
def test_weight_gradients_include_the_empty_slots(rng, keys):
    """Training's gradient in the nets' weights, empty slots' share included, against
    central differences of sum(w d) in a few entries of every embedding weight."""
    build = Descriptor(rng, keys)
    coord, atype, box = crowd(rng)
    feed = {build.coord: coord[None], build.atype: atype[None], build.box: box.reshape(1, 9)}
    with build.graph.as_default():
        w = tf.constant(rng.normal(size=(len(atype), build.desc.dim_out)))
        loss = tf.reduce_sum(w * build.d)
        weights = [v for v in build.variables if "filter_type" in v.name and "matrix" in v.name]
        grads = tf.gradients(loss, weights)
        value = v1.placeholder(tf.float64)
        assigns = [v.assign(value) for v in weights]
    for var, grad, assign in zip(weights, build.sess.run(grads, feed), assigns, strict=True):
        x0 = build.sess.run(var)
        for index in list(np.ndindex(x0.shape))[:: max(1, x0.size // 3)]:
            sides = []
            for step in (1e-6, -1e-6):
                x = x0.copy()
                x[index] += step
                build.sess.run(assign, {value: x})
                sides.append(build.sess.run(loss, feed))
            build.sess.run(assign, {value: x0})
            numeric = (sides[0] - sides[1]) / 2e-6
            assert abs(grad[index] - numeric) <= 1e-6 * max(1.0, abs(numeric)), (var.name, index)


def test_slot_contract_any_components_and_float32_gradients(rng):
    """The kernels' generic path (c other than 1 and 4) and float32 gradients."""
    count = np.array([2, 3, 0], np.int32)
    g0 = rng.normal(size=(5, 7))
    r0 = rng.normal(size=(5, 3))
    begin = np.cumsum([0, *count])
    want = np.stack([g0[b:e].T @ r0[b:e] for b, e in itertools.pairwise(begin)])
    with tf.Graph().as_default(), v1.Session() as sess:
        for dtype, tol in ((tf.float64, 1e-13), (tf.float32, 1e-5)):
            g, r = tf.constant(g0, dtype), tf.constant(r0, dtype)
            out = ops.slot_contract(g, r, count)
            dg, dr = tf.gradients(tf.reduce_sum(out * tf.constant(want, dtype)), [g, r])
            got, got_dg, got_dr = sess.run([out, dg, dr])
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
            rows = np.repeat(np.arange(3), count)
            np.testing.assert_allclose(
                got_dg, np.einsum("pmc,pc->pm", want[rows], r0), rtol=tol, atol=tol
            )
            np.testing.assert_allclose(
                got_dr, np.einsum("pmc,pm->pc", want[rows], g0), rtol=tol, atol=tol
            )


def test_slot_contract_refuses_widths_whose_outputs_overflow():
    """A crafted graph's empty inputs may carry any dimensions: one InvalidArgument, no abort."""
    with tf.Graph().as_default(), v1.Session() as sess:
        wide = tf.zeros([0, 2**21], tf.float64)
        out = ops.slot_contract(wide, tf.zeros([0, 4], tf.float64), tf.zeros([3], tf.int32))
        with pytest.raises(tf.errors.InvalidArgumentError, match="width"):
            sess.run(out)
