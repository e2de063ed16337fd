"""prod_force / prod_virial against numpy loops, their registered gradients against
numerical Jacobians, and forces and virials of a model energy against finite differences."""

import numpy as np
import pytest
import reference
import tensorflow as tf
from finite_diff import numeric_force, numeric_virial
from systems import random_box

from deepkit import ops

RCUT, RCUT_SMTH, SEL = 4.0, 1.0, [24, 24]
NNEI = sum(SEL)


def random_products(rng, nframes=2, nloc=12, nall=20, nnei=10, ncomp=4):
    """Random inputs of the product ops with ghost atoms (nall > nloc) and empty slots."""
    nlist = rng.integers(-1, nall, (nframes, nloc, nnei)).astype(np.int32)
    net_deriv = rng.normal(size=(nframes, nloc, nnei, ncomp))
    em_deriv = rng.normal(size=(nframes, nloc, nnei, ncomp, 3))
    rij = rng.normal(size=(nframes, nloc, nnei, 3))
    return net_deriv, em_deriv, rij, nlist


@pytest.mark.parametrize("ncomp", [4, 1])
def test_products_match_reference_with_ghosts(sess, rng, ncomp):
    nall = 20
    net_deriv, em_deriv, rij, nlist = random_products(rng, nall=nall, ncomp=ncomp)
    force, (virial, atom_virial) = sess.run(
        [
            ops.prod_force(net_deriv, em_deriv, nlist, nall),
            ops.prod_virial(net_deriv, em_deriv, rij, nlist, nall),
        ]
    )
    for f in range(len(nlist)):
        np.testing.assert_allclose(
            force[f],
            reference.prod_force(net_deriv[f], em_deriv[f], nlist[f], nall),
            rtol=1e-12,
            atol=1e-12,
        )
        ref_v, ref_av = reference.prod_virial(net_deriv[f], em_deriv[f], rij[f], nlist[f], nall)
        np.testing.assert_allclose(virial[f], ref_v, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(atom_virial[f], ref_av, rtol=1e-12, atol=1e-12)
    # Force is a sum of equal and opposite pairs.
    np.testing.assert_allclose(force.sum(axis=1), 0.0, atol=1e-12)


@pytest.mark.parametrize("ncomp", [4, 1])
def test_registered_gradients_match_numerical_jacobians(sess, rng, ncomp):
    net_deriv, em_deriv, rij, nlist = random_products(
        rng, nframes=1, nloc=5, nall=8, nnei=4, ncomp=ncomp
    )
    x = tf.constant(net_deriv)
    force = ops.prod_force(x, em_deriv, nlist, 8)
    virial, atom_virial = ops.prod_virial(x, em_deriv, rij, nlist, 8)
    for y in (force, virial, atom_virial):
        theoretical, numerical = tf.compat.v1.test.compute_gradient(
            x, net_deriv.shape, y, y.shape.as_list(), x_init_value=net_deriv, delta=1e-6
        )
        np.testing.assert_allclose(theoretical, numerical, rtol=1e-6, atol=1e-8)
        assert np.abs(theoretical).max() > 0.1


@pytest.mark.parametrize("kind", ["a", "r"])
def test_env_mat_gradient_with_respect_to_rij(sess, rng, kind):
    box = random_box(rng, 6.0)
    coord = rng.uniform(0, 1, (6, 3)) @ box
    atype = rng.integers(0, 2, (1, 6)).astype(np.int32)
    nlist, rij, _ = sess.run(ops.neighbor_list(coord[None], atype, box.reshape(1, 9), RCUT, [8, 8]))
    ncomp = 4 if kind == "a" else 1
    avg, std = np.zeros((2, 16, ncomp)), np.ones((2, 16, ncomp)) * 0.7
    x = tf.constant(rij)
    em, _ = ops.env_mat(x, nlist, atype, avg, std, RCUT_SMTH, RCUT, kind=kind)
    theoretical, numerical = tf.compat.v1.test.compute_gradient(
        x, rij.shape, em, em.shape.as_list(), x_init_value=rij, delta=1e-6
    )
    np.testing.assert_allclose(theoretical, numerical, rtol=1e-5, atol=1e-7)


class ToyModel:
    """E = sum(w * em) + 0.5 * sum((v * em)^2) on a normalised env mat: not rotation
    invariant (w, v weigh x, y, z differently), so the virial's index order is tested."""

    def __init__(self, rng, natoms, kind="a"):
        ncomp = 4 if kind == "a" else 1
        self.coord = tf.compat.v1.placeholder(tf.float64, (1, natoms, 3))
        self.box = tf.compat.v1.placeholder(tf.float64, (1, 9))
        self.atype = tf.compat.v1.placeholder(tf.int32, (1, natoms))
        self.w = tf.compat.v1.placeholder_with_default(
            rng.normal(size=(NNEI, ncomp)), (NNEI, ncomp)
        )
        v = rng.normal(size=(NNEI, ncomp)) * 0.3
        avg = rng.normal(0, 0.1, (2, NNEI, ncomp))
        std = rng.uniform(0.5, 1.5, (2, NNEI, ncomp))
        nlist, rij, _ = ops.neighbor_list(self.coord, self.atype, self.box, RCUT, SEL)
        em, em_deriv = ops.env_mat(rij, nlist, self.atype, avg, std, RCUT_SMTH, RCUT, kind=kind)
        self.energy = tf.reduce_sum(self.w * em) + 0.5 * tf.reduce_sum((v * em) ** 2)
        net_deriv = tf.gradients(self.energy, em)[0]
        self.force = ops.prod_force(net_deriv, em_deriv, nlist, natoms)
        self.virial, self.atom_virial = ops.prod_virial(net_deriv, em_deriv, rij, nlist, natoms)

    def feed(self, coord, atype, box):
        return {self.coord: coord[None], self.atype: atype[None], self.box: box.reshape(1, 9)}


@pytest.mark.parametrize("kind", ["a", "r"])
@pytest.mark.parametrize("periodic", [True, False])
def test_force_and_virial_are_energy_derivatives(sess, rng, kind, periodic):
    natoms = 16
    box = random_box(rng, 5.5, tilt=0.2)  # shorter than 2 * rcut: images of images
    coord = rng.uniform(0, 1, (natoms, 3)) @ box
    atype = rng.integers(0, 2, natoms)
    if not periodic:
        box = np.zeros((3, 3))
    model = ToyModel(rng, natoms, kind)
    energy = lambda c, b: sess.run(model.energy, model.feed(c, atype, b))
    force, virial, atom_virial = sess.run(
        [model.force, model.virial, model.atom_virial], model.feed(coord, atype, box)
    )
    h = 1e-5
    numeric = numeric_force(energy, coord, box, h)
    np.testing.assert_allclose(force[0], numeric, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(atom_virial[0].sum(axis=0), virial[0], atol=1e-10)
    if periodic:
        # W[a, b] = -dE/d eps[b, a] for the strain r -> r (1 + eps), box -> box (1 + eps).
        numeric_w = numeric_virial(energy, coord, box, h)
        np.testing.assert_allclose(virial[0].reshape(3, 3), numeric_w, rtol=1e-6, atol=1e-7)


def test_training_gradient_through_forces_and_virial(sess, rng):
    """d/dw of a loss on forces and virial (second derivative through net_deriv)."""
    natoms = 10
    box = random_box(rng, 6.0)
    coord = rng.uniform(0, 1, (natoms, 3)) @ box
    atype = rng.integers(0, 2, natoms)
    model = ToyModel(rng, natoms)
    loss = (
        tf.reduce_sum(model.force**2)
        + 0.1 * tf.reduce_sum(model.virial**2)
        + 0.01 * tf.reduce_sum(model.atom_virial**2)
    )
    w0 = sess.run(model.w)
    theoretical, numerical = tf.compat.v1.test.compute_gradient(
        model.w,
        w0.shape,
        loss,
        [],
        x_init_value=w0,
        delta=1e-6,
        extra_feed_dict=model.feed(coord, atype, box),
    )
    np.testing.assert_allclose(theoretical, numerical, rtol=1e-5, atol=1e-6)


def test_bad_neighbour_index_is_rejected(sess, rng):
    net_deriv, em_deriv, _, nlist = random_products(rng, nall=20)
    nlist[0, 3, 2] = 25
    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        sess.run(ops.prod_force(net_deriv, em_deriv, nlist, 20))
    assert "nlist entry 25 of atom 3 is outside [-1, 20)" in ops.error_text(err.value)
