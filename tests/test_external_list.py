"""The external-neighbour-list path (ghost atoms, a caller's CSR list): the kernel against
the periodic neighbour list, and a frozen model's energies, forces and virials against the
periodic evaluation."""

import numpy as np
import pytest
import reference
import tensorflow as tf
from models import frozen_alcu_model
from systems import random_box

from deepkit import ops
from deepkit.infer import DeepPot
from deepkit.infer.external import ghost_frame


def external_rows(frame, rcut, sel, mixed_types=False):
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        return sess.run(
            ops.external_neighbor_list(
                frame.coord[None], frame.atype[None], frame.nloc, frame.offsets,
                frame.neighbors, rcut, sel, mixed_types=mixed_types,
            )
        )  # fmt: skip


def periodic_rows(coord, atype, box, rcut, sel, mixed_types=False):
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        return sess.run(
            ops.neighbor_list(
                coord[None],
                atype[None].astype(np.int32),
                box.reshape(1, 9),
                rcut,
                sel,
                mixed_types=mixed_types,
            )
        )


@pytest.mark.parametrize("length", [5.0, 11.0])  # shorter than 2 rcut: atoms see own images
def test_rows_equal_the_periodic_list(rng, length):
    rcut, sel = 4.0, [40, 40]
    box = random_box(rng, length, tilt=0.2)
    natoms = int(0.05 * abs(np.linalg.det(box)))
    coord = rng.uniform(0, 1, (natoms, 3)) @ box + rng.normal(0, 0.5, (natoms, 3))
    atype = rng.integers(0, 2, natoms)
    frame = ghost_frame(coord, atype, box, rcut + 1.0, rng=rng)  # a skin, shuffled lists
    assert len(frame.coord) > frame.nloc
    nlist, rij, max_count = (a[0] for a in external_rows(frame, rcut, sel))
    ref_nlist, ref_rij, ref_max = (a[0] for a in periodic_rows(coord, atype, box, rcut, sel))
    np.testing.assert_array_equal(max_count, ref_max)
    owner = np.where(nlist >= 0, frame.owner[np.maximum(nlist, 0)], -1)
    assert reference.canonical_rows(owner, rij, sel) == reference.canonical_rows(
        ref_nlist, ref_rij, sel
    )
    assert np.all(nlist < len(frame.coord)) and nlist.shape == (natoms, sum(sel))


@pytest.mark.parametrize("length, nnei", [(5.0, 200), (11.0, 120), (11.0, 15)])
def test_mixed_rows_equal_the_internal_mixed_list(rng, length, nnei):
    """Also truncated (15 slots): the same nearest ones are kept."""
    rcut = 4.0
    box = random_box(rng, length, tilt=0.2)
    natoms = int(0.05 * abs(np.linalg.det(box)))
    coord = rng.uniform(0, 1, (natoms, 3)) @ box
    atype = rng.integers(0, 3, natoms)
    frame = ghost_frame(coord, atype, box, rcut + 1.0, rng=rng)
    nlist, rij, max_count = (a[0] for a in external_rows(frame, rcut, [nnei], True))
    ref_nlist, ref_rij, ref_max = (
        a[0] for a in periodic_rows(coord, atype, box, rcut, [nnei], True)
    )
    assert max_count.shape == (1,) and max_count[0] == ref_max[0] > 0
    assert (max_count[0] > nnei) == (nnei == 15)
    owner = np.where(nlist >= 0, frame.owner[np.maximum(nlist, 0)], -1)
    assert reference.canonical_rows(owner, rij, [nnei]) == reference.canonical_rows(
        ref_nlist, ref_rij, [nnei]
    )


