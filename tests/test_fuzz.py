"""Property-based fuzzing of the readers (hypothesis): whatever an input file, a .npy, an
HDF5 file or a frozen model's metadata holds, reading it either works or raises the
documented error (InputError, one line) — never another exception."""

import copy
import json

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from models import BASE

from deepkit.config import normalize
from deepkit.data import expand_systems
from deepkit.errors import InputError

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI stays reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


def key_paths(node, prefix=()):
    """Every (path) to a value inside a JSON tree."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from key_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from key_paths(value, (*prefix, index))


INPUT_PATHS = [path for path in key_paths(BASE) if path]


@FUZZ
@given(path=st.sampled_from(INPUT_PATHS), value=json_values)
def test_any_input_value_is_taken_or_refused_by_name(path, value):
    raw = copy.deepcopy(BASE)
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    try:
        normalize(raw)
    except InputError as err:
        assert "\n" not in str(err)


def write_system(root, natoms=3, nframes=2):
    rng = np.random.default_rng(0)
    (root / "set.000").mkdir(parents=True)
    (root / "type.raw").write_text("0\n1\n0\n")
    (root / "type_map.raw").write_text("O\nH\n")
    arrays = {
        "coord": rng.random((nframes, natoms * 3)) * 5,
        "box": np.tile(np.eye(3).ravel() * 10, (nframes, 1)),
        "energy": rng.random(nframes),
        "force": rng.random((nframes, natoms * 3)),
    }
    for key, value in arrays.items():
        np.save(root / "set.000" / f"{key}.npy", value)


arrays = st.one_of(
    st.builds(
        lambda dtype, shape, fill: np.full(shape, fill).astype(dtype),
        st.sampled_from([np.float64, np.float32, np.int64, np.uint8, bool, complex, "U3"]),
        st.lists(st.integers(0, 7), max_size=3).map(tuple),
        st.floats(allow_nan=True, allow_infinity=True, width=32),
    ),
    st.binary(max_size=200),  # not an .npy at all
)


def read_everything(path):
    for system in expand_systems(str(path)):
        for index in range(len(system.sets)):
            system.load_set(index)
        system.type_indices(["O", "H"])


@FUZZ
@given(
    name=st.sampled_from(["coord", "box", "energy", "force", "virial", "atom_ener"]),
    content=arrays,
)
def test_any_npy_file_is_read_or_refused_by_name(tmp_path_factory, name, content):
    root = tmp_path_factory.mktemp("npy") / "system"
    write_system(root)
    target = root / "set.000" / f"{name}.npy"
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        np.save(target, content)
    try:
        read_everything(root)
    except InputError as err:
        assert "\n" not in str(err)


@FUZZ
@given(
    layout=st.dictionaries(
        st.sampled_from(["type.raw", "type_map.raw", "nopbc", "set.000", "set.000/coord.npy",
                         "set.000/box.npy", "set.000/energy.npy", "set.001"]),
        st.one_of(st.just("group"), arrays.filter(lambda a: not isinstance(a, bytes))),
        max_size=6,
    )
)  # fmt: skip
def test_any_hdf5_layout_is_read_or_refused_by_name(tmp_path_factory, layout):
    path = tmp_path_factory.mktemp("h5") / "data.h5"
    with h5py.File(path, "w") as out:
        group = out.create_group("sys")
        for name, content in sorted(layout.items()):
            try:
                if isinstance(content, str):
                    group.require_group(name)
                else:
                    group[name] = content
            except (TypeError, ValueError, OSError):  # h5py cannot store it (unicode; a clash)
                continue
    try:
        read_everything(f"{path}#sys")
    except InputError as err:
        assert "\n" not in str(err)


metadata_values = st.one_of(
    st.text(max_size=20).map(str.encode),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**31), 2**31 - 1),
    st.booleans(),
    st.lists(st.integers(-(2**31), 2**31 - 1), max_size=4).map(lambda v: np.array(v, np.int32)),
    st.lists(st.floats(allow_nan=True), max_size=4).map(lambda v: np.array(v, np.float64)),
    st.just(b'{"model": 1}'),
    st.just(b"O H C N"),
)


@pytest.fixture(scope="module")
def frozen(alcu_model):
    from deepkit.model.frozen import read_graph_def

    root, _, _ = alcu_model
    return read_graph_def(root / "model.pb")


@settings(FUZZ, max_examples=30)
@given(
    name=st.sampled_from(
        ["type_map", "rcut", "descriptor", "sel", "compressed", "version", "train_input",
         "model_type", "numb_fparam", "numb_aparam"]
    ),
    value=metadata_values,
)  # fmt: skip
def test_crafted_model_metadata_is_refused_by_name(tmp_path_factory, frozen, name, value):
    import tensorflow as tf

    from deepkit.infer import DeepPot

    graph_def = copy.deepcopy(frozen)
    node = next(n for n in graph_def.node if n.name == f"model_attr/{name}")
    proto = tf.make_tensor_proto(value)
    node.attr["value"].tensor.CopyFrom(proto)
    node.attr["dtype"].type = proto.dtype
    path = tmp_path_factory.mktemp("pb") / "crafted.pb"
    path.write_bytes(graph_def.SerializeToString())
    try:
        DeepPot(path)
    except InputError as err:
        assert "\n" not in str(err)


def test_the_fuzzed_input_paths_cover_the_sections():
    sections = {path[0] for path in INPUT_PATHS}
    assert sections == {"model", "learning_rate", "loss", "training"}
    assert json.loads(json.dumps(BASE)) == BASE
