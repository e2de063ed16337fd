"""A clean terminal whatever the CPU: TensorFlow's start-up log (oneDNN's notice, which it
prints before absl's logging is set up, so TF_CPP_MIN_LOG_LEVEL cannot hide it) stays off
stderr for the command, DeepPot and the ASE calculator with oneDNN on (Intel's default,
TF_ENABLE_ONEDNN_OPTS=1) and off; the numbers do not depend on the filter."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from models import frozen_alcu_model

from deepkit.tfenv import filter_startup_log

ROOT = Path(__file__).resolve().parent.parent
DEEPKIT = Path(sys.executable).parent / "deepkit"
ONEDNN_NOTICE = "oneDNN custom operations are on"

STARTUP = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1796193491.018079    2197 port.cc:153] oneDNN custom operations are on.\n"
    "W0000 00:00:1796193507.750802    2206 port.cc:148] TF_ENABLE_ONEDNN_OPTS is not set\n"
    "E0000 00:00:1796193507.750885    2206 port.cc:160] something failed\n"
    "a line of the caller's own\n"
)

EVAL_SCRIPT = """
import sys
import ase.io
import numpy as np
from deepkit import DeepPot
from deepkit.calculator import DeepKit

model, data, out = sys.argv[1:]
dp = DeepPot(model)
coord = np.load(data + "/set.000/coord.npy")[:2]
box = np.load(data + "/set.000/box.npy")[:2]
atype = np.loadtxt(data + "/type.raw", dtype=int)
e, f, v = dp.eval(coord, box, atype)
atoms = ase.io.read(data + "/../../frames.xyz", index=0)
atoms.calc = DeepKit(model)
np.savez(out, e=e, f=f, v=v, ase=atoms.get_potential_energy())
"""


def quiet_env(onednn: str, **extra: str) -> dict:
    """A user's environment: TF_CPP_MIN_LOG_LEVEL unset (conftest sets it for the suite)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return {**env, "TF_ENABLE_ONEDNN_OPTS": onednn, **extra}


@pytest.fixture(scope="module")
def alcu(tmp_path_factory):
    root = tmp_path_factory.mktemp("quiet")
    frozen_alcu_model(root)
    return root


def test_filter_hides_absl_records_below_the_level():
    assert filter_startup_log(STARTUP, 2).splitlines() == [
        "E0000 00:00:1796193507.750885    2206 port.cc:160] something failed",
        "a line of the caller's own",
    ]
    assert len(filter_startup_log(STARTUP, 1).splitlines()) == 4  # the I record goes
    assert filter_startup_log(STARTUP, 0) == STARTUP
    assert filter_startup_log(STARTUP, 4) == "a line of the caller's own\n"


def test_no_module_imports_tensorflow_directly():
    """Every import goes through deepkit.tfenv, else its log would reach the terminal."""
    offenders = []
    for path in sorted((ROOT / "deepkit").rglob("*.py")):
        if path.name == "tfenv.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "tensorflow" or n.startswith("tensorflow.") for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize("onednn", ["1", "0"])
def test_command_stderr_is_clean(alcu, onednn):
    command = [str(DEEPKIT), "neighbor-stat", "-s", str(alcu / "data"), "-r", "4.5"]
    result = subprocess.run(
        command, env=quiet_env(onednn), capture_output=True, text=True, check=True
    )
    assert "min_nbor_dist" in result.stdout
    assert result.stderr == ""


def test_debug_shows_tensorflow_log(alcu):
    """The filter hides a real line: --debug lets it through."""
    command = [str(DEEPKIT), "--debug", "neighbor-stat", "-s", str(alcu / "data"), "-r", "4.5"]
    result = subprocess.run(command, env=quiet_env("1"), capture_output=True, text=True, check=True)
    assert ONEDNN_NOTICE in result.stderr


def eval_in_fresh_process(root: Path, out: Path, env: dict) -> tuple[dict, str]:
    (system,) = (root / "data").iterdir()
    command = [sys.executable, "-c", EVAL_SCRIPT, str(root / "model.pb"), str(system)]
    result = subprocess.run(
        [*command, str(out)], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return dict(np.load(out)), result.stderr


def test_deep_pot_and_ase_quiet_and_reproducible_with_onednn_on_and_off(alcu, tmp_path):
    runs = {}
    for name, onednn in (("on", "1"), ("on_again", "1"), ("off", "0")):
        runs[name], stderr = eval_in_fresh_process(
            alcu, tmp_path / f"{name}.npz", quiet_env(onednn)
        )
        assert stderr == "", name
    for key, value in runs["on"].items():
        np.testing.assert_array_equal(value, runs["on_again"][key])  # same machine, same threads
        np.testing.assert_allclose(value, runs["off"][key], rtol=1e-12, atol=1e-12)
    _, stderr = eval_in_fresh_process(
        alcu, tmp_path / "loud.npz", quiet_env("1", TF_CPP_MIN_LOG_LEVEL="0")
    )
    assert ONEDNN_NOTICE in stderr  # the caller's own level is obeyed
