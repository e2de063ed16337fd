import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from deepkit.tfenv import tf


@pytest.fixture
def sess():
    """A tf.compat.v1 session on a fresh graph, both made default."""
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        yield session


@pytest.fixture
def rng():
    return np.random.default_rng(20261124)


@pytest.fixture(scope="session")
def emt_data(tmp_path_factory):
    """Twelve EMT Al-Cu frames as a DeePMD npy system."""
    import ase.io
    from datasets import emt_frames

    from deepkit.data.convert import convert

    root = tmp_path_factory.mktemp("emt")
    frames = emt_frames(np.random.default_rng(0), 12, symbols=("Al", "Cu"))
    ase.io.write(root / "frames.xyz", frames, format="extxyz")
    convert([str(root / "frames.xyz")], root / "data", "npy", type_map=["Al", "Cu"])
    return root / "data"


@pytest.fixture(scope="session")
def alcu_model(tmp_path_factory):
    """models.frozen_alcu_model: (root with data/, run/ and model.pb; arrays of the first
    set; atype)."""
    from models import frozen_alcu_model

    root = tmp_path_factory.mktemp("alcu_model")
    _, arrays, atype = frozen_alcu_model(root)
    return root, arrays, atype


@pytest.fixture(scope="session")
def driver(tmp_path_factory):
    """tests/capi/capi_check.c built against the C API: runs a model on raw arrays."""
    from toolchain import CC

    from deepkit import capi

    if CC is None:
        pytest.skip("no C compiler (cc or gcc) on PATH")
    exe = tmp_path_factory.mktemp("capi") / "capi_check"
    source = Path(__file__).resolve().parent / "capi" / "capi_check.c"
    command = [CC, "-O2", "-Wall", "-Werror", str(source), "-o", str(exe)]
    command += capi.cflags().split() + capi.libs().split() + ["-lpthread"]
    subprocess.run(command, check=True)
    return exe
