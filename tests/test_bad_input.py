"""Bad input, as a careless user or a hostile file gives it: one line naming the key, file or
frame (exit status 2 from the command line, ValueError / InputError from Python), never a
traceback, an out-of-memory or a model that evaluates to NaN."""

import copy
import json
import shutil
import warnings

import ase
import h5py
import numpy as np
import pytest
from models import alcu_config

from deepkit.cli import main
from deepkit.errors import InputError


def system(data):
    """The system folder under data (convert writes one per composition)."""
    return next(data.rglob("type.raw")).parent


def replace_by_folder(path):
    path.unlink()
    path.mkdir()


def first_set(data):
    return min(system(data).glob("set.*"))


def scale(data, key, factor):
    path = first_set(data) / f"{key}.npy"
    np.save(path, np.load(path) * factor)


def overlap_first_two(data):
    path = first_set(data) / "coord.npy"
    coord = np.load(path)
    coord[:, 3:6] = coord[:, 0:3]
    np.save(path, coord)


def as_dtype(key, dtype):
    def change(data):
        path = first_set(data) / f"{key}.npy"
        np.save(path, np.load(path).astype(dtype))

    return change


def mixed(change=None):
    """The system in DeePMD-kit's mixed-type layout (real_atom_types.npy in every set, from
    type.raw), then `change` applied to the first set's types (an array -> an array)."""

    def apply(data):
        root = system(data)
        atype = np.loadtxt(root / "type.raw", dtype=int)
        for set_dir in sorted(root.glob("set.*")):
            nframes = len(np.load(set_dir / "coord.npy"))
            np.save(set_dir / "real_atom_types.npy", np.tile(atype, (nframes, 1)))
        path = first_set(data) / "real_atom_types.npy"
        if change is not None:
            np.save(path, change(np.load(path)))

    return apply


def put(frame, atom, value):
    def change(types):
        types[frame, atom] = value
        return types

    return change


def nickel_in_the_data(data):
    mixed(put(0, 3, 2))(data)
    (system(data) / "type_map.raw").write_text("Al\nCu\nNi\n")


def a_set_without_types(data):
    mixed()(data)
    copy = first_set(data).with_name("set.001")
    shutil.copytree(first_set(data), copy)
    (copy / "real_atom_types.npy").unlink()


def setting(*path_and_value):
    *path, value = path_and_value

    def change(config):
        node = config
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


CASES = [  # (name, input change, data change, what the line says)
    ("sel all zero", setting("model", "descriptor", "sel", [0, 0]), None,
     "model.descriptor.sel: leaves no neighbour slot"),
    ("huge sel", setting("model", "descriptor", "sel", [10**9, 10**9]), None,
     "model.descriptor.sel: more than 65,536 slots"),
    ("infinite rcut", setting("model", "descriptor", "rcut", float("inf")), None,
     "model.descriptor.rcut: must be a finite number"),
    ("NaN start_lr", setting("learning_rate", "start_lr", float("nan")), None,
     "learning_rate.start_lr: must be a finite number"),
    ("negative seed", setting("training", "seed", -5), None,
     "training.seed: must be in 0 .. 2**32 - 1"),
    ("huge layer", setting("model", "fitting_net", "neuron", [10**9]), None,
     "model.fitting_net.neuron: every width must be in 1 .. 16,384"),
    ("batch beyond the data", setting("training", "training_data", "batch_size", 10**9), None,
     "batch_size: 1000000000 for "),
    ("empty npy", None, lambda d: (first_set(d) / "energy.npy").write_bytes(b""),
     "energy.npy: not a readable .npy array"),
    ("type.raw a folder", None, lambda d: replace_by_folder(system(d) / "type.raw"),
     "type.raw: not a file"),
    ("complex coordinates", None, as_dtype("coord", complex), "coord.npy: complex128 values"),
    ("bool forces", None, as_dtype("force", bool), "force.npy: bool values"),
    ("float types", None, lambda d: (system(d) / "type.raw").write_text("0.5\n" * 32),
     "type.raw: expected integer type indices"),
    ("NaN energy", None, lambda d: scale(d, "energy", np.nan), "energy.npy: non-finite value"),
    ("overlapping atoms", None, overlap_first_two,
     "frame 0: atoms 1 and 0 (or its periodic image) are at the same position"),
    ("mixed types of another shape", None, mixed(lambda t: t[:, 1:]),
     "real_atom_types.npy: shape (12, 31), expected (nframes, natoms) = (12, 32)"),
    ("non-integer mixed types", None, mixed(lambda t: t + 0.5),
     "real_atom_types.npy: float64 values, expected integer type indices"),
    ("mixed type outside type_map", None, mixed(put(1, 3, 5)),
     "real_atom_types.npy: type index 5 at frame 1, atom 3, expected 0..1, type_map.raw"),
    ("virtual atom", None, mixed(put(2, 4, -1)),
     "real_atom_types.npy: type -1 (a virtual padding atom) at frame 2, atom 4: deepkit"),
    ("mixed element not in the model", None, nickel_in_the_data,
     "element(s) ['Ni'] of type_map.raw ['Al', 'Cu', 'Ni'] are not in the model's type_map"),
    ("mixed types in some sets only", None, a_set_without_types,
     "set.001: no real_atom_types.npy, but other sets of this system have one"),
]  # fmt: skip


