"""Many elements in the data: DeePMD-kit's mixed-type layout (set.NNN/real_atom_types.npy,
frames of one system that differ in composition) and systems of different element sets in
one run, mapped by name. A mixed-type system must read, batch, give statistics, train and
test exactly as the same frames written as ordinary systems, one per composition."""

import json

import h5py
import numpy as np
import pytest
from datasets import emt_frames
from models import small_config

from deepkit.cli import main
from deepkit.data import DataSystems, NpySystem, expand_systems
from deepkit.data.neighbor_stat import neighbor_stat
from deepkit.data.stats import energy_bias
from deepkit.descriptor.stats import env_mat_stats
from deepkit.errors import InputError
from deepkit.infer import DeepPot
from deepkit.infer.model_devi import model_devi_system

MODEL_TYPES = ["Al", "Cu", "Ni", "Fe"]  # Fe is in no system
MIXED_TYPES = ["Ni", "Cu", "Al"]  # the mixed system's type_map.raw, in another order
COMPOSITIONS = [("Al", "Cu"), ("Cu", "Ni"), ("Al", "Cu", "Ni")]  # 32 atoms each
FRAMES = [4, 4, 3]


def arrays_of(frames):
    """npy arrays (one row per frame) of labelled ASE frames, virial = -V * stress."""
    return {
        "coord": np.array([a.positions.reshape(-1) for a in frames]),
        "box": np.array([a.cell[:].reshape(-1) for a in frames]),
        "energy": np.array([a.get_potential_energy() for a in frames]),
        "force": np.array([a.get_forces().reshape(-1) for a in frames]),
        "virial": np.array(
            [(-a.get_volume() * a.get_stress(voigt=False)).reshape(-1) for a in frames]
        ),
    }


def write_npy(path, type_raw, type_map, sets):
    path.mkdir(parents=True)
    (path / "type.raw").write_text("".join(f"{t}\n" for t in type_raw))
    (path / "type_map.raw").write_text("".join(f"{e}\n" for e in type_map))
    for k, arrays in enumerate(sets):
        (path / f"set.{k:03d}").mkdir()
        for key, value in arrays.items():
            np.save(path / f"set.{k:03d}" / f"{key}.npy", value)
    return path


@pytest.fixture(scope="module")
def alloy(tmp_path_factory):
    """EMT frames of three compositions of 32 atoms: written as one ordinary system per
    composition (root/plain/<i>, type_map.raw the elements it has) and as one mixed-type
    system (root/mixed, two sets, compositions interleaved, each keeping its frames'
    order). Returns (root, [(composition, frame)] of the mixed system's frames in order)."""
    root = tmp_path_factory.mktemp("alloy")
    rng = np.random.default_rng(7)
    per_comp = [emt_frames(rng, n, symbols=c) for c, n in zip(COMPOSITIONS, FRAMES, strict=True)]
    for i, frames in enumerate(per_comp):
        elements = sorted(set(COMPOSITIONS[i]))
        atype = [elements.index(s) for s in frames[0].get_chemical_symbols()]
        write_npy(root / "plain" / str(i), atype, elements, [arrays_of(frames)])
    order = rng.permutation(np.repeat(np.arange(len(FRAMES)), FRAMES))
    taken = [0] * len(FRAMES)
    picks = []
    for comp in order:
        picks.append((int(comp), taken[comp]))
        taken[comp] += 1
    frames = [per_comp[c][f] for c, f in picks]
    types = np.array([[MIXED_TYPES.index(s) for s in a.get_chemical_symbols()] for a in frames])
    sets = []
    for part in (slice(0, 5), slice(5, None)):
        sets.append({**arrays_of(frames[part]), "real_atom_types": types[part]})
    write_npy(root / "mixed", [0] * 32, MIXED_TYPES, sets)  # type.raw: a placeholder
    return root, picks


def plain_systems(root):
    return [NpySystem(root / "plain" / str(i)) for i in range(len(FRAMES))]


def test_mixed_system_batches_as_the_ordinary_systems(alloy, tmp_path):
    root, picks = alloy
    mixed, plain = NpySystem(root / "mixed"), plain_systems(root)
    assert mixed.mixed_type and not plain[0].mixed_type
    # The same system in HDF5 reads the same.
    with h5py.File(tmp_path / "mixed.h5", "w") as out:
        for item in (root / "mixed").rglob("*"):
            if item.is_file():
                name = f"sys/{item.relative_to(root / 'mixed')}"
                out[name] = np.load(item) if item.suffix == ".npy" else item.read_text()
    (h5,) = expand_systems(f"{tmp_path / 'mixed.h5'}#sys")
    batches = DataSystems([mixed], MODEL_TYPES, batch_size=1, shuffle=False)
    h5_batches = DataSystems([h5], MODEL_TYPES, batch_size=1, shuffle=False)
    reference = DataSystems(plain, MODEL_TYPES, batch_size=1, shuffle=False)
    for comp, _ in picks:
        batch, h5_batch, expected = (
            batches.sample(),
            h5_batches.sample(),
            reference.sample(comp),
        )
        assert batch["atype"].shape == (1, 32)
        np.testing.assert_array_equal(batch["atype"][0], expected["atype"])
        np.testing.assert_array_equal(h5_batch["atype"], batch["atype"])
        for key in ("coord", "box", "energy", "force", "virial"):
            np.testing.assert_array_equal(batch[key], expected[key])


