"""The CUDA sources cannot rot: they are compiled here (no GPU needed) wherever the CUDA
toolkit is installed, and the whole DEEPKIT_CUDA=1 library is built against the CUDA build
of TensorFlow, loaded and run on the CPU. Running the kernels is gpu_check's job on a GPU
machine (README, "GPU")."""

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import tensorflow as tf
from systems import SHARED_DATA
from toolchain import CXX

ROOT = Path(__file__).resolve().parents[1]
NVCC = shutil.which("nvcc")
needs_nvcc = pytest.mark.skipif(
    NVCC is None,
    reason="nvcc not on PATH: CUDA sources are compile-checked where CUDA is installed",
)


def run(cmd, cwd=ROOT, env=None):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@needs_nvcc
@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not on PATH")
def test_kernels_and_gpu_check_build(tmp_path):
    """op_src/CMakeLists.txt builds the CPU and CUDA kernel libraries and links gpu_check."""
    build = tmp_path / "build"
    run(["cmake", "-S", "op_src", "-B", str(build), "-DCMAKE_CUDA_ARCHITECTURES=90"])
    run(["cmake", "--build", str(build), "-j", "2"])
    assert (build / "gpu_check").exists()


@needs_nvcc
def test_tensorflow_gpu_registrations_compile():
    """The op wrappers with DEEPKIT_CUDA (DEVICE_GPU kernels, GpuLaunch) compile against the
    installed TensorFlow's headers; linking them needs a CUDA build of TensorFlow."""
    roots = [Path(NVCC).resolve().parents[1], Path("/usr/local/cuda")]
    cuda_include = next(r / "include" for r in roots if (r / "include" / "cuda_runtime.h").exists())
    flags = [*tf.sysconfig.get_compile_flags(), "-std=c++17", "-DDEEPKIT_CUDA"]
    flags += ["-Iop_src", f"-I{cuda_include}", "-Wno-deprecated-declarations", "-fsyntax-only"]
    sources = [
        "gpu_launch.cc",
        "neighbor_list_op.cc",
        "env_mat_op.cc",
        "prod_ops.cc",
        "tabulate_ops.cc",
    ]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda s: run([CXX, *flags, f"op_src/tf/{s}"]), sources))


def test_setup_refuses_cuda_with_cpu_tensorflow():
    """DEEPKIT_CUDA=1 against tensorflow-cpu fails with one clear line, before compiling."""
    if tf.sysconfig.get_build_info().get("is_cuda_build", False):
        pytest.skip("this TensorFlow is a CUDA build")
    code = "import sys; sys.argv = ['setup.py', 'build_ext']; exec(open('setup.py').read())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"DEEPKIT_CUDA": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "CPU-only build" in result.stderr + result.stdout


GPU_OPS = [
    "DkNeighborList",
    "DkEnvMat",
    "DkProdForce",
    "DkProdVirial",
    "DkProdForceGrad",
    "DkProdVirialGrad",
    "DkTabulateFusion",
    "DkTabulateFusionGrad",
    "DkTabulateFusionGradGrad",
]

REGISTERED = """
import json
import deepkit.ops
from tensorflow.python.framework import kernels
deepkit.ops.op_library()
ops = {GPU_OPS!r} + ["DkExternalNeighborList"]
found = {{op: sorted(k.device_type for k in kernels.get_registered_kernels_for_op(op).kernel)
         for op in ops}}
print(json.dumps(found))
"""


def copy_sources(dest):
    """What pip needs to build deepkit, and the tests, without built libraries."""
    skip = shutil.ignore_patterns("*.so", "__pycache__", "include")
    for name in ("deepkit", "op_src", "tests"):
        shutil.copytree(ROOT / name, dest / name, ignore=skip)
    for name in ("setup.py", "pyproject.toml", "README.md", "MANIFEST.in"):
        shutil.copy2(ROOT / name, dest / name)


def cuda_majors(python, env):
    """(TensorFlow's CUDA major version, the nvcc's) as strings."""
    code = "import tensorflow as tf; print(tf.sysconfig.get_build_info()['cuda_version'])"
    theirs = run([python, "-c", code], ROOT, env).split()[-1].split(".")[0]
    version = subprocess.run(
        [NVCC, "--version"], check=False, capture_output=True, text=True
    ).stdout
    return theirs, re.search(r"release (\d+)", version).group(1)


@pytest.fixture
def scratch_venv(tmp_path):
    """A venv that is removed afterwards: with TensorFlow's CUDA build it is 2.5 GB."""
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    yield venv
    shutil.rmtree(venv, ignore_errors=True)


@needs_nvcc
@pytest.mark.slow
def test_cuda_library_with_cuda_tensorflow(tmp_path, scratch_venv):
    """DEEPKIT_CUDA=1 against PyPI's CUDA build of TensorFlow: a toolkit of another CUDA
    major version is refused in one line; built (for sm_90 only, to be quick), the library
    loads, every op but the external list has a GPU kernel, and the op tests pass on the
    CPU with it. (~4 min: TensorFlow's CUDA wheel is 570 MB.)"""
    src = tmp_path / "src"
    python = str(scratch_venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet"]
    run([*pip, "tensorflow>=2.21,<2.22", "setuptools>=77", "wheel", "pytest>=7"])
    run([*pip, "numpy>=1.23", "h5py", "pyyaml", "ase"])
    copy_sources(src)
    env = {**os.environ, "DEEPKIT_CUDA": "1", "DEEPKIT_CUDA_ARCH": "90"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["DEEPKIT_SHARED_DATA"] = str(SHARED_DATA)
    env.pop("DEEPKIT_CUDA_ANY_VERSION", None)
    install = [*pip, "--no-build-isolation", "--no-deps", "-e", "."]

    theirs, ours = cuda_majors(python, env)
    if theirs != ours:
        refused = subprocess.run(
            install, cwd=src, env=env, capture_output=True, text=True, check=False
        )
        assert refused.returncode != 0
        said = refused.stdout + refused.stderr
        assert f"is {ours}." in said and f"its own CUDA {theirs}." in said, said
        env["DEEPKIT_CUDA_ANY_VERSION"] = "1"
    run(install, src, env)

    script = REGISTERED.format(GPU_OPS=GPU_OPS)
    registered = json.loads(run([python, "-c", script], tmp_path, env).splitlines()[-1])
    for op in GPU_OPS:
        assert registered[op] == ["CPU", "GPU"], op
    assert registered["DkExternalNeighborList"] == ["CPU"]
    tests = ["tests/test_env_mat.py", "tests/test_prod_force_virial.py", "tests/test_compress.py"]
    run([python, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests], src, env)