def test_mixed_types_with_two_sel_entries_is_refused(rng):
    frame = ghost_frame(rng.uniform(0, 6, (5, 3)), np.zeros(5, int), np.eye(3) * 6.0, 4.0)
    with pytest.raises(ValueError, match="^DkExternalNeighborList: mixed_types takes exactly one"):
        external_rows(frame, 4.0, [10, 10], mixed_types=True)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: f.offsets.__setitem__(0, 1), "offsets must start at 0"),
        (lambda f: f.offsets.__setitem__(2, f.offsets[1] - 1), "offsets decrease at local atom 1"),
        (lambda f: f.neighbors.__setitem__(0, 10_000), "outside [0, nall"),
        (lambda f: f.neighbors.__setitem__(f.offsets[3], 3), "local atom 3 lists itself"),
        (lambda f: f.coord.__setitem__((f.nloc + 2, 1), np.nan), "is not finite"),
        (lambda f: f.atype.__setitem__(f.nloc, 7), "has type 7"),
    ],
)
def test_bad_lists_are_rejected(rng, change, message):
    box = np.eye(3) * 6.0
    coord = rng.uniform(0, 6, (20, 3))
    frame = ghost_frame(coord, np.zeros(20, int), box, 4.0)
    change(frame)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message.replace("[", r"\[")):
        external_rows(frame, 4.0, [60])


def test_repeated_neighbour_is_rejected(rng):
    coord = np.array([[0, 0, 0], [1.5, 0, 0], [0, 1.5, 0]], float)
    frame = ghost_frame(coord, [0, 0, 0], np.eye(3) * 20, 3.0)
    frame.neighbors = np.array([1, 2, 1] + list(frame.neighbors[2:]), np.int32)
    frame.offsets = frame.offsets + np.array([0, 1, 1, 1], np.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="local atom 0 lists atom 1 twice"):
        external_rows(frame, 3.0, [4])


@pytest.fixture(scope="module")
def alcu(tmp_path_factory):
    root = tmp_path_factory.mktemp("alcu")
    _, arrays, atype = frozen_alcu_model(root)
    return DeepPot(root / "model.pb"), arrays, atype


def test_ghosts_give_the_periodic_result(alcu, rng):
    dp, arrays, atype = alcu
    coord = arrays["coord"][0].reshape(-1, 3)
    box = arrays["box"][0].reshape(3, 3)
    e, f, v, ae, av = dp.eval(coord[None], box[None], atype, atomic=True)
    frame = ghost_frame(coord, atype, box, dp.rcut + 0.5, rng=rng)
    ge, gf, gv, gae, gav = dp.eval_external(
        frame.coord, frame.atype, frame.nloc, frame.offsets, frame.neighbors, atomic=True
    )
    assert len(frame.coord) > 2 * frame.nloc  # the box is shorter than 2 rcut
    np.testing.assert_allclose(ge, e[0, 0], rtol=1e-12)
    np.testing.assert_allclose(gae, ae[0, :, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(frame.reduce(gf), f[0], rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(gv, v[0], rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(frame.reduce(gav), av[0], rtol=1e-10, atol=1e-11)


def test_open_system_with_a_full_list(alcu):
    dp, arrays, atype = alcu
    coord = arrays["coord"][0].reshape(-1, 3)
    n = len(coord)
    e, f, v = dp.eval(coord[None], None, atype)
    neighbors = np.array([j for i in range(n) for j in range(n) if j != i], np.int32)
    offsets = np.arange(n + 1, dtype=np.int32) * (n - 1)
    ge, gf, gv = dp.eval_external(coord, atype, n, offsets, neighbors)
    np.testing.assert_allclose(ge, e[0, 0], rtol=1e-12)
    np.testing.assert_allclose(gf, f[0], rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(gv, v[0], rtol=1e-10, atol=1e-11)


def test_bad_external_input_is_a_value_error(alcu):
    dp, arrays, atype = alcu
    coord = arrays["coord"][0].reshape(-1, 3)
    with pytest.raises(ValueError, match="offsets must start at 0"):
        dp.eval_external(coord, atype, 2, [1, 1, 1], [])