def test_mixed_system_gives_the_ordinary_systems_statistics(alloy):
    root, _ = alloy
    mixed, plain = [NpySystem(root / "mixed")], plain_systems(root)
    # DeePMD-kit's energy bias: a mixed-type system is one row, its mean energy against its
    # mean atom count of each type over its frames.
    counts, energies = [], []
    for k in range(2):
        frames = mixed[0].load_set(k)
        types = mixed[0].frame_types(frames, MODEL_TYPES)
        counts += list((types[:, :, None] == np.arange(len(MODEL_TYPES))).sum(axis=1))
        energies += list(frames.arrays["energy"])
    row = np.mean(counts, axis=0)
    expected, *_ = np.linalg.lstsq(row[None], [np.mean(energies)], rcond=None)
    np.testing.assert_allclose(energy_bias(mixed, MODEL_TYPES), expected, rtol=1e-10)
    sel = [30, 30, 30, 30]
    ours = env_mat_stats(mixed, MODEL_TYPES, 4.5, 1.0, sel, frames=100)
    theirs = env_mat_stats(plain, MODEL_TYPES, 4.5, 1.0, sel, frames=100)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    count, dist = neighbor_stat(mixed, MODEL_TYPES, 4.5)
    expected_count, expected_dist = neighbor_stat(plain, MODEL_TYPES, 4.5)
    assert count.tolist() == expected_count.tolist() and dist == pytest.approx(expected_dist)
    assert count[:3].min() > 0 and count[3] == 0


def test_convert_writes_a_mixed_system_per_composition(alloy, tmp_path):
    from deepkit.data.convert import convert

    root, _ = alloy
    convert([str(root / "mixed")], tmp_path / "out", "npy", type_map=MODEL_TYPES)
    written = {
        tuple(np.bincount(s.type_indices(MODEL_TYPES), minlength=4)): s
        for s in expand_systems(str(tmp_path / "out"))
    }
    for plain in plain_systems(root):
        ours = written.pop(tuple(np.bincount(plain.type_indices(MODEL_TYPES), minlength=4)))
        np.testing.assert_array_equal(
            ours.type_indices(MODEL_TYPES), plain.type_indices(MODEL_TYPES)
        )
        np.testing.assert_allclose(
            ours.load_set(0).arrays["force"], plain.load_set(0).arrays["force"]
        )
    assert not written


def test_a_type_absent_from_all_data_gets_finite_statistics(alloy):
    """Fe is in no system: its env-mat rows keep avg 0, std 1 (DeePMD-kit's), its bias is
    0 and the other types' biases are those of a type_map without it."""
    root, _ = alloy
    systems = plain_systems(root)[:2]  # Al-Cu and Cu-Ni: two element sets
    bias = energy_bias(systems, MODEL_TYPES)
    assert np.all(np.isfinite(bias)) and bias[3] == 0
    np.testing.assert_allclose(bias[:3], energy_bias(systems, MODEL_TYPES[:3]), rtol=1e-10)
    avg, std = env_mat_stats(systems, MODEL_TYPES, 4.5, 1.0, [30] * 4, frames=100)
    assert np.all(np.isfinite(avg)) and np.all(np.isfinite(std))
    assert np.all(avg[3] == 0) and np.all(std[3] == 1)
    assert np.all(std[:3, :, 0] != 1) and np.all(avg[:3, :, 0] != 0)


def test_a_mixed_system_refuses_a_consumer_of_fixed_types(alloy):
    from models import BASE

    from deepkit.config import normalize
    from deepkit.model.base import make_model

    root, _ = alloy
    mixed = NpySystem(root / "mixed")
    with pytest.raises(InputError, match=r"mixed: a mixed-type system .*only energy models"):
        mixed.type_indices(MODEL_TYPES)
    raw = {**BASE, "loss": {"type": "tensor", "pref": 1.0, "pref_atomic": 1.0}}
    raw["model"] = {
        **BASE["model"],
        "type_map": MODEL_TYPES,
        "descriptor": {**BASE["model"]["descriptor"], "sel": [30] * 4},
        "fitting_net": {"type": "dipole", "neuron": [8], "sel_type": [0]},
    }
    with pytest.raises(InputError, match=r"mixed-type system .*dipole models train only"):
        make_model(normalize(raw)["model"]).compute_statistics([mixed], 10)


