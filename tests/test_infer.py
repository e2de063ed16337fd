"""deepkit freeze and DeepPot: the frozen graph computes what the checkpoint does."""

import numpy as np
import pytest
import tensorflow as tf
from finite_diff import assert_deep_pot_derivatives
from models import frozen_alcu_model

from deepkit import DeepPot
from deepkit.cli import main
from deepkit.errors import InputError
from deepkit.model.base import make_model
from deepkit.train.checkpoint import checkpoint_path
from deepkit.train.freeze import freeze
from deepkit.train.trainer import Trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("infer")
    config, arrays, atype = frozen_alcu_model(root)
    return root, config, arrays, atype


def checkpoint_eval(root, config, coord, box, atype):
    model = make_model(config["model"])
    graph = tf.Graph()
    with graph.as_default():
        ph = model.placeholders()
        out = model.build(**ph)
        saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session(graph=graph) as sess:
        saver.restore(sess, checkpoint_path(str(root / "run")))
        return sess.run(
            out, {ph["coord"]: coord, ph["atype"]: np.tile(atype, (len(coord), 1)), ph["box"]: box}
        )


def test_frozen_model_equals_checkpoint_graph(trained):
    root, config, arrays, atype = trained
    dp = DeepPot(root / "model.pb")
    assert dp.type_map == ["Al", "Cu"] and dp.rcut == 4.5 and dp.sel == [24, 24]
    assert not dp.compressed and dp.train_input["model"]["type_map"] == ["Al", "Cu"]
    e, f, v, ae, av = dp.eval(arrays["coord"], arrays["box"], atype, atomic=True)
    ref = checkpoint_eval(root, config, arrays["coord"], arrays["box"], atype)
    np.testing.assert_allclose(e[:, 0], ref["energy"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(f.reshape(len(f), -1), ref["force"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(v, ref["virial"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ae[..., 0], ref["atom_energy"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(av.reshape(len(av), -1), ref["atom_virial"], rtol=1e-12, atol=1e-12)
    # Many frames, one call per frame: the same.
    small = DeepPot(root / "model.pb", frames_per_call=1)
    np.testing.assert_allclose(small.eval(arrays["coord"], arrays["box"], atype)[0], e, rtol=1e-14)


def test_frozen_forces_and_virial_are_derivatives(trained):
    root, _, arrays, atype = trained
    coord, box = arrays["coord"][0].reshape(-1, 3), arrays["box"][0].reshape(3, 3)
    assert_deep_pot_derivatives(DeepPot(root / "model.pb"), coord, box, atype)


def test_atom_order_and_open_systems(trained):
    root, _, arrays, atype = trained
    dp = DeepPot(root / "model.pb")
    coord = arrays["coord"][:2].reshape(2, -1, 3)
    e, f, v = dp.eval(coord, arrays["box"][:2].reshape(2, 3, 3), atype)
    perm = np.random.default_rng(3).permutation(len(atype))
    ep, fp, vp = dp.eval(coord[:, perm], arrays["box"][:2], atype[perm])
    np.testing.assert_allclose(ep, e, rtol=1e-12)
    np.testing.assert_allclose(fp, f[:, perm], atol=1e-10)
    np.testing.assert_allclose(vp, v, atol=1e-10)
    open_e, _, _ = dp.eval(coord, None, atype)
    zero_box_e, _, _ = dp.eval(coord, np.zeros((2, 9)), atype)
    np.testing.assert_array_equal(open_e, zero_box_e)
    assert not np.allclose(open_e, e)  # the periodic images mattered


def test_bad_models_and_inputs(trained, tmp_path, capsys):
    root, _, arrays, atype = trained
    with pytest.raises(InputError, match="cannot read the model"):
        DeepPot(tmp_path / "missing.pb")
    (tmp_path / "junk.pb").write_bytes(b"not a graph")
    with pytest.raises(InputError, match="not a"):
        DeepPot(tmp_path / "junk.pb")
    dp = DeepPot(root / "model.pb")
    with pytest.raises(ValueError, match="expected 0..1"):
        dp.eval(arrays["coord"][:1], arrays["box"][:1], atype + 1)
    assert main(["show", str(root / "model.pb")]) == 0
    assert "type_map: Al Cu" in capsys.readouterr().out


def test_deepkit_test_reports_and_writes_details(trained, tmp_path, capsys):
    import json

    root, _, arrays, atype = trained
    prefix = tmp_path / "detail"
    argv = [
        "test",
        "-m",
        str(root / "model.pb"),
        "-s",
        str(root / "data"),
        "-n",
        "4",
        "-d",
        str(prefix),
        "--json",
        str(tmp_path / "out.json"),
        "--plot",
        str(tmp_path / "p.png"),
    ]
    assert main(argv) == 0
    assert "Force  RMSE        : " in capsys.readouterr().out
    report = json.loads((tmp_path / "out.json").read_text())
    natoms = len(atype)
    energies, forces = np.loadtxt(f"{prefix}.e_peratom.out"), np.loadtxt(f"{prefix}.f.out")
    np.testing.assert_allclose(energies[:, 0], arrays["energy"][:4] / natoms, rtol=1e-12)
    expected_e = np.sqrt(np.mean((energies[:, 1] - energies[:, 0]) ** 2))
    expected_f = np.sqrt(np.mean((forces[:, 3:] - forces[:, :3]) ** 2))
    assert report["all"]["energy_per_atom"]["rmse"] == pytest.approx(expected_e, rel=1e-10)
    assert report["all"]["force"]["rmse"] == pytest.approx(expected_f, rel=1e-10)
    assert "virial_per_atom" in report["all"] and report["all"]["nframes"] == 4
    assert np.loadtxt(f"{prefix}.f.out").shape == (4 * natoms, 6)
    assert np.loadtxt(f"{prefix}.v.out").shape == (4, 18)
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_ase_calculator(trained):
    from ase import Atoms
    from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress

    from deepkit.calculator import DeepKit

    root, _, arrays, atype = trained
    symbols = [["Al", "Cu"][t] for t in atype]
    atoms = Atoms(
        symbols,
        positions=arrays["coord"][0].reshape(-1, 3),
        cell=arrays["box"][0].reshape(3, 3),
        pbc=True,
    )
    atoms.calc = DeepKit(str(root / "model.pb"))
    e, f, _ = DeepPot(root / "model.pb").eval(arrays["coord"][:1], arrays["box"][:1], atype)
    assert atoms.get_potential_energy() == pytest.approx(e[0, 0], rel=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), f[0], atol=1e-12)
    assert atoms.get_potential_energies().sum() == pytest.approx(e[0, 0], rel=1e-12)
    np.testing.assert_allclose(
        atoms.get_stress(), calculate_numerical_stress(atoms, eps=1e-5), atol=1e-7
    )
    np.testing.assert_allclose(
        atoms.get_forces(), calculate_numerical_forces(atoms, eps=1e-5), atol=1e-7
    )
    molecule = Atoms(symbols[:5], positions=arrays["coord"][0].reshape(-1, 3)[:5])
    molecule.calc = DeepKit(str(root / "model.pb"))
    assert np.isfinite(molecule.get_potential_energy())
    other = Atoms("AlO", positions=[[0, 0, 0], [2, 0, 0]])
    other.calc = DeepKit(str(root / "model.pb"))
    with pytest.raises(ValueError, match=r"\['O'\] are not in the model's type_map \['Al', 'Cu'\]"):
        other.get_potential_energy()


def test_model_deviation(trained, tmp_path):
    from deepkit.infer import model_devi

    root, config, arrays, atype = trained
    config = {**config, "training": {**config["training"], "seed": 99}}
    config["model"] = {
        **config["model"],
        "fitting_net": {**config["model"]["fitting_net"], "seed": 42},
    }
    Trainer(config, tmp_path / "other", log=lambda *a: None).run()
    freeze(tmp_path / "other", tmp_path / "other.pb")
    a, b = DeepPot(root / "model.pb"), DeepPot(tmp_path / "other.pb")
    devi = model_devi([a, b], arrays["coord"][:3], arrays["box"][:3], atype)
    fa, fb = (
        a.eval(arrays["coord"][:3], arrays["box"][:3], atype)[1],
        b.eval(arrays["coord"][:3], arrays["box"][:3], atype)[1],
    )
    per_atom = np.linalg.norm(np.abs(fa - fb) / 2, axis=-1)  # std of two values: |a - b| / 2
    np.testing.assert_allclose(devi[:, 3], per_atom.max(axis=1), rtol=1e-10)
    np.testing.assert_allclose(devi[:, 5], per_atom.mean(axis=1), rtol=1e-10)
    copies = model_devi([a, a, a], arrays["coord"][:3], arrays["box"][:3], atype)
    assert np.abs(copies).max() < 1e-12  # zero but for the rounding of a three-value mean
    assert np.all(devi[:, 3] > 0)
    out = tmp_path / "devi.out"
    argv = [
        "model-devi",
        "-m",
        str(root / "model.pb"),
        str(tmp_path / "other.pb"),
        "-s",
        str(root / "data"),
        "-o",
        str(out),
    ]
    assert main(argv) == 0
    table = np.loadtxt(out)
    assert table.shape == (6, 8) and (
        out.read_text().split()[1:4] == ["step", "max_devi_v", "min_devi_v"]
    )
