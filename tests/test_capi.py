"""The C API (deepkit_c.h): a C test driver (tests/capi/capi_check.c) built with the system
compiler against `deepkit config` flags gives DeepPot's results, reports bad input with a
message, is safe from several threads and does not leak over load/compute/free cycles."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from models import frozen_alcu_model
from toolchain import CC

from deepkit import capi
from deepkit.compress.model import compress
from deepkit.infer import DeepPot
from deepkit.infer.external import ghost_frame

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc or gcc) on PATH")


@pytest.fixture(scope="module")
def alcu(tmp_path_factory):
    root = tmp_path_factory.mktemp("alcu")
    _, arrays, atype = frozen_alcu_model(root)
    compress(root / "model.pb", root / "model-c.pb", log=lambda *a: None)
    return root, arrays, atype


def write_case(folder: Path, coord, atype, box=None, frame=None, fparam=None, aparam=None):
    """The driver's input: meta.txt and raw arrays (see capi_check.c)."""
    folder.mkdir(parents=True, exist_ok=True)
    coord = np.asarray(coord, np.float64).reshape(-1, len(atype) * 3)
    np.asarray(atype, np.int32).tofile(folder / "atype.bin")
    coord.tofile(folder / "coord.bin")
    if box is not None:
        np.asarray(box, np.float64).tofile(folder / "box.bin")
    nloc = nnz = 0
    if frame is not None:
        nloc, nnz = frame.nloc, len(frame.neighbors)
        frame.offsets.astype(np.int32).tofile(folder / "offsets.bin")
        frame.neighbors.astype(np.int32).tofile(folder / "neighbors.bin")
    nparam = []
    for name, values in (("fparam", fparam), ("aparam", aparam)):
        if values is not None:
            np.asarray(values, np.float64).tofile(folder / f"{name}.bin")
        nparam.append(0 if values is None else np.shape(values)[-1])
    meta = f"{len(coord)} {len(atype)} {nloc} {int(box is not None)} {nnz} {nparam[0]} {nparam[1]}"
    (folder / "meta.txt").write_text(meta)
    return folder


