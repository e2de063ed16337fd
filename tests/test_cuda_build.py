"""The CUDA sources cannot rot: they are compiled here (no GPU needed) wherever the CUDA
toolkit is installed. Running them is gpu_check's job on a GPU machine (README, "GPU")."""

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[1]
NVCC = shutil.which("nvcc")
needs_nvcc = pytest.mark.skipif(
    NVCC is None,
    reason="nvcc not on PATH: CUDA sources are compile-checked where CUDA is installed",
)


def run(cmd, cwd=ROOT):
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))}\n{result.stdout}\n{result.stderr}"


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
    compiler = shutil.which("g++") or shutil.which("c++")
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda s: run([compiler, *flags, f"op_src/tf/{s}"]), sources))


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