@pytest.fixture(scope="module")
def trained(alloy, tmp_path_factory):
    """A tiny se_e2_a model over Al, Cu, Ni, Fe (sel auto) trained on the mixed system and
    the ordinary Al-Cu one, validated on the mixed one; frozen at steps 20 and 40."""
    from deepkit.train.freeze import freeze
    from deepkit.train.trainer import Trainer

    root, _ = alloy
    run = tmp_path_factory.mktemp("mixed_run")
    systems = [str(root / "mixed"), str(root / "plain" / "0")]
    config = small_config(
        {"sel": "auto", "rcut": 4.5},
        training={
            "training_data": {"systems": systems, "batch_size": 2},
            "validation_data": {"systems": [systems[0]], "batch_size": 11, "numb_btch": 1},
            "numb_steps": 40,
            "disp_freq": 10,
            "save_freq": 20,
        },
        learning_rate={"start_lr": 5e-3, "stop_lr": 1e-3, "decay_steps": 10},
    )
    config["model"]["type_map"] = MODEL_TYPES
    Trainer(config, run, log=lambda *a: None).run()
    models = [freeze(run / f"model.ckpt-{step}", run / f"model_{step}.pb") for step in (20, 40)]
    return run, models


def test_training_on_mixed_and_ordinary_systems_lowers_the_loss(trained):
    run, _ = trained
    rows = np.loadtxt(run / "lcurve.out", ndmin=2)
    assert np.all(np.isfinite(rows))
    # Validation on the mixed system, energy and force apart (the total's prefactors move).
    energy, force, force_trn = rows[:, 3], rows[:, 5], rows[:, 6]
    assert energy[-1] < 0.6 * energy[0] and force[-1] < force[0], rows
    assert force_trn[-1] < 0.9 * force_trn[0], rows
    sel = json.loads((run / "out.json").read_text())["model"]["descriptor"]["sel"]
    assert len(sel) == 4 and min(sel[:3]) > 0 and sel[3] == 0


def test_test_and_model_devi_on_mixed_equal_the_ordinary_systems(alloy, trained, tmp_path, capsys):
    root, picks = alloy
    _, models = trained
    plain = [str(root / "plain" / str(i)) for i in range(len(FRAMES))]
    mixed = str(root / "mixed")
    for name, systems in (("mixed", [mixed]), ("plain", plain)):
        command = ["test", "-m", str(models[1]), "-s", *systems]
        assert main([*command, "--json", str(tmp_path / f"{name}.json")]) == 0
    ours = json.loads((tmp_path / "mixed.json").read_text())["all"]
    theirs = json.loads((tmp_path / "plain.json").read_text())["all"]
    labels = {"energy", "energy_per_atom", "force", "virial", "virial_per_atom"}
    assert set(ours) == set(theirs) == {"nframes", *labels}
    for key, value in theirs.items():
        assert ours[key] == (value if key == "nframes" else pytest.approx(value, rel=1e-9))
    capsys.readouterr()
    # Model deviation frame by frame: each mixed frame as its ordinary system's frame.
    pots = [DeepPot(m) for m in models]
    ours = model_devi_system(pots, NpySystem(mixed))[:, 1:]
    theirs = [model_devi_system(pots, NpySystem(p))[:, 1:] for p in plain]
    assert np.all(ours[:, 3] > 0)  # the two models differ
    for k, (comp, frame) in enumerate(picks):
        np.testing.assert_allclose(ours[k], theirs[comp][frame], rtol=1e-9)


def test_training_takes_its_statistics_from_deepmd_kits_stat_batches(alloy, trained, tmp_path):
    """A fresh run's energy bias and env-mat normalisation are those of the frames its
    statistics pass drew (data_stat_nbatch batches of each system from the training
    stream, DeePMD-kit's), not of an even spread: the same seed starts as DeePMD-kit."""
    from deepkit.model.frozen import read_constants
    from deepkit.train.trainer import Trainer

    root, _ = alloy
    run, models = trained
    config = json.loads((run / "out.json").read_text())
    systems = [NpySystem(root / "mixed"), NpySystem(root / "plain" / "0")]
    stream = DataSystems(
        systems,
        MODEL_TYPES,
        config["training"]["training_data"]["batch_size"],
        seed=config["training"]["seed"],
    )
    draws = stream.stat_draws(config["model"]["data_stat_nbatch"])
    descriptor = config["model"]["descriptor"]
    keys = (descriptor["rcut"], descriptor["rcut_smth"], descriptor["sel"])
    avg, _ = env_mat_stats(systems, MODEL_TYPES, *keys, frames=draws)
    frozen_avg = read_constants(str(models[0]))["descrpt_attr/t_avg"].reshape(avg.shape)
    np.testing.assert_allclose(frozen_avg, avg, rtol=1e-12)
    spread, _ = env_mat_stats(systems, MODEL_TYPES, *keys, frames=10)
    assert not np.allclose(frozen_avg, spread, rtol=1e-6)
    # The energy bias starts the fitting nets' last layer (trained since): the fresh model.
    trainer = Trainer(config, tmp_path, log=lambda *a: None)
    trainer._data(fresh=True)
    model = trainer._model(fresh=True)
    bias = energy_bias(systems, MODEL_TYPES, frames=draws)
    np.testing.assert_allclose(model.fitting.bias, bias, rtol=1e-12)
    assert not np.allclose(bias, energy_bias(systems, MODEL_TYPES, frames=10), rtol=1e-6)