def run_driver(
    driver, model, folder, *mode, env=None, check: bool = True
) -> subprocess.CompletedProcess:
    """capi_check.c on a model and a case folder; check: it must exit 0."""
    result = subprocess.run(
        [str(driver), str(model), str(folder), *mode],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def outputs(folder: Path) -> dict:
    names = ("energy", "force", "virial", "atom_energy", "atom_virial")
    return {k: np.fromfile(folder / f"out_{k}.bin") for k in names}


def assert_close(actual, expected):
    scale = max(np.abs(expected).max(), 1e-300)
    assert np.abs(actual - expected).max() <= 1e-10 * scale


@pytest.mark.skipif(shutil.which("nm") is None, reason="nm (binutils) is not installed")
def test_library_exports_only_the_api():
    """Exported C++ template copies would be bound by TensorFlow's code, opened later."""
    library = capi.library_dir() / "libdeepkit_c.so"
    listing = subprocess.run(
        ["nm", "-D", "--defined-only", str(library)], check=True, capture_output=True, text=True
    ).stdout
    exported = {line.split()[-1] for line in listing.splitlines()}
    assert exported and all(name.startswith("dk_") for name in exported), exported
    assert {"dk_load", "dk_compute", "dk_compute_nlist", "dk_last_error"} <= exported


@pytest.mark.parametrize("model_name", ["model.pb", "model-c.pb"])
@pytest.mark.parametrize("periodic", [True, False])
def test_compute_equals_deep_pot(driver, alcu, tmp_path, model_name, periodic):
    root, arrays, atype = alcu
    coord, box = arrays["coord"][:3], arrays["box"][:3] if periodic else None
    folder = write_case(tmp_path / "case", coord, atype, box)
    result = run_driver(driver, root / model_name, folder, "compute")
    assert f"compressed {int(model_name == 'model-c.pb')}" in result.stdout
    assert "type_map Al Cu" in result.stdout and "rcut 4.5" in result.stdout
    assert result.stderr == ""  # TensorFlow's start-up log stays hidden
    e, f, v, ae, av = DeepPot(root / model_name).eval(coord, box, atype, atomic=True)
    out = outputs(folder)
    for key, expected in zip(out, (e, f, v, ae, av), strict=True):
        assert_close(out[key], expected.ravel())


@pytest.mark.parametrize("onednn", ["1", "0"])
def test_tensorflow_start_up_log_stays_off_stderr(driver, alcu, tmp_path, onednn):
    """oneDNN's notice (on by default on Intel) bypasses TF_CPP_MIN_LOG_LEVEL: dk_load hides
    it unless the caller's own TF_CPP_MIN_LOG_LEVEL asks for TensorFlow's info lines."""
    root, arrays, atype = alcu
    folder = write_case(tmp_path / "case", arrays["coord"][:1], atype, arrays["box"][:1])
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["TF_ENABLE_ONEDNN_OPTS"] = onednn
    assert run_driver(driver, root / "model.pb", folder, "compute", env=env).stderr == ""
    loud = run_driver(
        driver, root / "model.pb", folder, "compute", env=env | {"TF_CPP_MIN_LOG_LEVEL": "0"}
    )
    assert ("oneDNN custom operations are on" in loud.stderr) == (onednn == "1")


def test_ghost_atoms_and_external_list_give_the_periodic_result(driver, alcu, tmp_path, rng):
    root, arrays, atype = alcu
    coord, box = arrays["coord"][0].reshape(-1, 3), arrays["box"][0].reshape(3, 3)
    frame = ghost_frame(coord, atype, box, 4.5 + 1.0, rng=rng)
    folder = write_case(tmp_path / "case", frame.coord, frame.atype, frame=frame)
    run_driver(driver, root / "model.pb", folder, "compute")
    out = outputs(folder)
    nall = len(frame.coord)
    e, f, v, ae, av = DeepPot(root / "model.pb").eval(coord[None], box[None], atype, atomic=True)
    assert_close(out["energy"], e.ravel())
    assert_close(frame.reduce(out["force"].reshape(nall, 3)), f[0])
    assert_close(out["virial"], v.ravel())
    assert_close(out["atom_energy"][: frame.nloc], ae.ravel())
    assert_close(frame.reduce(out["atom_virial"].reshape(nall, 9)), av[0])


def test_bad_input_returns_errors_with_messages(driver, alcu, tmp_path):
    root, arrays, atype = alcu
    folder = write_case(tmp_path / "case", arrays["coord"][:1], atype, arrays["box"][:1])
    result = run_driver(driver, root / "model.pb", folder, "errors")
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines()[1:])
    assert lines["natoms 0"] == "1 dk_compute: nframes = 1 and natoms = 0 must be positive"
    assert lines["bad type"] == "1 atype[0] = 2, expected 0..1 (type map: Al Cu)"
    assert lines["nan coord"] == "1 dk_compute: coord holds NaN or inf"
    # What the ops refuse is bad input too: DK_ERR_ARGUMENT, not DK_ERR_RUNTIME.
    assert lines["singular box"].startswith("1 DkNeighborList: frame 0: box is singular")
    assert lines["tiny box"].startswith("1 DkNeighborList: frame 0: box too small for rcut = 4.5 A")
    assert "neighbour 5 of local atom 0 is outside [0, nall = 2)" in lines["neighbour out of range"]
    assert lines["nloc > nall"].startswith("1 dk_compute_nlist: need 0 < nloc <= nall")
    assert lines["bad path"].endswith(
        "/nonexistent/model.pb: cannot open (No such file or directory)"
    )
    assert "not a frozen TensorFlow graph" in lines["not a model"]
    assert lines["directory"].endswith("is a directory; give the frozen model file (.pb) itself")
    assert lines["device"].endswith(
        "/dev/null: is not a regular file; give a frozen model file (.pb)"
    )


def test_one_handle_from_several_threads(driver, alcu, tmp_path):
    root, arrays, atype = alcu
    folder = write_case(tmp_path / "case", arrays["coord"][:2], atype, arrays["box"][:2])
    assert "threads agree: yes" in run_driver(driver, root / "model-c.pb", folder, "threads").stdout


def test_load_compute_free_does_not_grow_memory(driver, alcu, tmp_path):
    root, arrays, atype = alcu
    folder = write_case(tmp_path / "case", arrays["coord"][:1], atype, arrays["box"][:1])
    result = run_driver(driver, root / "model.pb", folder, "repeat", "100")
    rss = dict(line.split() for line in result.stdout.splitlines())
    # A leaked graph or session would cost megabytes per cycle; 90 cycles stay within 4 MiB.
    assert int(rss["rss_kib_end"]) - int(rss["rss_kib_early"]) < 4096


