"""Reading DeePMD npy / HDF5 systems, discovery, batching and statistics."""

import numpy as np
import pytest
from datasets import random_sets, write_system
from systems import shared_data

from deepkit.data import DataSystems, NpySystem, SetCache, expand_systems
from deepkit.data.batching import batch_sizes, system_probabilities
from deepkit.data.convert import convert
from deepkit.data.stats import energy_bias
from deepkit.descriptor import env_mat
from deepkit.descriptor.stats import env_mat_stats
from deepkit.errors import InputError


def test_reads_shared_water_system():
    system = NpySystem(shared_data("water", "data_0"))
    assert (system.natoms, system.nframes, system.type_map, system.nopbc) == (
        192,
        80,
        ["O", "H"],
        False,
    )
    arrays = system.load_set(0).arrays
    assert arrays["coord"].shape == (80, 576) and arrays["force"].shape == (80, 576)
    assert arrays["energy"].shape == (80,) and arrays["box"].shape == (80, 9)
    raw = np.load(shared_data("water", "data_0", "set.000", "energy.npy"))
    np.testing.assert_array_equal(arrays["energy"], raw)
    assert np.bincount(system.atype).tolist() == [64, 128]


def test_reads_non_periodic_and_tensor_systems():
    systems = expand_systems(str(shared_data("nopbc")))
    assert [s.natoms for s in systems] == [7, 10, 8] and all(s.nopbc for s in systems)
    assert np.all(systems[0].load_set(0).arrays["box"] == 0)
    dipole = NpySystem(shared_data("water_dipole", "atomic_system"))
    assert dipole.load_set(0).arrays["atomic_dipole"].shape[1] % 3 == 0
    polar = NpySystem(shared_data("water_polar", "global_system"))
    assert polar.load_set(0).arrays["polarizability"].shape[1] == 9


def test_hdf5_equals_npy(tmp_path):
    water = shared_data("water", "data_0")
    convert([str(water)], tmp_path / "water.h5", "hdf5")
    (h5,) = expand_systems(str(tmp_path / "water.h5"))
    npy = NpySystem(water)
    assert h5.type_map == npy.type_map and np.array_equal(h5.atype, npy.atype)
    for key, value in npy.load_set(0).arrays.items():
        np.testing.assert_allclose(h5.load_set(0).arrays[key], value, rtol=1e-6)
    same = expand_systems(f"{tmp_path / 'water.h5'}#/{h5.group.strip('/')}")
    assert same[0].nframes == 80


def test_type_map_remapped_by_element_name(tmp_path, rng):
    sets = random_sets(rng, 3, [2])
    system = NpySystem(write_system(tmp_path / "s", [0, 1, 1], ["H", "O"], sets))
    assert system.type_indices(["O", "H"]).tolist() == [1, 0, 0]
    with pytest.raises(
        InputError, match=r"element\(s\) \['O'\].*type_map.raw \['H', 'O'\].*\['H', 'C'\]"
    ):
        system.type_indices(["H", "C"])


def test_discovery_of_directories_and_globs(tmp_path, rng):
    for name in ("a/sys1", "a/b/sys2", "c/sys3"):
        write_system(tmp_path / name, [0, 0], ["Al"], random_sets(rng, 2, [2]))
    assert len(expand_systems(str(tmp_path))) == 3
    assert len(expand_systems("a/**/sys*", base=tmp_path)) == 2
    assert len(expand_systems(["a/sys1", "c"], base=tmp_path)) == 2
    with pytest.raises(InputError, match="does not exist"):
        expand_systems("nowhere", base=tmp_path)
    with pytest.raises(InputError, match="matches nothing"):
        expand_systems("zz*", base=tmp_path)


