"""DeePMD-kit's command-line forms, through the CLI: checkpoint prefixes (freeze -c, train
--restart / --init-model), show ATTRIBUTE..., test -n / --shuffle-test / -a, model-devi -f,
and the plots (plot lcurve.out, test --plot)."""

import json
import os
import shutil

import numpy as np
import pytest
from models import frozen_alcu_model

from deepkit import DeepPot
from deepkit.cli import main
from deepkit.errors import InputError
from deepkit.model.frozen import read_constants
from deepkit.train.checkpoint import checkpoint_path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("dp_forms")
    config, arrays, atype = frozen_alcu_model(root)
    return root, config, arrays, atype


def copy_run(root, where):
    """A copy of the fixture's training folder with a second checkpoint, step 9 (its
    `checkpoint` file still names step 5, by the original folder's absolute path), and
    without model.ckpt.* links to the latest checkpoint."""
    run = where / "run"
    shutil.copytree(root / "run", run, symlinks=True)
    for link in run.glob("model.ckpt.*"):
        link.unlink()
    for path in run.glob("model.ckpt-5.*"):
        shutil.copy(path, run / path.name.replace("-5.", "-9."))
    return run


def test_checkpoint_prefix_forms(trained, tmp_path, monkeypatch):
    root, *_ = trained
    run = copy_run(root, tmp_path)
    # The folder, a prefix with its step, dp's prefix without one: the `checkpoint` file's
    # choice, looked up in this folder (the original has moved on).
    assert checkpoint_path(str(run)) == str(run / "model.ckpt-5")
    assert checkpoint_path(str(run / "model.ckpt")) == str(run / "model.ckpt-5")
    assert checkpoint_path(str(run / "model.ckpt-9")) == str(run / "model.ckpt-9")
    (run / "checkpoint").unlink()  # no record: the highest step
    assert checkpoint_path(str(run)) == str(run / "model.ckpt-9")
    assert checkpoint_path(str(run / "model.ckpt")) == str(run / "model.ckpt-9")
    for suffix in ("index", "meta", "data-00000-of-00001"):  # links to the latest, as dp's
        os.symlink(f"model.ckpt-5.{suffix}", run / f"model.ckpt.{suffix}")
    assert checkpoint_path(str(run / "model.ckpt")) == str(run / "model.ckpt-5")
    monkeypatch.chdir(run)
    assert checkpoint_path("model.ckpt") == "model.ckpt-5"
    with pytest.raises(InputError, match=r"^other.ckpt: no such checkpoint \(expected"):
        checkpoint_path("other.ckpt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no checkpoint in this directory"):
        checkpoint_path(str(tmp_path / "empty"))


def test_freeze_takes_a_checkpoint_prefix(trained, tmp_path, capsys):
    root, _, arrays, atype = trained
    run = copy_run(root, tmp_path)
    out = tmp_path / "prefix.pb"
    assert main(["freeze", "-c", str(run / "model.ckpt"), "-o", str(out)]) == 0
    assert main(["freeze", "--checkpoint-folder", str(run), "-o", str(tmp_path / "dir.pb")]) == 0
    expected = DeepPot(root / "model.pb").eval(arrays["coord"][:2], arrays["box"][:2], atype)
    for model in (out, tmp_path / "dir.pb"):
        got = DeepPot(model).eval(arrays["coord"][:2], arrays["box"][:2], atype)
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)
    capsys.readouterr()
    assert main(["freeze", "-c", str(run / "nope.ckpt"), "-o", str(tmp_path / "x.pb")]) == 2
    assert f"{run / 'nope.ckpt'}: no such checkpoint" in capsys.readouterr().err


def test_train_restart_and_init_model_take_a_prefix(trained, tmp_path):
    root, *_ = trained
    run = copy_run(root, tmp_path)
    (run / "checkpoint").unlink()
    for path in run.glob("model.ckpt-9.*"):
        path.unlink()
    config = json.loads((run / "out.json").read_text())
    config["training"]["numb_steps"] = config["training"]["save_freq"] = 7
    (tmp_path / "input.json").write_text(json.dumps(config))
    restart = ["train", str(tmp_path / "input.json"), "-o", str(run)]
    assert main([*restart, "--restart", str(run / "model.ckpt")]) == 0
    assert (run / "model.ckpt-7.index").exists()
    fresh = tmp_path / "fresh"
    init = ["train", str(tmp_path / "input.json"), "-o", str(fresh)]
    assert main([*init, "--init-model", str(run / "model.ckpt")]) == 0
    assert (fresh / "model.ckpt-7.index").exists()


