"""Builds deepkit's op library (op_src/lib kernels + op_src/tf wrappers) against the
installed TensorFlow, with the compile and link flags that tf.sysconfig reports.

The library lands at deepkit/_ops*.so and is loaded by deepkit.ops.  CUDA sources
(op_src/lib/*.cu) are not built by this CPU build.
"""

from __future__ import annotations

import glob
import os
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


class BuildOps(build_ext):
    """Compiles every source of an extension in parallel and links one shared library."""

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
            self.compiler.link_shared_object(
                objects,
                self.get_ext_fullpath(ext.name),
                extra_postargs=link_flags + ["-fopenmp"],
                target_lang="c++",
            )
        except (CompileError, LinkError) as err:
            raise SystemExit(
                f"deepkit: building the op library failed ({err}). The compiler output above "
                "says why; a C++17 compiler with OpenMP (gcc >= 9) is required."
            ) from None


sources = sorted(glob.glob("op_src/lib/*.cc")) + sorted(glob.glob("op_src/tf/*.cc"))
setup(
    ext_modules=[Extension("deepkit._ops", sources=sources, include_dirs=["op_src"])],
    cmdclass={"build_ext": BuildOps},
)
