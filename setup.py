"""Builds deepkit's op library (op_src/lib kernels + op_src/tf wrappers) against the
installed TensorFlow, with the compile and link flags that tf.sysconfig reports.

The library lands at deepkit/_ops*.so and is loaded by deepkit.ops. The C API for frozen
models (op_src/capi) lands at deepkit/capi/libdeepkit_c.so with its header in
deepkit/capi/include; `deepkit config --cflags --libs` prints how to use them.  With DEEPKIT_CUDA=1
(and a CUDA build of TensorFlow) the CUDA kernels of op_src/lib/cuda are compiled with nvcc
and registered for DEVICE_GPU too; DEEPKIT_CUDA_ARCH ("70;80;90" by default) picks the
GPU generations, CUDA_HOME (or the nvcc on PATH) the toolkit.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CompileError, LinkError

TF_RANGE = "tensorflow-cpu>=2.21,<2.22"
AVX2_FLAGS = ["-mavx2", "-mfma", "-fvisibility=hidden", "-fvisibility-inlines-hidden"]


def tensorflow_flags() -> tuple[list[str], list[str]]:
    try:
        import tensorflow as tf
    except ImportError as err:
        raise SystemExit(
            f"deepkit: building the ops needs TensorFlow ({TF_RANGE}), which is not importable "
            f"here ({err}). Install it first, e.g. `pip install '{TF_RANGE}'`, then "
            "`pip install --no-build-isolation .`"
        ) from None
    return tf.sysconfig.get_compile_flags(), tf.sysconfig.get_link_flags()


def cuda_requested() -> bool:
    return os.environ.get("DEEPKIT_CUDA", "0").lower() in ("1", "true", "yes", "on")


def cuda_toolkit() -> str:
    """Root of the CUDA toolkit holding nvcc."""
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    nvcc = os.path.join(home, "bin", "nvcc") if home else shutil.which("nvcc")
    if not nvcc or not os.path.exists(nvcc):
        raise SystemExit(
            "deepkit: DEEPKIT_CUDA=1 needs the CUDA toolkit's nvcc: set CUDA_HOME or put nvcc "
            "on PATH (or build without DEEPKIT_CUDA for the CPU-only library)"
        )
    # nvcc may be a wrapper script outside the toolkit (e.g. /usr/local/bin/nvcc).
    for root in (os.path.dirname(os.path.dirname(os.path.realpath(nvcc))), "/usr/local/cuda"):
        if os.path.exists(os.path.join(root, "include", "cuda_runtime.h")):
            return root
    raise SystemExit(f"deepkit: cannot find cuda_runtime.h beside {nvcc}; set CUDA_HOME")


def check_tensorflow_cuda() -> None:
    import tensorflow as tf

    if not tf.sysconfig.get_build_info().get("is_cuda_build", False):
        raise SystemExit(
            "deepkit: DEEPKIT_CUDA=1 but the installed TensorFlow is a CPU-only build; install "
            "the CUDA build (`pip install 'tensorflow[and-cuda]>=2.21,<2.22'`) or drop DEEPKIT_CUDA"
        )


def nvcc_command(cuda: str, source: str, obj: str) -> list[str]:
    """nvcc without fused multiply-add, so the GPU rounds like the CPU kernels."""
    archs = os.environ.get("DEEPKIT_CUDA_ARCH", "70;80;90").replace(",", ";").split(";")
    gencode = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in archs if a.strip()]
    return [
        os.path.join(cuda, "bin", "nvcc"),
        "-std=c++17",
        "-O3",
        "-fmad=false",
        "-Xcompiler",
        "-fPIC",
        *gencode,
        "-Iop_src",
        "-c",
        source,
        "-o",
        obj,
    ]


CAPI_FILES = ("libdeepkit_c.so", os.path.join("include", "deepkit_c.h"))


class BuildOps(build_ext):
    """Compiles every source of an extension in parallel and links one shared library."""

    def run(self) -> None:
        super().run()  # builds into build_lib, then copies the extension in place if asked
        if self.inplace:
            for built, in_place in self._capi_mapping():
                # copy + rename: a running program keeps its mapped copy of the old library
                os.makedirs(os.path.dirname(in_place), exist_ok=True)
                shutil.copyfile(built, in_place + ".tmp")
                os.replace(in_place + ".tmp", in_place)

    def _capi_mapping(self):
        """(built, in-place) paths of the C API files (build_capi writes them)."""
        built = os.path.join(self.build_lib, "deepkit", "capi")
        for name in CAPI_FILES:
            yield os.path.join(built, name), os.path.join("deepkit", "capi", name)

    def _get_output_mapping(self):
        yield from super()._get_output_mapping()
        if self.inplace:
            yield from self._capi_mapping()

    def get_outputs(self) -> list[str]:
        if self.inplace:
            return super().get_outputs()
        return super().get_outputs() + [built for built, _ in self._capi_mapping()]

    def build_extension(self, ext: Extension) -> None:
        compile_flags, link_flags = tensorflow_flags()
        cflags = compile_flags + [
            "-std=c++17",
            "-O3",
            "-fopenmp",
            "-fPIC",
            "-Wno-deprecated-declarations",
        ]
        jobs = max(1, int(os.environ.get("DEEPKIT_BUILD_JOBS", os.cpu_count() or 1)))
        cuda_objects: list[str] = []
        if cuda_requested():
            check_tensorflow_cuda()
            cuda = cuda_toolkit()
            cflags += ["-DDEEPKIT_CUDA", f"-I{os.path.join(cuda, 'include')}"]
            link_flags = link_flags + [f"-L{os.path.join(cuda, 'lib64')}", "-lcudart"]
            cuda_objects = self.compile_cuda(cuda, jobs)

        def compile_one(source: str) -> list[str]:
            # *_avx2.cc: kernels for AVX2/FMA CPUs, chosen at run time (deepkit.ops); hidden
            # visibility keeps their template instantiations from mixing with TensorFlow's.
            extra = AVX2_FLAGS if source.endswith("_avx2.cc") else []
            return self.compiler.compile(
                [source],
                output_dir=self.build_temp,
                include_dirs=ext.include_dirs,
                extra_postargs=cflags + extra,
            )

        try:
            with ThreadPoolExecutor(jobs) as pool:
                objects = [obj for objs in pool.map(compile_one, ext.sources) for obj in objs]
            objects += cuda_objects
            self.compiler.link_shared_object(
                objects,
                self.get_ext_fullpath(ext.name),
                extra_postargs=link_flags + ["-fopenmp"],
                target_lang="c++",
            )
            self.build_capi(compile_flags, os.path.basename(self.get_ext_fullpath(ext.name)))
        except (CompileError, LinkError) as err:
            raise SystemExit(
                f"deepkit: building the op library failed ({err}). The compiler output above "
                "says why; a C++17 compiler with OpenMP (gcc >= 9) is required."
            ) from None

    def build_capi(self, compile_flags: list[str], ops_name: str) -> None:
        """libdeepkit_c.so over TensorFlow's C API, which it opens at run time from the
        TensorFlow found here (no link-time dependency), and its header beside it."""
        import tensorflow as tf

        package = os.path.dirname(self.get_ext_fullpath("deepkit._ops"))
        capi = os.path.join(package, "capi")
        os.makedirs(os.path.join(capi, "include"), exist_ok=True)
        shutil.copyfile("op_src/capi/deepkit_c.h", os.path.join(capi, CAPI_FILES[1]))
        defines = {
            "DEEPKIT_VERSION": self.distribution.get_version(),
            "DEEPKIT_OPS_NAME": ops_name,
            "DEEPKIT_TF_LIB_DIR": tf.sysconfig.get_lib(),
        }
        objects = self.compiler.compile(
            sorted(glob.glob("op_src/capi/*.cc")),
            output_dir=os.path.join(self.build_temp, "capi"),
            include_dirs=["op_src"],
            macros=[(k, f'"{v}"') for k, v in defines.items()],
            # Only the dk_* functions leave the library (and exports.map at link time):
            # exported template copies (std::vector<std::string> ...) would be bound by
            # TensorFlow's own code, which the library opens later with RTLD_GLOBAL.
            extra_postargs=compile_flags
            + ["-std=c++17", "-O2", "-fPIC", "-Wall", "-fvisibility=hidden"]
            + ["-fvisibility-inlines-hidden"],
        )
        self.compiler.link_shared_object(
            objects,
            os.path.join(capi, CAPI_FILES[0]),
            libraries=["dl"],
            extra_postargs=[
                "-Wl,-soname,libdeepkit_c.so",
                "-Wl,--version-script=op_src/capi/exports.map",
            ],
            target_lang="c++",
        )

    def compile_cuda(self, cuda: str, jobs: int) -> list[str]:
        os.makedirs(self.build_temp, exist_ok=True)

        def compile_one(source: str) -> str:
            obj = os.path.join(self.build_temp, os.path.basename(source) + ".o")
            result = subprocess.run(
                nvcc_command(cuda, source, obj), check=False, capture_output=True, text=True
            )
            if result.returncode != 0:
                raise SystemExit(f"deepkit: nvcc failed on {source}:\n{result.stderr}")
            return obj

        with ThreadPoolExecutor(jobs) as pool:
            return list(pool.map(compile_one, sorted(glob.glob("op_src/lib/cuda/*.cu"))))


sources = sorted(glob.glob("op_src/lib/*.cc")) + sorted(glob.glob("op_src/tf/*.cc"))
setup(
    ext_modules=[Extension("deepkit._ops", sources=sources, include_dirs=["op_src"])],
    cmdclass={"build_ext": BuildOps},
)