@pytest.mark.parametrize(
    "breakage, message",
    [
        (
            lambda s: s["force"].__setitem__(slice(None), np.nan),
            r"force.npy: non-finite value at frame 0",
        ),
        (lambda s: s.update(energy=np.zeros(3)), r"energy.npy: 3 frames, but coord.npy has 4"),
        (lambda s: s.update(force=np.zeros((4, 5))), r"force.npy: 5 columns per frame, expected 9"),
        (lambda s: s.update(box=np.zeros((4, 9))), r"box.npy: frame 0 has a singular"),
        (lambda s: s.pop("box"), r"no box.npy"),
    ],
)
def test_bad_arrays_name_file_and_problem(tmp_path, rng, breakage, message):
    sets = random_sets(rng, 3, [4])
    breakage(sets[0])
    system = NpySystem(write_system(tmp_path / "bad", [0, 1, 0], ["O", "H"], sets))
    with pytest.raises(InputError, match=message):
        system.load_set(0)


def test_bad_systems_are_rejected(tmp_path, rng):
    with pytest.raises(InputError, match="type index 2 is outside type_map.raw"):
        NpySystem(write_system(tmp_path / "t", [0, 2], ["O", "H"], random_sets(rng, 2, [1])))
    with pytest.raises(InputError, match="empty system"):
        NpySystem(write_system(tmp_path / "e", [0], ["O"], []))
    with pytest.raises(InputError, match="no such system directory"):
        NpySystem(tmp_path / "missing")


def test_set_cache_stays_bounded(tmp_path, rng):
    system = NpySystem(
        write_system(tmp_path / "s", [0] * 10, ["Al"], random_sets(rng, 10, [50] * 4))
    )
    one_set = system.load_set(0).nbytes
    cache = SetCache(max_bytes=int(1.5 * one_set))
    data = DataSystems([system], ["Al"], batch_size=40, seed=0, cache=cache)
    for _ in range(12):
        data.sample()
    assert cache.nbytes <= 1.5 * one_set


def test_auto_batch_sizes_and_probabilities(tmp_path, rng):
    systems = [
        NpySystem(write_system(tmp_path / f"s{n}", [0] * n, ["Al"], random_sets(rng, n, [frames])))
        for n, frames in ((7, 40), (40, 10), (100, 30), (3, 12))
    ]
    assert batch_sizes(systems, "auto") == [5, 1, 1, 11]
    assert batch_sizes(systems, "auto:64") == [10, 2, 1, 12]  # 22 capped at the 12 frames
    assert batch_sizes(systems, 3) == [3, 3, 3, 3]
    with pytest.raises(InputError, match="4 systems"):
        batch_sizes(systems, [1, 2])
    nbatches = [8, 10, 30, 1]
    np.testing.assert_allclose(system_probabilities(nbatches, auto_prob="prob_uniform"), 0.25)
    np.testing.assert_allclose(system_probabilities(nbatches), np.array(nbatches) / 49)
    blocks = system_probabilities(nbatches, auto_prob="prob_sys_size;0:2:0.3;2:4:0.7")
    np.testing.assert_allclose(blocks, [0.3 * 8 / 18, 0.3 * 10 / 18, 0.7 * 30 / 31, 0.7 / 31])
    np.testing.assert_allclose(
        system_probabilities(nbatches, sys_probs=[1, 1, 2, 0]), [0.25, 0.25, 0.5, 0]
    )


def test_batches_are_reproducible_and_rank_dependent(tmp_path, rng):
    systems = [
        NpySystem(
            write_system(tmp_path / f"s{k}", [0, 1], ["O", "H"], random_sets(rng, 2, [30, 20]))
        )
        for k in range(3)
    ]

    def stream(seed, rank):
        data = DataSystems(systems, ["O", "H"], batch_size=4, seed=seed, rank=rank)
        return [(b["system"], b["coord"].tobytes()) for b in (data.sample() for _ in range(20))]

    assert stream(5, 0) == stream(5, 0)
    assert stream(5, 0) != stream(5, 1)
    batch = DataSystems(systems, ["H", "O"], batch_size=4, seed=1).sample()
    assert batch["coord"].shape == (4, 2, 3) and batch["force"].shape == (4, 2, 3)
    assert batch["atype"].tolist() == [1, 0] and "virial" not in batch
    # Frequencies follow the probabilities.
    data = DataSystems(systems, ["O", "H"], batch_size=1, sys_probs=[0.6, 0.3, 0.1], seed=2)
    counts = np.bincount([data.sample()["system"] for _ in range(3000)], minlength=3) / 3000
    np.testing.assert_allclose(counts, [0.6, 0.3, 0.1], atol=0.04)


