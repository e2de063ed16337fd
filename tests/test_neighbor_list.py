"""The cell-list neighbour list against a brute-force search over all periodic images."""

import numpy as np
import pytest
import reference
import tensorflow as tf
from systems import random_box, replicate, water_frame

from deepkit import ops
from deepkit.descriptor import NeighborOverflowWarning, env_mat


def op_neighbors(coord, atype, box, rcut, sel):
    _, _, rij, nlist = env_mat(
        coord[None], atype, None if box is None else box[None], rcut, 0.0, sel
    )
    return nlist[0], rij[0]


def assert_matches_reference(coord, atype, box, rcut, sel, centres=None):
    nlist, rij = op_neighbors(coord, atype, box, rcut, sel)
    centres = range(len(coord)) if centres is None else centres
    for i in centres:
        ref_nlist, ref_rij, _ = reference.neighbors(coord, atype, box, rcut, sel, centre=i)
        assert reference.canonical_rows(
            nlist[i : i + 1], rij[i : i + 1], sel
        ) == reference.canonical_rows(ref_nlist[None], ref_rij[None], sel), f"centre {i}"
    assert_sorted(nlist, rij, sel)
    return nlist, rij


def assert_sorted(nlist, rij, sel):
    """Within each type block: filled slots first, distance non-decreasing, ties by index."""
    begin = np.concatenate([[0], np.cumsum(sel)])
    r = np.linalg.norm(rij, axis=-1)
    for t in range(len(sel)):
        block_n, block_r = nlist[:, begin[t] : begin[t + 1]], r[:, begin[t] : begin[t + 1]]
        filled = block_n >= 0
        assert np.all(filled[:, :-1] >= filled[:, 1:]), "empty slot before a filled one"
        both = filled[:, :-1] & filled[:, 1:]
        dr = block_r[:, 1:] - block_r[:, :-1]
        assert np.all(dr[both] > -1e-12)
        tie = both & (np.abs(dr) < 1e-12)
        assert np.all(block_n[:, 1:][tie] >= block_n[:, :-1][tie])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triclinic_box_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    box = random_box(rng, 9.0)
    natoms = 40
    coord = rng.uniform(0, 1, (natoms, 3)) @ box
    atype = rng.integers(0, 3, natoms)
    assert_matches_reference(coord, atype, box, 4.5, [30, 30, 30])


def test_box_shorter_than_twice_rcut_counts_every_image(rng):
    box = random_box(rng, 3.2, tilt=0.15)
    coord = rng.uniform(0, 1, (3, 3)) @ box
    atype = np.array([1, 0, 1])
    nlist, _ = assert_matches_reference(coord, atype, box, 5.0, [80, 160])
    # Each atom sees its own periodic images.
    assert all(i in nlist[i] for i in range(3))


def test_atoms_outside_the_box_are_wrapped(rng):
    box = random_box(rng, 8.0)
    coord = rng.uniform(-1.5, 2.5, (25, 3)) @ box
    assert_matches_reference(coord, rng.integers(0, 2, 25), box, 4.0, [40, 40])


def test_non_periodic_matches_brute_force(rng):
    coord = rng.uniform(0, 10, (50, 3))
    coord[-1] += 100.0  # an isolated atom far away: no neighbours, no huge cell grid
    atype = rng.integers(0, 2, 50)
    nlist, _ = assert_matches_reference(coord, atype, None, 4.0, [30, 30])
    assert np.all(nlist[-1] == -1)


def test_shuffled_types_give_the_same_neighbours(rng):
    box = random_box(rng, 8.0)
    coord = rng.uniform(0, 1, (30, 3)) @ box
    atype = rng.integers(0, 2, 30)
    perm = rng.permutation(30)
    nlist, rij = op_neighbors(coord, atype, box, 4.0, [40, 40])
    p_nlist, p_rij = op_neighbors(coord[perm], atype[perm], box, 4.0, [40, 40])
    # Atom perm[k] became atom k: map the permuted list back to the original indices.
    mapped = np.where(p_nlist >= 0, perm[np.maximum(p_nlist, 0)], -1)
    inverse = np.argsort(perm)
    assert reference.canonical_rows(
        mapped[inverse], p_rij[inverse], [40, 40]
    ) == reference.canonical_rows(nlist, rij, [40, 40])