def leak_summary(driver, model, folder, cycles: int) -> dict:
    """valgrind's LEAK SUMMARY (bytes per kind) for `cycles` load/compute/free cycles.
    TensorFlow's own uninitialised-value reports are not deepkit's and are not counted."""
    result = subprocess.run(
        ["valgrind", "--leak-check=full", str(driver), str(model), str(folder), "repeat",
         str(cycles)],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    found = re.findall(r"(definitely|indirectly|possibly) lost: ([\d,]+) bytes", result.stderr)
    return {kind: int(n.replace(",", "")) for kind, n in found}


@pytest.mark.slow  # about 3 min: TensorFlow under valgrind
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_valgrind_finds_no_leak(driver, alcu, tmp_path):
    root, arrays, atype = alcu
    folder = write_case(tmp_path / "case", arrays["coord"][:1], atype, arrays["box"][:1])
    one, many = (leak_summary(driver, root / "model.pb", folder, n) for n in (1, 10))
    assert one["definitely"] == many["definitely"] == 0
    assert one["indirectly"] == many["indirectly"] == 0
    # TensorFlow's registries hold interior pointers ("possibly lost") made once per process;
    # their size moves by a few KiB run to run. A graph or session left behind per cycle
    # would add hundreds of KiB each.
    assert many["possibly"] < one["possibly"] + 9 * 1024


def test_md_example_builds_and_conserves_energy(alcu, tmp_path):
    """examples/c_api: its Makefile builds md.c with `deepkit config` flags; NVE from the
    example's al.xyz starts at DeepPot's energy and conserves the total energy."""
    import sys

    import ase.io

    root, _, _ = alcu
    example = HERE.parent / "examples" / "c_api"
    deepkit = Path(sys.executable).parent / "deepkit"
    subprocess.run(
        ["make", "-s", "-C", str(example), f"OUT={tmp_path / 'md'}", f"DEEPKIT={deepkit}"],
        check=True,
    )
    result = subprocess.run(
        [str(tmp_path / "md"), str(root / "model.pb"), str(example / "al.xyz"), "40", "1.0"],
        check=True,
        capture_output=True,
        text=True,
    )
    rows = np.array([line.split() for line in result.stdout.splitlines() if line[0] != "#"], float)
    assert rows[-1, 0] == 40 and result.stderr == ""
    atoms = ase.io.read(example / "al.xyz")
    dp = DeepPot(root / "model.pb")
    e, _, _ = dp.eval(atoms.positions[None], atoms.cell.array[None], np.zeros(len(atoms), int))
    assert abs(rows[0, 2] - e[0, 0]) < 1e-9
    kinetic = rows[0, 3]
    assert np.abs(rows[:, 4] - rows[0, 4]).max() < 0.01 * kinetic
    # The atoms did move: a barely trained model is flat, but its energy still changes by far
    # more than the 1e-12 it would if they stood still.
    assert np.ptp(rows[:, 2]) > 1e-3


def frozen_param_model(path: Path):
    """An untrained model with 2 frame and 1 atomic parameter, frozen like deepkit freeze."""
    import tensorflow as tf
    from models import small_config

    from deepkit.model.base import make_model
    from deepkit.model.frozen import add_metadata, write_frozen

    config = small_config({}, {"numb_fparam": 2, "numb_aparam": 1})
    model = make_model(config["model"])
    model.fitting.bias = np.array([-2.0, -1.0])
    graph = tf.Graph()
    with graph.as_default():
        model.build_inference()
        add_metadata(model, config)
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        write_frozen(sess, path, model.frozen_nodes)


def run_frozen(path: Path, feed: dict, fetch: list):
    import tensorflow as tf

    from deepkit.model.frozen import read_graph_def

    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(read_graph_def(path), name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        return sess.run([f"{n}:0" for n in fetch], {f"{k}:0": v for k, v in feed.items()})


def test_frame_and_atomic_parameters(driver, tmp_path, rng):
    model = tmp_path / "param.pb"
    frozen_param_model(model)
    box = np.eye(3) * 7.0
    coord = rng.uniform(0, 7, (2, 12, 3))
    atype = np.arange(12) % 2
    fparam, aparam = rng.normal(size=(2, 2)), rng.normal(size=(2, 12, 1))
    folder = write_case(tmp_path / "case", coord, atype, np.stack([box, box]), None, fparam, aparam)
    run_driver(driver, model, folder, "compute")
    out = outputs(folder)
    names = ["o_energy", "o_force", "o_virial", "o_atom_energy", "o_atom_virial"]
    feed = {"t_coord": coord.reshape(2, -1), "t_type": np.stack([atype, atype]),
            "t_box": np.stack([box, box]).reshape(2, 9), "t_fparam": fparam,
            "t_aparam": aparam.reshape(2, -1)}  # fmt: skip
    for key, expected in zip(out, run_frozen(model, feed, names), strict=True):
        assert_close(out[key], expected.ravel())

    frame = ghost_frame(coord[0], atype, box, 5.0, rng=rng)
    folder = write_case(tmp_path / "ghosts", frame.coord, frame.atype, None, frame,
                        fparam[:1], aparam[:1])  # fmt: skip
    run_driver(driver, model, folder, "compute")
    out = outputs(folder)
    assert_close(out["energy"], run_frozen(model, {k: v[:1] for k, v in feed.items()}, names)[0])

    no_params = write_case(tmp_path / "none", coord[:1], atype, box[None])
    result = subprocess.run([str(driver), str(model), str(no_params), "compute"],
                            check=False, capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 1
    assert "takes 2 frame parameters per frame: fparam must not be NULL" in result.stderr


def test_config_command_prints_the_flags(capsys):
    from deepkit.cli import main

    assert main(["config", "--cflags", "--libs"]) == 0
    flags = capsys.readouterr().out.split()
    include = Path(flags[0].removeprefix("-I"))
    assert (include / "deepkit_c.h").is_file()
    assert f"-Wl,-rpath,{capi.library_dir()}" in flags and "-ldeepkit_c" in flags


def test_node_names_of_the_c_code_are_those_of_names_py():
    """The C API spells node names itself: every one must be a name names.py declares."""
    from deepkit.model import names

    declared = {v for k, v in vars(names).items() if k.isupper() and isinstance(v, str)}
    source = (HERE.parent / "op_src" / "capi" / "deepkit_c.cc").read_text()
    used = set(re.findall(r'"((?:t_|o_|model_attr/)\w+)"', source))
    for prefix, call in (("t_", "in"), ("o_", "out")):  # find_entry's t_<infix><name>
        for name in re.findall(rf'\b{call}\("(\w+)"\)', source):
            assert {prefix + name, f"{prefix}ext_{name}"} & declared, name
    assert len(used) > 5 and used <= declared, used - declared


# Faults (issue 22): hostile model files, boxes too small for rcut, allocation failures. The
# C API answers each with an error code and a message, never an abort.


def craft(source: Path, target: Path, name: str, value) -> Path:
    """`source` with the constant `name` replaced by `value` (its dtype and shape too; a
    Python float would become float32)."""
    import tensorflow as tf

    from deepkit.model.frozen import read_graph_def

    graph_def = read_graph_def(source)
    proto = tf.make_tensor_proto(value)
    (node,) = [n for n in graph_def.node if n.name == name]
    node.attr["dtype"].type = proto.dtype
    node.attr["value"].tensor.CopyFrom(proto)
    target.write_bytes(graph_def.SerializeToString())
    return target


CRAFTED = {  # constant, value, what dk_load says
    "rcut_string": ("model_attr/rcut", b"4.5", "rcut: expected type float64 and rank 0, got string"),
    "rcut_vector": ("model_attr/rcut", np.array([4.5, 4.5]), "rcut: expected type float64 and rank 0, got float64 and rank 1"),
    "rcut_nan": ("model_attr/rcut", np.float64(np.nan), "rcut must be a finite positive number"),
    "rcut_negative": ("model_attr/rcut", np.float64(-4.5), "rcut must be a finite positive number"),
    "type_map_vector": ("model_attr/type_map", [b"Al", b"Cu"], "type_map: expected type string and rank 0, got string and rank 1"),
    "type_map_empty": ("model_attr/type_map", b" ", "type_map must name 1 to 1024 types, got 0"),
    "compressed_int": ("model_attr/compressed", np.int32(1), "compressed: expected type bool and rank 0, got int32"),
    "version_float": ("model_attr/version", np.float64(0.3), "version: expected type string and rank 0, got float64"),
    "fparam_huge": ("model_attr/numb_fparam", np.int32(2**31 - 1), "numb_fparam must lie in [0, 65536], got 2147483647"),
    "fparam_negative": ("model_attr/numb_fparam", np.int32(-1), "numb_fparam must lie in [0, 65536]"),
    "aparam_float": ("model_attr/numb_aparam", np.float64(1.0), "numb_aparam: expected type int32 and rank 0, got float64"),
    "model_type_int": ("model_attr/model_type", np.int32(0), "model_type: expected type string and rank 0"),
    "sel_float": ("model_attr/sel", np.array([24.0, 24.0]), "sel: expected type int32 and rank 1, got float64"),
    "sel_scalar": ("model_attr/sel", np.int32(24), "sel: expected type int32 and rank 1, got int32 and rank 0"),
    "sel_negative": ("model_attr/sel", np.array([-1, 24], np.int32), "sel has a negative entry"),
    "sel_empty": ("model_attr/sel", np.array([], np.int32), "sel is empty: it needs at least one count"),
    "sel_huge": ("model_attr/sel", np.array([2**30, 2**30], np.int32), "sel asks for 2147483648 neighbours"),
}  # fmt: skip


def test_load_refuses_crafted_metadata_directories_and_devices(driver, alcu, tmp_path):
    """Every metadata constant dk_load reads is checked for type, shape and range first."""
    root, _, _ = alcu
    models = [craft(root / "model.pb", tmp_path / f"{k}.pb", *v[:2]) for k, v in CRAFTED.items()]
    result = subprocess.run(
        [str(driver), "load", *map(str, models), str(tmp_path), "/dev/null", str(root / "model.pb")],
        check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    said = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    for key, (_, _, message) in CRAFTED.items():
        assert message in said[str(tmp_path / f"{key}.pb")], key
    assert said[str(tmp_path)].endswith(": is a directory; give the frozen model file (.pb) itself")
    assert said["/dev/null"] == "/dev/null: is not a regular file; give a frozen model file (.pb)"
    assert said[str(root / "model.pb")] == "loaded"


def one_atom_in_a_box(folder: Path, height: float) -> Path:
    return write_case(folder, np.zeros((1, 3)), np.zeros(1, np.int32), np.eye(3)[None] * height)


def test_tiny_box_is_refused_with_its_heights_and_rcut(alcu, tmp_path):
    """A 0.05 A box would need 1.4e7 periodic images per atom at rcut 4.5: one message."""
    root, arrays, atype = alcu
    coord = arrays["coord"][:1]
    with pytest.raises(ValueError, match="box too small for rcut = 4.5 A") as info:
        DeepPot(root / "model.pb").eval(coord, np.eye(3).ravel()[None] * 0.05, atype)
    message = str(info.value)
    assert "\n" not in message and "0.05, 0.05, 0.05 A" in message
    assert f"periodic images of its {len(atype)} atoms" in message


def test_capped_address_space_gives_an_error_not_an_abort(driver, alcu, tmp_path):
    """An allocation that fails inside an op (RLIMIT_AS) gives DK_ERR_RUNTIME and a message.

    One atom in a 0.095 A box needs 0.88e6 periodic images (within the 2^20 allowed): about
    100 MB of search arrays, more than the 8 MiB left above the warmed-up process."""
    root, arrays, atype = alcu
    warm = write_case(tmp_path / "warm", arrays["coord"][:1], atype, arrays["box"][:1])
    big = one_atom_in_a_box(tmp_path / "big", 0.095)
    env = os.environ | {"OMP_NUM_THREADS": "1"}  # no thread is started under the cap
    result = subprocess.run(
        [str(driver), str(root / "model.pb"), str(warm), "capped", "8", str(big)],
        check=False, capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("capped: ")]
    assert line.startswith("capped: 3 ") and "out of memory" in line, line


CAPPED_PYTHON = """
import resource, sys
import numpy as np
from deepkit.infer import DeepPot
model, height, coord, box, atype = sys.argv[1], float(sys.argv[2]), *map(np.load, sys.argv[3:6])
dp = DeepPot(model, 1, 1)
dp.eval(coord, box, atype)
size = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (size + (8 << 20),) * 2)
try:
    dp.eval(np.zeros((1, 3)), np.eye(3).ravel()[None] * height, np.zeros(1, int))
except Exception as err:
    from deepkit.ops import error_text
    print(type(err).__name__, error_text(err) if hasattr(err, "op") else err)
"""


def test_capped_address_space_in_python_raises(alcu, tmp_path):
    """The same failed allocation under DeepPot: a Python exception, not exit 134."""
    import sys

    root, arrays, atype = alcu
    paths = []
    for name, value in (
        ("coord", arrays["coord"][:1]),
        ("box", arrays["box"][:1]),
        ("atype", atype),
    ):
        paths.append(tmp_path / f"{name}.npy")
        np.save(paths[-1], value)
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", CAPPED_PYTHON, str(root / "model.pb"), "0.095", *map(str, paths)],
        check=False, capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "DkNeighborList: frame 0: out of memory" in result.stdout, result.stdout + result.stderr


def test_every_op_kernel_is_registered_guarded():
    """No C++ exception may leave an op's Compute: each kernel is deepkit::Guarded<...>."""
    sources = sorted((HERE.parent / "op_src" / "tf").glob("*.cc"))
    registered = []
    for source in sources:
        text = source.read_text()
        registered += re.findall(r"REGISTER_KERNEL_BUILDER\((.*?)\);", text, flags=re.DOTALL)
    assert len(registered) >= 12
    for call in registered:
        assert re.search(r"deepkit::Guarded<\w+(<[\w:]+>)?>$", " ".join(call.split())), call


def test_crafted_table_info_is_refused_by_the_op(driver, alcu, tmp_path):
    """A compressed model whose table info claims more intervals than the table holds would
    send the tabulation kernels past its end: the op refuses it, dk_compute says why."""
    import tensorflow as tf

    from deepkit.model.frozen import read_graph_def

    root, arrays, atype = alcu
    nodes = read_graph_def(root / "model-c.pb").node
    node = next(n for n in nodes if n.name.startswith("compress/") and n.name.endswith("/info"))
    info = tf.make_ndarray(node.attr["value"].tensor).copy()
    info[[1, 2, 5]] += [1000 * info[3], 1000 * info[3], 1000]  # consistent, but no such rows
    model = craft(root / "model-c.pb", tmp_path / "info.pb", node.name, info)
    folder = write_case(tmp_path / "case", arrays["coord"][:1], atype, arrays["box"][:1])
    result = run_driver(driver, model, folder, "compute", check=False)
    assert result.returncode == 1 and "info's interval counts" in result.stderr, result.stderr


def test_python_readers_refuse_crafted_metadata(alcu, tmp_path):
    """DeepPot (deepkit show, test, the ASE calculator) and read_constants (compress,
    --init-frz-model) check the same constants: one InputError naming the constant."""
    from deepkit.errors import InputError
    from deepkit.model.frozen import read_constants

    root, _, _ = alcu
    for key, (name, value, _) in CRAFTED.items():
        model = craft(root / "model.pb", tmp_path / f"{key}.pb", name, value)
        with pytest.raises(InputError, match=re.escape(f"{model}: {name}")):
            read_constants(model)
        if "param" not in key:  # DeepPot does not read the parameter counts
            with pytest.raises(InputError, match=re.escape(f"{model}: {name}")):
                DeepPot(model)


def test_crafted_sel_attr_is_refused_by_the_op(driver, alcu, tmp_path):
    """A negative sel attr on the neighbour-list op would reach TensorShape (which aborts on
    negative sizes): the kernel refuses it when TensorFlow builds it."""
    from deepkit.model.frozen import read_graph_def

    root, arrays, atype = alcu
    graph_def = read_graph_def(root / "model.pb")
    node = next(n for n in graph_def.node if n.op == "DkNeighborList")
    node.attr["sel"].list.i[:] = [-5, 24]
    model = tmp_path / "sel.pb"
    model.write_bytes(graph_def.SerializeToString())
    folder = write_case(tmp_path / "case", arrays["coord"][:1], atype, arrays["box"][:1])
    result = run_driver(driver, model, folder, "compute", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "DkNeighborList: sel entries must lie in [0, 1048576], got -5" in result.stderr