def test_energy_bias_is_deepmd_kits_least_squares_over_system_means():
    """DeePMD-kit's fit: one row per system, its mean energy over the frames taken against
    its atom counts, every system weighted alike (not by its number of frames)."""
    systems = expand_systems(str(shared_data("nopbc")))
    assert len({s.nframes for s in systems}) > 1  # equal weights would hide a frame weight
    rows, targets = [], []
    for s in systems:
        energies = np.concatenate([s.load_set(k).arrays["energy"] for k in range(len(s.sets))])
        rows.append(np.bincount(s.atype, minlength=3))
        targets.append(energies.mean())
    expected, *_ = np.linalg.lstsq(np.array(rows, float), np.array(targets), rcond=None)
    np.testing.assert_allclose(energy_bias(systems, ["C", "H", "O"]), expected, rtol=1e-10)
    # Given picks (training's stat draws), only those frames count, repeats included.
    picks = [[(0, 0), (0, 0), (0, 1)] for _ in systems]
    targets = []
    for s in systems:
        energy = s.load_set(0).arrays["energy"]
        targets.append((2 * energy[0] + energy[1]) / 3)
    expected, *_ = np.linalg.lstsq(np.array(rows, float), np.array(targets), rcond=None)
    bias = energy_bias(systems, ["C", "H", "O"], frames=picks)
    np.testing.assert_allclose(bias, expected, rtol=1e-10)


def test_stat_draws_are_the_stream_the_training_then_continues():
    """stat_draws takes nbatch batches of each system from the stream itself: the same
    seed's sample() calls give the same frames, and the stream goes on after them."""
    systems = expand_systems(str(shared_data("water")))
    draws = DataSystems(systems, ["O", "H"], batch_size=2, seed=5).stat_draws(3)
    replay = DataSystems(systems, ["O", "H"], batch_size=2, seed=5)
    expected = [
        [(s.sets.index(name), f) for _ in range(3) for name, f in replay.sample(k)["frames"]]
        for k, s in enumerate(systems)
    ]
    assert draws == expected and all(len(d) == 6 for d in draws)


def test_env_mat_stats_match_direct_numpy():
    (system,) = expand_systems(str(shared_data("water", "data_0")))
    sel = [46, 92]
    avg, std = env_mat_stats([system], ["O", "H"], 6.0, 0.5, sel, frames=3)
    arrays = system.load_set(0).arrays
    frames = [0, 39, 79]
    em, *_ = env_mat(
        arrays["coord"][frames].reshape(3, 192, 3),
        system.atype,
        arrays["box"][frames].reshape(3, 3, 3),
        6.0,
        0.5,
        sel,
    )
    for t in range(2):
        rows = em[:, system.atype == t].reshape(-1, 4)
        assert avg[t, 0, 0] == pytest.approx(rows[:, 0].mean(), rel=1e-10)
        assert std[t, 5, 0] == pytest.approx(rows[:, 0].std(), rel=1e-8)
        xyz = rows[:, 1:]  # one std shared by x, y, z (DeePMD-kit's statistic)
        assert std[t, 7, 2] == pytest.approx(np.sqrt((xyz**2).mean() - xyz.mean() ** 2), rel=1e-8)
        assert np.all(avg[t, :, 1:] == 0)