def test_neighbour_exactly_at_rcut_is_excluded():
    coord = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 0.0], [0.0, 5.999999, 0.0]])
    nlist, _ = op_neighbors(coord, np.zeros(3, int), None, 6.0, [4])
    assert sorted(nlist[0][nlist[0] >= 0]) == [2]


def test_overflow_is_reported_with_the_largest_count(rng):
    box = random_box(rng, 8.0)
    coord = rng.uniform(0, 1, (40, 3)) @ box
    atype = rng.integers(0, 2, 40)
    counts = reference.neighbors(coord, atype, box, 4.0, [1, 1])[2]
    with pytest.warns(NeighborOverflowWarning) as record:
        _, rij = op_neighbors(coord, atype, box, 4.0, [3, 3])
    message = str(record[0].message)
    assert f"type 0: {counts[:, 0].max()} > sel[0]=3" in message
    assert f"type 1: {counts[:, 1].max()} > sel[1]=3" in message
    # The kept ones are the nearest.
    _, full_rij = op_neighbors(coord, atype, box, 4.0, [40, 40])
    np.testing.assert_allclose(rij[:, :3], full_rij[:, :3], atol=1e-12)
    np.testing.assert_allclose(rij[:, 3:], full_rij[:, 40:43], atol=1e-12)


def test_water_12288_cell_list_equals_brute_force():
    coord, atype, box = replicate(*water_frame(), 4)
    assert len(coord) == 12288
    centres = np.random.default_rng(7).choice(len(coord), 24, replace=False)
    assert_matches_reference(coord, atype, box, 6.0, [60, 120], centres=centres)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda c, t, b: (np.where(np.arange(c.size).reshape(c.shape) == 7, np.nan, c), t, b),
            "coordinate of atom 2 is not finite",
        ),
        (
            lambda c, t, b: (c, t, np.array([[1.0, 0, 0], [2.0, 0, 0], [0, 0, 1.0]])),
            "box is singular",
        ),
        (
            lambda c, t, b: (c, np.where(np.arange(len(t)) == 3, -1, t), b),
            "atom 3 has type -1, expected 0..1",
        ),
        (
            lambda c, t, b: (c, np.where(np.arange(len(t)) == 4, 2, t), b),
            "atom 4 has type 2, expected 0..1",
        ),
        (lambda c, t, b: (np.vstack([c[:5], c[:1]]), t[:6], b), "are at the same position"),
    ],
)
def test_bad_input_names_the_problem(rng, change, message):
    box = np.eye(3) * 8.0
    coord, atype = rng.uniform(0, 8, (10, 3)), rng.integers(0, 2, 10)
    coord, atype, box = change(coord, atype, box)
    with pytest.raises(ValueError, match=message):
        env_mat(coord[None], atype, box[None], 4.0, 1.0, [20, 20])


def test_rcut_smth_not_below_rcut_is_rejected(rng):
    with pytest.raises(ValueError, match="rcut_smth"):
        env_mat(rng.uniform(0, 5, (1, 4, 3)), np.zeros(4, int), None, 4.0, 4.0, [5])


def op_rows(coord, atype, box, rcut, sel, mixed_types):
    """One frame through ops.neighbor_list: nlist, rij, max_count."""
    box = np.zeros(9) if box is None else box
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        rows = ops.neighbor_list(
            coord[None], atype[None].astype(np.int32), box.reshape(1, 9), rcut, sel, mixed_types
        )
        return tuple(a[0] for a in sess.run(rows))


def mixed_frame(kind, rng):
    """(coord, atype, box, rcut): 2-3 types; the periodic boxes are shorter than 2 rcut."""
    if kind == "open":
        return rng.uniform(0, 9, (40, 3)), rng.integers(0, 3, 40), None, 4.0
    box = np.diag([4.0, 5.5, 7.0]) if kind == "orthogonal" else random_box(rng, 5.0, tilt=0.2)
    natoms, ntypes = (14, 3) if kind == "orthogonal" else (18, 2)
    coord = rng.uniform(-0.2, 1.2, (natoms, 3)) @ box
    return coord, rng.integers(0, ntypes, natoms), box, 4.5


