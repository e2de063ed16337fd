"""`deepkit train` as a DeePMD-kit user runs it: dp's flags and forms, the systems table and
losses on the terminal, the output-folder guard, one neighbour scan, input errors before
TensorFlow is imported."""

import copy
import json
import subprocess
import sys

import ase.io
import numpy as np
import pytest
from datasets import emt_frames
from models import BASE

from deepkit.cli import main
from deepkit.data.convert import convert


@pytest.fixture(scope="module")
def alcu_input(tmp_path_factory):
    """An input (sel auto, 4 steps) over six EMT Al-Cu frames, as a user writes it."""
    root = tmp_path_factory.mktemp("alcu")
    ase.io.write(root / "frames.xyz", emt_frames(np.random.default_rng(4), 6), format="extxyz")
    convert([str(root / "frames.xyz")], root / "data", "npy", type_map=["Al", "Cu"])
    raw = copy.deepcopy(BASE)
    raw["model"]["type_map"] = ["Al", "Cu"]
    raw["model"]["descriptor"].update(sel="auto", rcut=4.5)
    raw["learning_rate"]["decay_steps"] = 5000
    raw["training"].update(
        training_data={"systems": [str(root / "data")], "batch_size": 2},
        numb_steps=4,
        disp_freq=2,
        save_freq=2,
    )
    path = root / "input.json"
    path.write_text(json.dumps(raw))
    return path


def train(args, capsys):
    code = main(["train", *map(str, args)])
    return code, capsys.readouterr().err


def test_terminal_shows_systems_schedule_and_losses(alcu_input, tmp_path, capsys):
    log = tmp_path / "train.log"
    code, err = train([alcu_input, "-o", tmp_path / "run", "-l", log], capsys)
    assert code == 0
    assert "training data with 1 system(s):" in err
    header = next(line for line in err.splitlines() if "natoms" in line).split()
    assert header == ["system", "natoms", "bch_sz", "n_bch", "prob", "pbc"]
    assert "start training at lr 1.00e-03 (== 1.00e-03), decay_step 1," in err  # dp's rule
    assert "batch       4: trn: rmse = " in err and "rmse_f = " in err
    assert log.read_text().splitlines() == [line for line in err.splitlines() if line.strip()]


def test_a_fresh_run_does_not_overwrite_an_old_one(alcu_input, tmp_path, capsys):
    run = tmp_path / "run"
    assert train([alcu_input, "-o", run], capsys)[0] == 0
    before = (run / "lcurve.out").read_text()
    code, err = train([alcu_input, "-o", run], capsys)
    assert code == 2 and "holds a previous run" in err and "--force" in err
    assert (run / "lcurve.out").read_text() == before
    assert train([alcu_input, "-o", run, "--force"], capsys)[0] == 0


def test_dp_forms_of_output_restart_and_latest_links(alcu_input, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert train([alcu_input, "-o", "named.json"], capsys)[0] == 0  # dp: -o names the JSON
    assert (tmp_path / "named.json").exists() and not (tmp_path / "out.json").exists()
    link = tmp_path / "model.ckpt.index"
    assert link.is_symlink() and link.resolve().name == "model.ckpt-4.index"
    code, err = train([alcu_input, "-o", "named.json", "--restart", "model.ckpt"], capsys)
    assert code == 0 and "restart from" in err and "at step 4" in err
    # the checkpoint carries its input: freeze needs no out.json
    assert main(["freeze", "-c", ".", "-o", "model.pb"]) == 0


def test_one_neighbour_scan_and_skipping_it(alcu_input, tmp_path, capsys, monkeypatch):
    import deepkit.train.trainer as trainer_module

    calls = []
    real = trainer_module.neighbor_stat
    monkeypatch.setattr(
        trainer_module, "neighbor_stat", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    assert train([alcu_input, "-o", tmp_path / "a"], capsys)[0] == 0
    assert len(calls) == 1  # sel "auto" and the closest pair from one scan
    code, err = train([alcu_input, "-o", tmp_path / "b", "--skip-neighbor-stat"], capsys)
    assert code == 2 and "--skip-neighbor-stat" in err and "sel" in err
    raw = json.loads(alcu_input.read_text())
    raw["model"]["descriptor"]["sel"] = [24, 24]
    listed = tmp_path / "listed.json"
    listed.write_text(json.dumps(raw))
    assert train([listed, "-o", tmp_path / "c", "--skip-neighbor-stat"], capsys)[0] == 0
    assert len(calls) == 1


def test_input_errors_come_before_tensorflow(alcu_input, tmp_path):
    raw = json.loads(alcu_input.read_text())
    raw["training"]["training_data"]["systems"] = [str(tmp_path / "missing")]
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps(raw))
    raw["model"]["descriptor"]["rcutt"] = 4.0
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps(raw))
    for path, message in ((missing, "does not exist"), (typo, "rcutt")):
        script = (
            "import sys; from deepkit.cli import main; "
            f"code = main(['train', {str(path)!r}, '-o', {str(tmp_path / 'out')!r}]); "
            "print(code, 'tensorflow' in sys.modules)"
        )
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        assert result.stdout.split() == ["2", "False"], result.stdout + result.stderr
        assert message in result.stderr
