"""Tensor models (dipole, polar): equivariance, invariances, atomic sums and the coordinate
derivative on untrained models of every descriptor with a rotation matrix; training,
freezing, `deepkit test`, DeepDipole / DeepPolar and compression on the shared water
tensor data; bad inputs as one line."""

import copy
import json

import numpy as np
import pytest
from datasets import write_system
from models import BASE
from systems import random_box, shared_data

from deepkit import DeepDipole, DeepPolar, DeepPot
from deepkit.cli import main
from deepkit.config import normalize
from deepkit.data import expand_systems
from deepkit.errors import InputError
from deepkit.model.base import make_model
from deepkit.registry import DESCRIPTORS
from deepkit.tfenv import tf
from deepkit.train.checkpoint import checkpoint_path
from deepkit.train.freeze import freeze
from deepkit.train.trainer import Trainer

v1 = tf.compat.v1
WIDTH = {"dipole": 3, "polar": 9}
LABEL = {"dipole": "dipole", "polar": "polarizability"}
FITTINGS = {
    "dipole": {"type": "dipole", "neuron": [8, 8], "seed": 3, "sel_type": [0]},
    "polar": {"type": "polar", "neuron": [8, 8], "seed": 3, "sel_type": [0], "fit_diag": False},
    "polar_diag": {"type": "polar", "neuron": [8], "seed": 4, "scale": [2.0, 1.0]},
}


def rotating_descriptors():
    """Every registered descriptor whose example has a rotation matrix."""
    found = []
    for name, cls in DESCRIPTORS.classes().items():
        try:
            instance = cls(ntypes=2, **normalize_descriptor(name))
        except TypeError:
            continue
        if instance.rot_mat_width() is not None:
            found.append(name)
    return found


def normalize_descriptor(name):
    raw = copy.deepcopy(BASE)
    raw["model"]["descriptor"] = {"type": name, **DESCRIPTORS.get(name).example}
    return {k: v for k, v in normalize(raw)["model"]["descriptor"].items() if k != "type"}


def tensor_config(descriptor: str, fitting: str, **training) -> dict:
    raw = copy.deepcopy(BASE)
    raw["model"]["descriptor"] = {"type": descriptor, **DESCRIPTORS.get(descriptor).example}
    raw["model"]["fitting_net"] = dict(FITTINGS[fitting])
    raw["loss"] = {"type": "tensor", "pref": 1.0, "pref_atomic": 1.0}
    raw["training"].update(training)
    return normalize(raw)


@pytest.fixture(scope="module")
def random_system(tmp_path_factory):
    rng = np.random.default_rng(7)
    root = tmp_path_factory.mktemp("tensor")
    natoms = 12
    sets = [
        {
            "coord": rng.uniform(0, 6, (3, natoms * 3)),
            "box": np.tile((np.eye(3) * 6).reshape(9), (3, 1)),
            "atomic_dipole": rng.normal(size=(3, natoms * 3)),
            "polarizability": rng.normal(size=(3, 9)),
        }
    ]
    write_system(root / "sys", rng.integers(0, 2, natoms), ["O", "H"], sets)
    return expand_systems(str(root / "sys"))


class Graph:
    """An untrained tensor model's inference graph (with the derivative) and session."""

    def __init__(self, config, systems):
        self.model = make_model(config["model"])
        self.model.compute_statistics(systems, 3)
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.ph = self.model.placeholders()
            self.out = self.model.build(**self.ph, with_deriv=True)
            init = v1.global_variables_initializer()
        self.sess = v1.Session(graph=self.graph)
        self.sess.run(init)

    def __call__(self, coord, atype, box, keys=("atom_tensor", "tensor", "tensor_force")):
        feed = {
            self.ph["coord"]: coord.reshape(1, -1),
            self.ph["atype"]: atype[None],
            self.ph["box"]: box.reshape(1, 9),
        }
        return self.sess.run({k: self.out[k] for k in keys}, feed)