@pytest.mark.parametrize("kind", ["orthogonal", "triclinic", "open"])
@pytest.mark.parametrize("truncate", [False, True])
def test_mixed_types_match_brute_force(rng, kind, truncate):
    coord, atype, box, rcut = mixed_frame(kind, rng)
    most = reference.neighbors(coord, atype, box, rcut, [1], mixed_types=True)[2].max()
    nnei = most // 2 if truncate else most + 5
    nlist, rij, max_count = op_rows(coord, atype, box, rcut, [nnei], mixed_types=True)
    ref_nlist, ref_rij, counts = reference.neighbors(
        coord, atype, box, rcut, [nnei], mixed_types=True
    )
    assert nlist.shape == (len(coord), nnei) and max_count.tolist() == [most]
    assert reference.canonical_rows(nlist, rij, [nnei]) == reference.canonical_rows(
        ref_nlist, ref_rij, [nnei]
    )
    assert_sorted(nlist, rij, [nnei])
    assert np.all(rij[nlist < 0] == 0.0)
    assert np.array_equal((nlist >= 0).sum(1), np.minimum(counts[:, 0], nnei))
    assert len(set(atype[nlist[nlist >= 0]])) > 1  # one block really holds several types


@pytest.mark.parametrize("kind", ["triclinic", "open"])
def test_mixed_types_hold_the_union_of_the_type_blocks(rng, kind):
    coord, atype, box, rcut = mixed_frame(kind, rng)
    ntypes = atype.max() + 1
    blocked = op_rows(coord, atype, box, rcut, [80] * ntypes, mixed_types=False)
    nlist, rij, max_count = op_rows(coord, atype, box, rcut, [80 * ntypes], mixed_types=True)
    assert np.all(blocked[2] < 80)  # nothing dropped from either list
    # One block: the largest total count of a centre.
    total = reference.neighbors(coord, atype, box, rcut, [1] * ntypes)[2].sum(1)
    assert max_count.tolist() == [total.max()]
    for i in range(len(coord)):
        [row] = reference.canonical_rows(nlist[i : i + 1], rij[i : i + 1], [80 * ntypes])
        blocks = reference.canonical_rows(
            blocked[0][i : i + 1], blocked[1][i : i + 1], [80] * ntypes
        )
        assert row[0] == sorted(e for block in blocks[0] for e in block), f"centre {i}"


MIXED_SEL_ERROR = "mixed_types takes exactly one sel entry (the slots all types share), got 2"


def test_mixed_types_with_two_sel_entries_is_refused_in_one_line():
    coord, atype, box = np.zeros((1, 2, 3)), np.zeros((1, 2), np.int32), np.zeros((1, 9))
    coord[0, 1, 0] = 1.0
    with tf.Graph().as_default(), pytest.raises(ValueError) as graph_error:
        ops.neighbor_list(coord, atype, box, 3.0, [4, 4], mixed_types=True)
    assert str(graph_error.value).startswith(f"DkNeighborList: {MIXED_SEL_ERROR} for ")
    with pytest.raises(tf.errors.InvalidArgumentError) as kernel_error:  # eager: no shape fn
        ops.neighbor_list(coord, atype, box, 3.0, [4, 4], mixed_types=True)
    assert f"DkNeighborList: {MIXED_SEL_ERROR} [Op:" in kernel_error.value.message
    assert "\n" not in str(graph_error.value) + kernel_error.value.message


def test_mixed_types_refuse_only_negative_types(rng):
    coord = rng.uniform(0, 6, (8, 3))
    atype = np.array([0, 1, 2, 7, 0, 1, 2, 7])  # no bound: sel does not count the types
    nlist, _, _ = op_rows(coord, atype, np.eye(3) * 6, 4.0, [20], mixed_types=True)
    assert set(nlist[0][nlist[0] >= 0]) == set(range(1, 8))  # 6 A box: every atom in reach
    atype[5] = -1
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        op_rows(coord, atype, np.eye(3) * 6, 4.0, [20], mixed_types=True)
    assert ops.error_text(error.value) == (
        "DkNeighborList: frame 0: atom 5 has type -1, expected a type index >= 0"
    )