@pytest.mark.parametrize(
    "name, change_input, change_data, message", CASES, ids=[c[0] for c in CASES]
)
def test_train_refuses_with_one_line(
    emt_data, tmp_path, capsys, name, change_input, change_data, message
):
    config = alcu_config(emt_data, numb_steps=1, save_freq=1)
    config["model"]["descriptor"]["sel"] = [24, 24]
    if change_data is not None:
        shutil.copytree(emt_data, tmp_path / "data")
        change_data(tmp_path / "data")
        for section in ("training_data", "validation_data"):
            config["training"][section]["systems"] = [str(tmp_path / "data")]
    if change_input is not None:
        config = copy.deepcopy(config)
        change_input(config)
    (tmp_path / "input.json").write_text(json.dumps(config))
    code = main(["train", str(tmp_path / "input.json"), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("deepkit: error: ") and message in err[-1], err[-3:]


@pytest.mark.parametrize("command", ["test", "model-devi"])
def test_test_and_model_devi_refuse_virtual_atoms(alcu_model, tmp_path, capsys, command):
    root, _, _ = alcu_model
    shutil.copytree(root / "data", tmp_path / "data")
    mixed(put(0, 1, -1))(tmp_path / "data")
    model = str(root / "model.pb")
    flags = ["-m", model] if command == "test" else ["-m", model, model, "-o", str(tmp_path / "o")]
    code = main([command, *flags, "-s", str(tmp_path / "data")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "type -1 (a virtual padding atom)" in err[0], err


def test_hdf5_group_where_a_dataset_belongs(emt_data, tmp_path):
    from deepkit.data import expand_systems

    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as out:
        out["sys/type.raw"] = np.loadtxt(system(emt_data) / "type.raw", dtype=int)
        for source in sorted(system(emt_data).glob("set.*")):
            out[f"sys/{source.name}/coord.npy"] = np.load(source / "coord.npy")
            out.create_group(f"sys/{source.name}/box.npy")
    (h5_system,) = expand_systems(f"{path}#sys")
    with pytest.raises(InputError, match=r"box.npy is a Group, not a dataset"):
        h5_system.load_set(0)


def test_deep_pot_names_the_frame_of_bad_coordinates_and_boxes(alcu_model):
    from deepkit.infer import DeepPot

    root, arrays, atype = alcu_model
    dp = DeepPot(root / "model.pb")
    coord, box = arrays["coord"][:3].copy(), arrays["box"][:3].copy()
    overlapping = coord.copy()
    overlapping[2, 3:6] = overlapping[2, 0:3]
    with pytest.raises(ValueError, match=r"^frame 2: atoms 1 and 0 .* same position"):
        dp.eval(overlapping, box, atype)
    flat = box.copy()
    flat[1, 6:9] = 0.0
    with pytest.raises(ValueError, match=r"^frame 1: box is singular"):
        dp.eval(coord, flat, atype)
    with pytest.raises(ValueError, match=r"coord must hold real numbers, got complex128"):
        dp.eval(coord.astype(complex), box, atype)
    with pytest.raises(ValueError, match=r"atype must hold integer type indices, got float64"):
        dp.eval(coord, box, atype + 0.5)


def test_ase_refuses_pbc_without_a_cell(alcu_model):
    from deepkit.calculator import DeepKit

    root, arrays, atype = alcu_model
    symbols = np.array(["Al", "Cu"])[atype]
    atoms = ase.Atoms(symbols, positions=arrays["coord"][0].reshape(-1, 3), pbc=True)
    atoms.calc = DeepKit(str(root / "model.pb"))
    with pytest.raises(ValueError, match=r"pbc=True but the cell has 0 non-zero vector"):
        atoms.get_potential_energy()


def test_a_model_with_nan_weights_is_refused(alcu_model, tmp_path, capsys):
    """A crafted model (or one frozen from NaN weights by an older deepkit): DeepPot,
    test and compress refuse it, naming the constant."""
    import tensorflow as tf

    from deepkit.infer import DeepPot
    from deepkit.model.frozen import read_graph_def

    root, _, _ = alcu_model
    graph_def = read_graph_def(root / "model.pb")
    node = next(n for n in graph_def.node if n.op == "Const" and "matrix" in n.name)
    weights = tf.make_ndarray(node.attr["value"].tensor).copy()
    weights.flat[0] = np.nan
    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights))
    bad = tmp_path / "nan.pb"
    bad.write_bytes(graph_def.SerializeToString())
    with pytest.raises(InputError, match=f"{node.name} holds NaN or inf"):
        DeepPot(bad)
    for command in (["compress", "-i", str(bad), "-o", str(tmp_path / "c.pb")],
                    ["test", "-m", str(bad), "-s", str(root / "data")]):  # fmt: skip
        assert main(command) == 2
        assert f"{node.name} holds NaN or inf" in capsys.readouterr().err


def test_freeze_refuses_a_checkpoint_with_nan_weights(alcu_model, tmp_path, capsys):
    import tensorflow as tf

    root, _, _ = alcu_model
    prefix = tf.train.latest_checkpoint(str(root / "run"))
    reader = tf.train.load_checkpoint(prefix)
    graph = tf.Graph()
    with graph.as_default():
        variables = []
        names = sorted(reader.get_variable_to_dtype_map().items())
        spoilt = next(name for name, _ in names if "matrix" in name)
        for name, dtype in names:
            value = reader.get_tensor(name)
            if name == spoilt:
                value = np.full_like(value, np.nan)
            variables.append(tf.compat.v1.Variable(value, name=name, dtype=dtype))
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saved = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=1)
    assert main(["freeze", "-c", saved, "-o", str(tmp_path / "nan.pb")]) == 2
    assert "holds NaN or inf: the weights diverged" in capsys.readouterr().err
    assert not (tmp_path / "nan.pb").exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--step", "inf"], "--step must be positive and finite"),
        (["--step", "1e-7"], "intervals (at most 2,000,000): raise --step"),
        (["--min-nbor-dist", "1e-9"], "intervals (at most 2,000,000)"),
        (["--extrapolate", "nan"], "--extrapolate must be larger than 1 and finite"),
    ],
)
def test_compress_refuses_absurd_tables_up_front(alcu_model, tmp_path, capsys, flags, message):
    root, _, _ = alcu_model
    code = main(["compress", "-i", str(root / "model.pb"), "-o", str(tmp_path / "c.pb"), *flags])
    assert code == 2 and message in capsys.readouterr().err


def test_deep_pot_warns_when_sel_is_too_small(alcu_model):
    """More neighbours within rcut than sel: a warning naming the frame, as training warns."""
    from deepkit.descriptor import NeighborOverflowWarning
    from deepkit.infer import DeepPot

    root, arrays, atype = alcu_model
    dp = DeepPot(root / "model.pb")
    coord, box = arrays["coord"][:2].copy(), arrays["box"][:2].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dp.eval(coord, box, atype)  # sel [24, 24] is enough for these frames
    squeezed, squeezed_box = coord.copy(), box.copy()
    squeezed[1] *= 0.6  # frame 1 at 4.6 times the density
    squeezed_box[1] *= 0.6
    with pytest.warns(
        NeighborOverflowWarning, match=r"^frame 1: up to .* more than sel \[24, 24\]"
    ):
        dp.eval(squeezed, squeezed_box, atype)
