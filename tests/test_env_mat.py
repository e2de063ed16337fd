"""Environment matrix: values against the numpy reference, derivatives against central
finite differences, and the symmetries the descriptor relies on."""

import numpy as np
import pytest
import reference
import tensorflow as tf
from systems import random_box, replicate, water_frame

from deepkit import ops
from deepkit.descriptor import env_mat

RCUT, RCUT_SMTH = 4.0, 1.5


def random_system(rng, natoms=30, length=7.0, ntypes=2):
    box = random_box(rng, length)
    return rng.uniform(0, 1, (natoms, 3)) @ box, rng.integers(0, ntypes, natoms), box


def run_env_mat(sess, rij, nlist, atype, avg, std, kind):
    em, em_deriv = ops.env_mat(
        rij[None],
        nlist[None].astype(np.int32),
        atype[None].astype(np.int32),
        avg,
        std,
        RCUT_SMTH,
        RCUT,
        kind=kind,
    )
    return sess.run([em, em_deriv])


def test_switch_is_smooth_at_both_cutoffs():
    """s and ds/dr agree from both sides of rcut_smth and rcut (one-sided differences)."""
    h = 1e-5
    for r0 in (RCUT_SMTH, RCUT):
        left, mid, right = reference.switch(np.array([r0 - h, r0, r0 + h]), RCUT_SMTH, RCUT)
        assert abs(left - right) < 1e-4
        assert abs((mid - left) / h - (right - mid) / h) < 1e-3
    assert reference.switch(np.array([RCUT]), RCUT_SMTH, RCUT)[0] == 0.0


@pytest.mark.parametrize("kind", ["a", "r"])
def test_normalised_env_mat_matches_reference(sess, rng, kind):
    coord, atype, box = random_system(rng)
    sel = [25, 25]
    _, _, rij, nlist = env_mat(coord[None], atype, box[None], RCUT, RCUT_SMTH, sel)
    ncomp = 4 if kind == "a" else 1
    avg = rng.normal(0, 0.2, (2, sum(sel), ncomp))
    std = rng.uniform(0.5, 2.0, (2, sum(sel), ncomp))
    em, _ = run_env_mat(sess, rij[0], nlist[0], atype, avg, std, kind)
    expected = reference.env_mat(rij[0], nlist[0], atype, avg, std, RCUT_SMTH, RCUT, kind)
    np.testing.assert_allclose(em[0], expected, rtol=1e-12, atol=1e-12)
    # Neighbours span both regions of the switch and some slots stay empty.
    r = np.linalg.norm(rij[0][nlist[0] >= 0], axis=-1)
    assert r.min() < RCUT_SMTH < r.max() and (nlist[0] < 0).any()


@pytest.mark.parametrize("kind", ["a", "r"])
def test_em_deriv_matches_central_differences(sess, rng, kind):
    coord, atype, box = random_system(rng, natoms=20)
    sel = [20, 20]
    _, _, rij, nlist = env_mat(coord[None], atype, box[None], RCUT, RCUT_SMTH, sel)
    ncomp = 4 if kind == "a" else 1
    avg = rng.normal(0, 0.2, (2, sum(sel), ncomp))
    std = rng.uniform(0.5, 2.0, (2, sum(sel), ncomp))
    rij_in = tf.compat.v1.placeholder(tf.float64, rij.shape)
    em_t, em_deriv_t = ops.env_mat(
        rij_in, nlist, atype[None].astype(np.int32), avg, std, RCUT_SMTH, RCUT, kind=kind
    )
    em_deriv = sess.run(em_deriv_t, {rij_in: rij})[0]
    h = 1e-6
    numeric = np.zeros_like(em_deriv)
    for e in range(3):
        step = np.zeros(3)
        step[e] = h
        plus = sess.run(em_t, {rij_in: rij + step})[0]
        minus = sess.run(em_t, {rij_in: rij - step})[0]
        numeric[..., e] = (plus - minus) / (2 * h)
    numeric[nlist[0] < 0] = 0.0
    np.testing.assert_allclose(em_deriv, numeric, rtol=1e-6, atol=1e-7)
    assert np.abs(em_deriv).max() > 0.1


def test_rotation_translation_and_lattice_shifts(rng):
    coord, atype, box = random_system(rng)
    sel = [25, 25]
    em, _, _, _ = env_mat(coord[None], atype, box[None], RCUT, RCUT_SMTH, sel)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    moved = (coord + rng.normal(size=3)) @ q
    moved[5] += box[1] @ q - 2 * box[2] @ q  # an atom moved by lattice vectors
    em_rot, _, _, _ = env_mat(moved[None], atype, (box @ q)[None], RCUT, RCUT_SMTH, sel)
    np.testing.assert_allclose(em_rot[..., 0], em[..., 0], atol=1e-12)
    np.testing.assert_allclose(em_rot[..., 1:], em[..., 1:] @ q, atol=1e-12)


def test_permutation_of_atoms_permutes_rows(rng):
    coord, atype, box = random_system(rng)
    sel = [25, 25]
    em, _, _, _ = env_mat(coord[None], atype, box[None], RCUT, RCUT_SMTH, sel)
    perm = rng.permutation(len(coord))
    em_p, _, _, _ = env_mat(coord[perm][None], atype[perm], box[None], RCUT, RCUT_SMTH, sel)
    np.testing.assert_allclose(em_p[0], em[0][perm], atol=1e-12)


def test_non_periodic_frames_and_frame_batches(rng):
    coord, atype, _ = random_system(rng)
    frames = np.stack([coord, coord + 0.1])
    em, _, _, nlist = env_mat(frames, atype, None, RCUT, RCUT_SMTH, [25, 25])
    single, _, _, _ = env_mat(frames[1], atype, None, RCUT, RCUT_SMTH, [25, 25])
    np.testing.assert_allclose(em[1], single[0], atol=1e-14)
    assert em.shape == (2, 30, 50, 4) and nlist.shape == (2, 30, 50)


def test_water_env_mat_shapes_and_sel_suffices():
    coord, atype, box = replicate(*water_frame(), 2)
    em, em_deriv, _, nlist = env_mat(coord[None], atype, box[None], 6.0, 0.5, [46, 92])
    assert em.shape == (1, 1536, 138, 4) and em_deriv.shape == (1, 1536, 138, 4, 3)
    radial = em[0, :, :, 0][nlist[0] >= 0]
    assert radial.min() >= 0.0 and radial.max() < 1.0 / 0.8  # no O-H closer than 0.8 A
