import os

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
