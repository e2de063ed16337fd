#!/usr/bin/env bash
# Builds and installs Horovod for the TensorFlow of $PYTHON's environment (`make horovod`).
#
# Horovod 0.28.1, the last release, does not build against TensorFlow 2.21 as released: its
# optional XLA op file (horovod/tensorflow/xla_mpi_ops.cc) includes XLA headers that moved.
# This script takes the PyPI sdist, drops that one source from horovod/tensorflow/
# CMakeLists.txt and builds with Gloo (and MPI where mpicxx is on PATH), TensorFlow only,
# against the installed TensorFlow (--no-build-isolation). About 5 minutes on 2 cores.
set -euo pipefail

PYTHON=${PYTHON:-python3}
VERSION=0.28.1
mkdir -p build
log=$(pwd)/build/horovod-build.log
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "deepkit: installing Horovod $VERSION failed: $1" >&2
  exit 1
}

"$PYTHON" -m pip install --quiet "cmake>=3.13" cloudpickle psutil pyyaml packaging ||
  fail "pip could not install Horovod's build tools (cmake, cloudpickle, psutil)"
"$PYTHON" -m pip download --quiet --no-deps --no-binary :all: "horovod==$VERSION" -d "$work" ||
  fail "pip could not download the horovod==$VERSION sdist"
tar -xzf "$work/horovod-$VERSION.tar.gz" -C "$work"
src="$work/horovod-$VERSION"
sed -i '/xla_mpi_ops\.cc/d' "$src/horovod/tensorflow/CMakeLists.txt"

mpi=HOROVOD_WITHOUT_MPI=1
if command -v mpicxx > /dev/null; then mpi=HOROVOD_WITH_MPI=1; fi
echo "building Horovod $VERSION (TensorFlow, Gloo, ${mpi#HOROVOD_}); log in $log" >&2
env HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITH_GLOO=1 "$mpi" HOROVOD_WITHOUT_PYTORCH=1 \
  HOROVOD_WITHOUT_MXNET=1 MAKEFLAGS="-j$(nproc)" \
  "$PYTHON" -m pip install --no-build-isolation --no-deps --verbose "$src" > "$log" 2>&1 ||
  fail "the build stopped; the compiler's messages are at the end of $log"
TF_CPP_MIN_LOG_LEVEL=3 "$PYTHON" -c "import deepkit.tfenv, horovod.tensorflow as hvd; hvd.init(); assert hvd.size() == 1" ||
  fail "Horovod was built but does not load with this TensorFlow (see $log)"
echo "Horovod $VERSION installed: horovodrun -np N deepkit train input.json" >&2