CASES = [pytest.param((d, f), id=f"{d}-{f}") for d in rotating_descriptors() for f in FITTINGS]


@pytest.fixture(scope="module", params=CASES)
def graph(request, random_system):
    descriptor, fitting = request.param
    return Graph(tensor_config(descriptor, fitting), random_system), fitting


def frame(seed=11, natoms=10):
    rng = np.random.default_rng(seed)
    box = random_box(rng, 9.0, 0.1)
    frac = rng.uniform(0, 1, (natoms, 3))
    atype = np.array([0, 1] * (natoms // 2), np.int32)
    return frac @ box, atype, box


def rotation(seed=3):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q if np.linalg.det(q) > 0 else -q


def as_matrix(t, width):
    return t.reshape(*t.shape[:-1], 3) if width == 3 else t.reshape(*t.shape[:-1], 3, 3)


def test_equivariance_invariance_and_sums(graph):
    g, fitting = graph
    width = WIDTH[FITTINGS[fitting]["type"]]
    coord, atype, box = frame()
    ref = g(coord, atype, box)
    atomic = ref["atom_tensor"].reshape(-1, width)
    assert np.abs(atomic).max() > 1e-3  # not trivially zero
    # global = sum of atomic; atoms outside sel_type carry zeros
    np.testing.assert_allclose(atomic.sum(0), ref["tensor"][0], atol=1e-12)
    sel = FITTINGS[fitting].get("sel_type")
    if sel is not None:
        assert np.all(atomic[~np.isin(atype, sel)] == 0)
    if width == 9:  # symmetric
        m = atomic.reshape(-1, 3, 3)
        np.testing.assert_allclose(m, m.transpose(0, 2, 1), atol=1e-12)
    # rotating the frame: d -> R d, a -> R a R^T
    r = rotation()
    rot = g(coord @ r.T, atype, box @ r.T)
    got = as_matrix(rot["atom_tensor"].reshape(-1, width), width)
    want = as_matrix(atomic, width)
    want = want @ r.T if width == 3 else r @ want @ r.T
    np.testing.assert_allclose(got, want, atol=1e-10)
    # translation, and a lattice shift of one atom
    shifted = coord + np.array([0.3, -1.7, 2.2])
    shifted[0] += box[1]
    np.testing.assert_allclose(
        g(shifted, atype, box)["atom_tensor"], ref["atom_tensor"], atol=1e-10
    )
    # permutation: the atomic tensors follow their atoms
    perm = np.random.default_rng(2).permutation(len(atype))
    out = g(coord[perm], atype[perm], box)["atom_tensor"].reshape(-1, width)
    np.testing.assert_allclose(out, atomic[perm], atol=1e-10)


def test_tensor_force_is_minus_the_coordinate_derivative(graph):
    g, fitting = graph
    width = WIDTH[FITTINGS[fitting]["type"]]
    coord, atype, box = frame(natoms=6)
    force = g(coord, atype, box)["tensor_force"].reshape(width, -1, 3)
    h = 1e-5
    numeric = np.zeros_like(force)
    for i in range(len(coord)):
        for k in range(3):
            plus, minus = coord.copy(), coord.copy()
            plus[i, k] += h
            minus[i, k] -= h
            tp = g(plus, atype, box, ("tensor",))["tensor"][0]
            tm = g(minus, atype, box, ("tensor",))["tensor"][0]
            numeric[:, i, k] = -(tp - tm) / (2 * h)
    np.testing.assert_allclose(force, numeric, atol=1e-7)


# -- trained on the shared data ------------------------------------------------------------


def water_tensor_config(kind: str, data, steps=6):
    fitting = {"type": kind, "sel_type": [0], "neuron": [8, 8], "seed": 1}
    if kind == "polar":
        fitting["fit_diag"] = False
    raw = {
        "model": {
            "type_map": ["O", "H"],
            "descriptor": {
                "type": "se_e2_a",
                "sel": [46, 92],
                "rcut": 4.0,
                "rcut_smth": 3.5,
                "neuron": [4, 8],
                "axis_neuron": 4,
                "seed": 1,
            },
            "fitting_net": fitting,
        },
        "learning_rate": {"start_lr": 0.01, "stop_lr": 1e-3, "decay_steps": 5},
        "loss": {"type": "tensor", "pref": 1.0, "pref_atomic": 1.0},
        "training": {
            "training_data": {"systems": [str(p) for p in data], "batch_size": 1},
            "numb_steps": steps,
            "seed": 1,
            "disp_freq": 2,
            "save_freq": steps,
        },
    }
    return normalize(raw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A dipole and a polar model, each trained a few steps on the shared data (both the
    atomic and the global system) and frozen."""
    models = {}
    for kind, folder in (("dipole", "water_dipole"), ("polar", "water_polar")):
        data = [shared_data(folder, "atomic_system"), shared_data(folder, "global_system")]
        root = tmp_path_factory.mktemp(kind)
        config = water_tensor_config(kind, data)
        Trainer(config, root / "run", log=lambda *a: None).run()
        freeze(root / "run", root / "model.pb")
        models[kind] = (root, config, data)
    return models


def first_frames(path, n=2):
    (system,) = expand_systems(str(path))
    arrays = system.load_set(0).arrays
    return system, arrays["coord"][:n], arrays["box"][:n], system.atype


@pytest.mark.parametrize("kind", ["dipole", "polar"])
def test_frozen_equals_checkpoint_and_shapes(trained, kind):
    root, config, data = trained[kind]
    system, coord, box, atype = first_frames(data[0])
    box = None if system.nopbc else box
    dp = (DeepDipole if kind == "dipole" else DeepPolar)(root / "model.pb")
    assert dp.model_type == kind and dp.get_sel_type() == [0] and dp.output_dim == WIDTH[kind]
    atomic = dp.eval(coord, box, atype)
    total = dp.eval(coord, box, atype, atomic=False)
    assert atomic.shape == (2, len(atype), WIDTH[kind]) and total.shape == (2, WIDTH[kind])
    np.testing.assert_allclose(atomic.sum(1), total, atol=1e-10)
    assert np.all(atomic[:, atype != 0] == 0)
    # the checkpoint's graph gives the same
    model = make_model(config["model"])
    graph = tf.Graph()
    with graph.as_default():
        ph = model.placeholders()
        out = model.build(**ph)
        saver = v1.train.Saver()
    with v1.Session(graph=graph) as sess:
        saver.restore(sess, checkpoint_path(str(root / "run")))
        feed = {
            ph["coord"]: coord,
            ph["atype"]: np.tile(atype, (2, 1)),
            ph["box"]: np.zeros((2, 9)) if box is None else box,
        }
        ref = sess.run(out["atom_tensor"], feed)
    np.testing.assert_allclose(atomic.reshape(2, -1), ref, rtol=1e-12, atol=1e-12)
    # any atom order
    perm = np.random.default_rng(0).permutation(len(atype))
    moved = dp.eval(coord.reshape(2, -1, 3)[:, perm], box, atype[perm])
    np.testing.assert_allclose(moved, atomic[:, perm], atol=1e-10)
    # eval_full's force is minus the derivative of the global tensor (one coordinate)
    _, force, virial = dp.eval_full(coord[:1], None if box is None else box[:1], atype)
    assert force.shape == (1, WIDTH[kind], len(atype), 3) and virial.shape == (1, WIDTH[kind], 9)
    np.testing.assert_allclose(
        dp.eval_deriv(coord[:1], None if box is None else box[:1], atype), -force
    )
    h, c = 1e-5, coord[:1].copy()
    c[0, 4] += h
    tp = dp.eval(c, None if box is None else box[:1], atype, atomic=False)
    c[0, 4] -= 2 * h
    tm = dp.eval(c, None if box is None else box[:1], atype, atomic=False)
    np.testing.assert_allclose(-(tp - tm)[0] / (2 * h), force[0, :, 1, 1], atol=1e-7)


def test_show_and_wrong_evaluator(trained, alcu_model, capsys):
    root = trained["dipole"][0]
    assert main(["show", str(root / "model.pb")]) == 0
    shown = capsys.readouterr().out
    assert "model type: dipole" in shown and "sel_type: [0]" in shown
    with pytest.raises(InputError, match="use deepkit.DeepDipole"):
        DeepPot(root / "model.pb")
    with pytest.raises(InputError, match="use deepkit.DeepDipole"):
        DeepPolar(root / "model.pb")
    with pytest.raises(InputError, match="use deepkit.DeepPot"):
        DeepDipole(alcu_model[0] / "model.pb")


@pytest.mark.parametrize("kind", ["dipole", "polar"])
@pytest.mark.parametrize("atomic", [False, True])
def test_deepkit_test_figures_equal_details(trained, kind, atomic, tmp_path, capsys):
    root, _, data = trained[kind]
    args = ["test", "-m", str(root / "model.pb"), "-n", "3", "-d", str(tmp_path / "d")]
    args += ["--json", str(tmp_path / "r.json")]
    systems = data[:1] if atomic else data
    args += ["-s", *map(str, systems)]
    assert main(args + (["-a"] if atomic else [])) == 0
    printed = capsys.readouterr().out
    title = "Dipole" if kind == "dipole" else "Polarizability"
    assert f"{title}  RMSE       :" in printed
    report = json.loads((tmp_path / "r.json").read_text())
    text = (tmp_path / "d.out").read_text()
    blocks = [b for b in text.split("# ") if b.strip()]
    assert len(blocks) == len(systems)
    diffs = []
    for block, path in zip(blocks, systems):
        header, *rows = block.strip().splitlines()
        assert header.startswith(str(path))
        values = np.loadtxt(rows, ndmin=2)
        half = values.shape[1] // 2
        assert half == WIDTH[kind] * (64 if atomic else 1)
        diff = values[:, half:] - values[:, :half]
        numbers = report["systems"][str(path)]
        assert numbers["rmse"] == pytest.approx(np.sqrt(np.mean(diff**2)), rel=1e-6)
        if not atomic:
            assert numbers["rmse_n"] == pytest.approx(numbers["rmse"] / 64)
            assert f"{numbers['rmse']:.6e}" in printed
        diffs.append(diff.ravel())
    pooled = np.concatenate(diffs)
    assert report["all"]["rmse"] == pytest.approx(np.sqrt(np.mean(pooled**2)), rel=1e-6)


def test_compressed_tensor_model_matches(trained, tmp_path):
    from deepkit.compress.model import compress

    root, _, data = trained["polar"]
    compress(root / "model.pb", tmp_path / "c.pb", step=0.002, log=lambda *a: None)
    _, coord, box, atype = first_frames(data[0], 1)
    full, small = DeepPolar(root / "model.pb"), DeepPolar(tmp_path / "c.pb")
    assert small.compressed
    a, b = full.eval(coord, box, atype), small.eval(coord, box, atype)
    np.testing.assert_allclose(b, a, atol=1e-6 * np.abs(a).max())


# -- bad inputs ---------------------------------------------------------------------------


def test_bad_inputs_are_one_line(random_system, tmp_path):
    raw = copy.deepcopy(BASE)
    raw["model"]["fitting_net"] = {"type": "dipole", "sel_type": [2]}
    raw["loss"] = {"type": "tensor", "pref": 1.0, "pref_atomic": 1.0}
    with pytest.raises(InputError, match=r"model.fitting_net.sel_type: type 2 outside"):
        normalize(raw)
    raw["model"]["fitting_net"]["sel_type"] = [0]
    raw["loss"] = {}
    with pytest.raises(InputError, match=r"loss.type: 'ener' does not train a 'dipole' model"):
        normalize(raw)
    raw["loss"] = {"type": "tensor", "pref": 1.0}
    with pytest.raises(InputError, match="pref_atomic"):
        normalize(raw)
    raw["loss"]["pref_atomic"] = 0.0
    raw["model"]["descriptor"] = {"type": "se_e2_r", "sel": [20, 20], "rcut": 4.0}
    with pytest.raises(InputError, match="needs a descriptor with a rotation matrix"):
        make_model(normalize(raw)["model"])
    # a system without tensor labels, one with atomic labels of the wrong width
    config = tensor_config("se_e2_a", "polar")
    model = make_model(config["model"])
    with pytest.raises(InputError, match=r"no polarizability.npy or atomic_polarizability.npy"):
        model.compute_statistics(_no_labels(tmp_path), 2)
    rng = np.random.default_rng(1)
    bad = {
        "coord": rng.uniform(0, 6, (2, 12)),
        "box": np.tile(np.eye(3).reshape(9) * 6, (2, 1)),
        "atomic_polarizability": rng.normal(size=(2, 7)),
    }
    write_system(tmp_path / "bad", [0, 1, 0, 1], ["O", "H"], [bad])
    with pytest.raises(InputError, match=r"atomic_polarizability.npy: 7 columns per frame"):
        model.compute_statistics(expand_systems(str(tmp_path / "bad")), 2)


def _no_labels(tmp_path):
    rng = np.random.default_rng(2)
    arrays = {"coord": rng.uniform(0, 6, (2, 12)), "box": np.tile(np.eye(3).reshape(9) * 6, (2, 1))}
    write_system(tmp_path / "none", [0, 1, 0, 1], ["O", "H"], [arrays])
    return expand_systems(str(tmp_path / "none"))


def test_deepkit_test_without_labels_is_one_line(trained, tmp_path, capsys):
    root = trained["dipole"][0]
    _no_labels(tmp_path)
    assert main(["test", "-m", str(root / "model.pb"), "-s", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no dipole.npy or atomic_dipole.npy" in err[0]
    global_system = trained["dipole"][2][1]
    assert main(["test", "-m", str(root / "model.pb"), "-s", str(global_system), "-a"]) == 2
    assert "needs atomic_dipole.npy" in capsys.readouterr().err


# -- the C API ------------------------------------------------------------------------------


def test_c_api_compute_tensor(driver, trained, alcu_model, tmp_path):
    from test_capi import run_driver, write_case

    root, _, data = trained["polar"]
    _, coord, box, atype = first_frames(data[0], 2)
    folder = write_case(tmp_path / "case", coord, atype, box)
    result = run_driver(driver, root / "model.pb", folder, "tensor")
    assert "tensor_size 9" in result.stdout
    assert "dk_compute: 2 dk_compute: a 'polar' model has no energy; use dk_compute_tensor" in (
        result.stdout
    )
    dp = DeepPolar(root / "model.pb")
    tensor, force, virial, atomic = dp.eval_full(coord, box, atype, atomic=True)
    for name, expected in (
        ("tensor", tensor),
        ("atom_tensor", atomic),
        ("tensor_force", force),
        ("tensor_virial", virial),
    ):
        got = np.fromfile(folder / f"out_{name}.bin")
        np.testing.assert_allclose(got, expected.ravel(), rtol=1e-10, atol=1e-12)
    # an energy model is refused by dk_compute_tensor, with the function to use
    result = run_driver(driver, alcu_model[0] / "model.pb", folder, "tensor", check=False)
    assert "tensor_size 0" in result.stdout
    assert (
        "dk_compute_tensor: 2 dk_compute_tensor: an energy model has no tensor; use dk_compute"
        in (result.stdout)
    )


@pytest.mark.parametrize("kind", ["dipole", "polar"])
def test_example_inputs_are_valid(kind):
    """examples/water_<kind>/input.json (bench_tensor.py's input) normalises as it is."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / f"water_{kind}" / "input.json"
    config = normalize(json.loads(path.read_text()))
    assert config["model"]["fitting_net"]["type"] == kind and config["loss"]["type"] == "tensor"
    assert make_model(config["model"]).name == kind