def test_show_attributes_as_dp(trained, capsys):
    root, config, *_ = trained
    model = str(root / "model.pb")
    argv = ["show", model, "size", "fitting-net", "type-map", "descriptor"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    consts = read_constants(root / "model.pb")
    weights = {
        k: v.size
        for k, v in consts.items()
        if k.split("/")[-1].startswith(("matrix_", "bias_", "idt_"))
    }
    descriptor = sum(v for k, v in weights.items() if k.startswith("filter_type"))
    fitting = sum(v for k, v in weights.items() if k.startswith("fitting_type"))
    train_input = DeepPot(root / "model.pb").train_input["model"]
    assert lines == [  # dp's order, whatever the order asked
        "This is a singletask model",
        "The type_map is ['Al', 'Cu']",
        f"The descriptor parameter is {train_input['descriptor']}",
        f"The fitting_net parameter is {train_input['fitting_net']}",
        "Parameter counts:",
        f"Parameters in descriptor: {descriptor:,}",
        f"Parameters in fitting-net: {fitting:,}",
        f"Parameters in total: {descriptor + fitting:,}",
    ]
    assert train_input["descriptor"]["sel"] == config["model"]["descriptor"]["sel"]
    assert main(["show", model]) == 0  # no attributes: the summary
    assert "type_map: Al Cu" in capsys.readouterr().out
    assert main(["show", model, "model-branch"]) == 2
    assert "requires a multitask model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["show", model, "bogus"])
    assert "invalid choice: 'bogus'" in capsys.readouterr().err


def test_test_numb_shuffle_and_atomic(trained, tmp_path, capsys):
    root, _, arrays, atype = trained
    model, data = str(root / "model.pb"), str(root / "data")
    natoms = len(atype)
    assert main(["test", "-m", model, "-s", data]) == 0  # dp's default: every frame
    assert ": 6 frames" in capsys.readouterr().out
    assert main(["test", "-m", model, "-s", data, "-n", "0"]) == 0
    assert ": 6 frames" in capsys.readouterr().out
    # --shuffle-test -r: the frames dp's seeded RandomState picks, the same every time.
    order = np.arange(6)
    np.random.RandomState(7).shuffle(order)
    for prefix in ("a", "b"):
        argv = ["test", "-m", model, "-s", data, "-n", "3", "--shuffle-test", "-r", "7"]
        assert main([*argv, "-d", str(tmp_path / prefix)]) == 0
        picked = np.loadtxt(tmp_path / f"{prefix}.e.out")[:, 0]
        np.testing.assert_allclose(picked, arrays["energy"][order[:3]], rtol=1e-12)
    assert (tmp_path / "a.v_peratom.out").exists()
    # -a: atomic energies against atom_ener.npy labels.
    labelled = tmp_path / "labelled"
    shutil.copytree(root / "data", labelled)
    (set_dir,) = labelled.glob("*/set.*")
    labels = np.random.default_rng(0).normal(-3.0, 0.1, (6, natoms))
    np.save(set_dir / "atom_ener.npy", labels)
    argv = ["test", "-m", model, "-s", str(labelled), "-a", "--json", str(tmp_path / "f.json")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    _, _, _, ae, _ = DeepPot(model).eval(arrays["coord"], arrays["box"], atype, atomic=True)
    rmse = float(np.sqrt(np.mean((ae[..., 0] - labels) ** 2)))
    (figures,) = json.loads((tmp_path / "f.json").read_text())["systems"].values()
    assert figures["atom_energy"]["rmse"] == pytest.approx(rmse, rel=1e-10)
    assert f"Atomic ener RMSE   : {rmse:e} eV" in out
    assert main(["test", "-m", model, "-s", data, "-a"]) == 2
    assert "atom_ener.npy" in capsys.readouterr().err


def test_model_devi_frequency(trained, tmp_path, capsys):
    root, *_ = trained
    model = str(root / "model.pb")
    out = tmp_path / "devi.out"
    argv = ["model-devi", "-m", model, model, "-s", str(root / "data"), "-o", str(out)]
    assert main([*argv, "-f", "10"]) == 0
    np.testing.assert_array_equal(np.loadtxt(out)[:, 0], np.arange(6) * 10)
    for name in ("a", "b"):  # two systems: each counts its own steps, under its name
        shutil.copytree(root / "data", tmp_path / "two" / name)
    argv[argv.index("-s") + 1] = str(tmp_path / "two")
    assert main([*argv, "-f", "5"]) == 0
    np.testing.assert_array_equal(np.loadtxt(out)[:, 0], np.tile(np.arange(6) * 5, 2))
    names = [line for line in out.read_text().splitlines() if "two" in line]
    assert len(names) == 2 and names[0].startswith("# ")
    capsys.readouterr()
    assert main([*argv, "-f", "0"]) == 2
    assert "-f/--frequency: must be positive" in capsys.readouterr().err


def test_plots(trained, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    root, *_ = trained
    lcurve = tmp_path / "lcurve.out"
    shutil.copy(root / "run" / "lcurve.out", lcurve)
    assert main(["plot", str(lcurve)]) == 0  # default: beside it, .png
    assert (tmp_path / "lcurve.png").stat().st_size > 10_000
    steps = np.arange(0, 2000, 10)
    columns = ["rmse_val", "rmse_trn", "rmse_e_val", "rmse_e_trn", "rmse_v_val", "rmse_v_trn"]
    rows = [[s, *(np.exp(-s / 500) + 0.1 * np.arange(1, 5)), 0.0, 0.0, 1e-3] for s in steps]
    long = tmp_path / "long.out"
    np.savetxt(long, rows, header=" ".join(["step", *columns, "lr"]), fmt="%.6g")
    assert main(["plot", str(long), "-o", str(tmp_path / "long.png")]) == 0
    assert (tmp_path / "long.png").stat().st_size > 10_000
    (tmp_path / "bad.out").write_text("1 2 3\n")
    assert main(["plot", str(tmp_path / "bad.out")]) == 2
    assert "no header line" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "missing.out")]) == 2
    # test --plot: energy, force and virial panels.
    png = tmp_path / "parity.png"
    argv = ["test", "-m", str(root / "model.pb"), "-s", str(root / "data"), "--plot", str(png)]
    assert main(argv) == 0
    assert png.stat().st_size > 10_000
