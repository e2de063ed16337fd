"""Faults during training: signals save a checkpoint at the step reached, `kill -9` loses
nothing that --restart needs and leaves an lcurve with each step once, a diverging run
stops at the first non-finite step without saving it, an unwritable checkpoint is one line."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from models import alcu_config

from deepkit.cli import main
from deepkit.train.lcurve import LearningCurve
from deepkit.train.signals import StopRequest


def start_training(folder, config, ignore_sigint=False, prelude=""):
    """`deepkit train input.json -o out` as its own process, stderr to folder/stderr.txt;
    prelude: Python statements run first."""
    (folder / "input.json").write_text(json.dumps(config))
    # A shell's background job starts with SIGINT ignored; an interactive one does not.
    # SIGHUP as a terminal leaves it: a suite run under nohup would hand it on ignored.
    handler = "signal.SIG_IGN" if ignore_sigint else "signal.default_int_handler"
    script = (
        f"import runpy, signal, sys; {prelude}signal.signal(signal.SIGINT, {handler}); "
        "signal.signal(signal.SIGHUP, signal.SIG_DFL); "
        "sys.argv = ['deepkit', 'train', 'input.json', '-o', 'out', *sys.argv[1:]]; "
        "runpy.run_module('deepkit.cli', run_name='__main__')"
    )
    return lambda *extra: subprocess.Popen(  # stderr to a file: a full pipe would block it
        [sys.executable, "-c", script, *extra],
        cwd=folder,
        stderr=(folder / "stderr.txt").open("w"),
    )


def wait_for_rows(folder, rows, process, timeout=180):
    path = folder / "out" / "lcurve.out"
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if path.exists() and len(path.read_text().splitlines()) > rows:
            return
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"training wrote no {rows} rows: {(folder / 'stderr.txt').read_text()[-2000:]}")


def finish(process, folder, timeout=180):
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"no exit in {timeout} s: {(folder / 'stderr.txt').read_text()[-2000:]}")
    return process.returncode, (folder / "stderr.txt").read_text()


def global_step(prefix):
    import tensorflow as tf

    return int(tf.train.load_variable(str(prefix), "global_step"))


def lcurve_steps(folder):
    return np.loadtxt(folder / "out" / "lcurve.out", ndmin=2)[:, 0].astype(int).tolist()


@pytest.mark.parametrize(
    "name, ignore_sigint, status",
    [("SIGTERM", True, 143), ("SIGINT", False, 130), ("SIGHUP", False, 129)],
)
def test_a_signal_saves_the_step_reached_and_restart_goes_on(
    emt_data, tmp_path, name, ignore_sigint, status
):
    """SIGTERM (also in a background job, which ignores SIGINT), Ctrl-C, a hang-up: the
    checkpoint is named for the step it holds; --restart runs to the end; each lcurve step
    once, in order."""
    config = alcu_config(emt_data, numb_steps=100000, disp_freq=1, save_freq=3)
    launch = start_training(tmp_path, config, ignore_sigint)
    process = launch()
    wait_for_rows(tmp_path, 5, process)
    process.send_signal(getattr(signal, name))
    code, stderr = finish(process, tmp_path)
    assert code == status, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"deepkit: stopped by {name} at step ") and "Traceback" not in stderr
    step = int(last.rsplit(" ", 1)[1])
    prefix = tmp_path / "out" / f"model.ckpt-{step}"
    assert "stopped at step" in stderr and global_step(prefix) == step

    config["training"]["numb_steps"] = step + 4
    (tmp_path / "input.json").write_text(json.dumps(config))
    code, stderr = finish(launch("--restart", "out"), tmp_path)
    assert code == 0, stderr
    assert lcurve_steps(tmp_path) == list(range(step + 5))


def test_kill_9_at_random_moments_then_restart(emt_data, tmp_path):
    """Three kill -9s, each at a random moment of a run that saves every step (so most land
    inside a save), each followed by --restart: every restart starts from a complete
    checkpoint, and the lcurve ends with each step once, in order."""
    import tensorflow as tf

    rng = np.random.default_rng(22)
    config = alcu_config(emt_data, numb_steps=100000, disp_freq=1, save_freq=1)
    launch = start_training(tmp_path, config)
    process = launch()
    for trial in range(3):
        wait_for_rows(tmp_path, 4 + 4 * trial, process)
        time.sleep(rng.uniform(0.0, 1.0))
        process.kill()
        process.wait()
        process = launch("--restart", "out")
    wait_for_rows(tmp_path, 16, process)
    process.kill()
    process.wait()
    latest = global_step(tf.train.latest_checkpoint(str(tmp_path / "out")))
    config["training"]["numb_steps"] = latest + 2
    (tmp_path / "input.json").write_text(json.dumps(config))
    code, stderr = finish(launch("--restart", "out"), tmp_path)
    assert code == 0, stderr
    assert lcurve_steps(tmp_path) == list(range(latest + 3))


def test_lcurve_on_restart_drops_rows_past_the_step_and_a_cut_row(tmp_path):
    path = tmp_path / "lcurve.out"
    path.write_text("#    step  rmse_trn  lr\n 0 1.0 1e-3\n 1 0.9 1e-3\n 2 0.8 1e-3\n 3 0.")
    curve = LearningCurve(path, ["rmse"], validation=False, append=True, after_step=1)
    curve.write(2, {"rmse": 0.5}, None, 1e-3)
    curve.close()
    rows = path.read_text().splitlines()
    assert rows[0].startswith("#") and [int(r.split()[0]) for r in rows[1:]] == [0, 1, 2]
    assert rows[-1].split()[1] == "5.00e-01"


def test_stop_request_takes_signals_while_active_only():
    before = signal.getsignal(signal.SIGTERM)
    with StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested and stop.signal_name == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is before


def test_divergence_stops_at_the_first_bad_step_and_saves_none(emt_data, tmp_path, capsys):
    """start_lr 1e300: the weights blow up in the first step and the loss is inf or NaN at
    the second. The run stops there with one line; no checkpoint holds a non-finite weight."""
    import tensorflow as tf

    config = alcu_config(emt_data, numb_steps=50, disp_freq=10, save_freq=1)
    config["learning_rate"].update(start_lr=1e300, stop_lr=1e299)
    (tmp_path / "input.json").write_text(json.dumps(config))
    code = main(["train", str(tmp_path / "input.json"), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("deepkit: error: step ") and "NaN or infinite" in line
    assert "the last checkpoint:" in line
    for index in (tmp_path / "out").glob("model.ckpt-*.index"):
        prefix = str(index)[: -len(".index")]
        reader = tf.train.load_checkpoint(prefix)
        for name, dtype in reader.get_variable_to_dtype_map().items():
            if dtype.is_floating:
                assert np.all(np.isfinite(reader.get_tensor(name))), (prefix, name)


def test_an_unwritable_checkpoint_is_one_line(emt_data, tmp_path):
    """ulimit -f: the checkpoint write fails (as on a full disk), training says which file."""

    limit = (
        "import resource; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000)); "
    )
    config = alcu_config(emt_data, numb_steps=4, disp_freq=2, save_freq=2)
    process = start_training(tmp_path, config, prelude=limit)()
    code, stderr = finish(process, tmp_path)
    assert code == 2, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("deepkit: error: cannot write checkpoint ") and "model.ckpt-2" in last
    assert "Traceback" not in stderr


def test_restart_passes_over_a_damaged_checkpoint_and_tidies_up(emt_data, tmp_path):
    """The latest checkpoint cut short (a full disk, a kill during the write): --restart
    continues from the one before, with a warning; the leftovers of killed saves go and
    max_ckpt_keep counts the checkpoints already there."""
    from deepkit.train.checkpoint import CheckpointFallbackWarning
    from deepkit.train.trainer import Trainer

    out = tmp_path / "out"
    config = alcu_config(emt_data, numb_steps=4, save_freq=1, disp_freq=1, max_ckpt_keep=2)
    Trainer(config, out, log=lambda *a: None).run()
    data = out / "model.ckpt-4.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    (out / "checkpoint").write_text("garbled {{{\n")
    leftovers = [
        out / "model.ckpt-5_temp",
        out / ".model.ckpt.index.tmp",
        out / ".lcurve.out.k2j4h5g6",
    ]
    leftovers[0].mkdir()
    for path in leftovers[1:]:
        path.write_text("")
    config["training"]["numb_steps"] = 6
    lines = []
    with pytest.warns(CheckpointFallbackWarning, match=r"model.ckpt-4: .*using .*model.ckpt-3"):
        Trainer(config, out, log=lines.append).run(restart=str(out))
    assert any("restart from" in line and "at step 3" in line for line in lines), lines
    assert not any(path.exists() for path in leftovers)
    kept = sorted(int(p.name.split("-")[1].split(".")[0]) for p in out.glob("model.ckpt-*.index"))
    assert kept == [5, 6]
    assert lcurve_steps(tmp_path) == list(range(7))


def test_an_unusable_checkpoint_folder_stops_before_training(emt_data, tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    config = alcu_config(emt_data, numb_steps=4, save_freq=2)
    config["training"]["save_ckpt"] = str(tmp_path / "a-file" / "model.ckpt")
    (tmp_path / "input.json").write_text(json.dumps(config))
    code = main(["train", str(tmp_path / "input.json"), "-o", str(tmp_path / "out")])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("deepkit: error: training.save_ckpt: cannot write in")
    assert not (tmp_path / "out" / "lcurve.out").exists()
