"""se_atten / se_atten_v2 (DPA-1) and the type embedding: the graph against a slot-by-slot
numpy reference in every mode, smoothness across rcut, DeePMD-kit's inputs, and the
models downstream (freeze, DeepPot, C API, LAMMPS) with no code of their own."""

import copy
import functools
import json
from pathlib import Path

import numpy as np
import pytest
import reference
from models import BASE
from systems import random_box

from deepkit.config import normalize
from deepkit.descriptor.base import make_descriptor
from deepkit.model.base import make_model
from deepkit.tfenv import tf

v1 = tf.compat.v1

NTYPES = 3
ATTEN = {
    "type": "se_atten",
    "sel": 24,
    "rcut": 4.0,
    "rcut_smth": 1.5,
    "neuron": [4, 8],
    "axis_neuron": 2,
    "attn": 6,
    "attn_layer": 2,
    "seed": 3,
}
MODES = {
    "concat-two-side": {},
    "concat-one-side": {"type_one_side": True, "attn_dotr": False},
    "strip": {"tebd_input_mode": "strip", "attn_mask": True},
    "strip-smooth": {"stripped_type_embedding": True, "smooth_type_embedding": True},
    "no-attention-resnet": {"attn_layer": 0, "resnet_dt": True, "neuron": [4, 8, 16]},
    "exclude": {"exclude_types": [[0, 1], [2, 2]], "smooth_type_embedding": True},
    "v2": {"type": "se_atten_v2", "set_davg_zero": False},
    "v2-tebd": {"type": "se_atten_v2", "tebd": True},
    "strip-econf": {"tebd_input_mode": "strip", "use_econf_tebd": True},
}


def descriptor_keys(mode: str):
    """(normalised descriptor keys, normalised model.type_embedding or None)."""
    keys = {**ATTEN, **MODES[mode]}
    tebd = keys.pop("tebd", False)
    raw = copy.deepcopy(BASE)
    raw["model"]["descriptor"] = keys
    raw["model"]["type_map"] = ["O", "H", "C"]
    if tebd:
        raw["model"]["type_embedding"] = {"neuron": [4, 6], "use_tebd_bias": True, "seed": 9}
    config = normalize(raw)
    return config["model"]["descriptor"], config["model"]["type_embedding"]


# The electronic-configuration inputs of O, H, C (1s2 2s2 2p4, 1s1, 1s2 2s2 2p2): per
# orbital 0/1/2 electrons as (-1 -1)/(-1 1)/(1 1), 118 entries scaled by 1/sqrt(118).
ECONF_OHC = np.full((3, 118), -1.0)
ECONF_OHC[0, :6] = 1
ECONF_OHC[0, [7, 9]] = 1  # 2p: one pair, two single electrons
ECONF_OHC[1, 1] = 1
ECONF_OHC[2, :4] = 1
ECONF_OHC[2, [5, 7]] = 1
ECONF_OHC /= np.sqrt(118)


def random_frame(rng, natoms=14):
    box = random_box(rng, 6.0)
    coord = rng.uniform(0, 1, (natoms, 3)) @ box
    return coord, rng.integers(0, NTYPES, natoms), box


@pytest.mark.parametrize("mode", list(MODES))
def test_graph_equals_numpy_reference(mode, rng):
    params, tebd = descriptor_keys(mode)
    desc = make_descriptor(params, NTYPES, tebd, ["O", "H", "C"])
    radial = rng.normal(0, 0.1, (NTYPES, 1, 1)) * (np.arange(4) == 0)
    desc.avg = np.broadcast_to(radial if not desc.set_davg_zero else 0 * radial, desc.avg.shape)
    desc.std = np.broadcast_to(rng.uniform(0.5, 1.5, (NTYPES, 1, 1)), desc.std.shape)
    coord, atype, box = random_frame(rng)
    graph = tf.Graph()
    with graph.as_default():
        out = desc.build(
            tf.constant(coord[None]),
            tf.constant(atype[None], tf.int32),
            tf.constant(box.reshape(1, 9)),
        )
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            # Random layer-norm scales and biases, so that their use is checked too.
            for var in v1.global_variables():
                if "layer_normalization" in var.op.name:
                    var.load(rng.normal(1.0, 0.3, var.shape), sess)
            d, em, nlist = sess.run([out.d, out.envs[0].em, out.envs[0].nlist])
            variables = {var.op.name: sess.run(var) for var in v1.global_variables()}
    ref_nlist, _, _ = reference.neighbors(coord, np.zeros_like(atype), box, 4.0, [24])
    np.testing.assert_array_equal(nlist[0], ref_nlist)  # nearest of any type first
    keys = {
        **params,
        "ntypes": NTYPES,
        "strip": desc.strip,
        "smooth": desc.smooth,
        "ln_eps": desc.ln_eps,
        "tebd_activation": np.tanh if tebd else (lambda x: x),
        "tebd_inputs": ECONF_OHC if params["use_econf_tebd"] else np.eye(NTYPES),
    }
    expected = reference.se_atten(
        em[0].reshape(len(coord), 24, 4), nlist[0], atype, desc.avg, desc.std, variables, keys
    )
    assert d.shape == (len(coord), desc.dim_out)
    np.testing.assert_allclose(d, expected, rtol=1e-11, atol=1e-12)


class EnergyModel:
    """An untrained energy model (statistics set by hand) as a function of coordinates."""

    def __init__(self, mode: str, rng):
        params, tebd = descriptor_keys(mode)
        raw = copy.deepcopy(BASE)
        raw["model"].update(descriptor=params, type_embedding=tebd, type_map=["O", "H", "C"])
        self.model = make_model(normalize(raw)["model"])
        desc = self.model.descriptor
        desc.std = np.broadcast_to(rng.uniform(0.5, 1.5, (NTYPES, 1, 1)), desc.std.shape)
        if not desc.set_davg_zero:  # empty slots then have a non-zero row: entering is tested
            radial = rng.uniform(0.05, 0.2, (NTYPES, 1, 1)) * (np.arange(4) == 0)
            desc.avg = np.broadcast_to(radial, desc.avg.shape)
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.ph = self.model.placeholders()
            self.out = self.model.build(**self.ph)
            init = v1.global_variables_initializer()
        self.sess = v1.Session(graph=self.graph)
        self.sess.run(init)

    def __call__(self, coord, atype, box=None):
        feed = {
            self.ph["coord"]: coord.reshape(1, -1),
            self.ph["atype"]: np.asarray(atype)[None],
            self.ph["box"]: np.zeros((1, 9)) if box is None else box.reshape(1, 9),
        }
        energy, force = self.sess.run([self.out["energy"], self.out["force"]], feed)
        return energy[0], force.reshape(-1, 3)


def crossing(model, r_cross, eps=1e-7):
    """Energy and force jumps as atom 3 passes r_cross from atom 0 (an open cluster)."""
    base = np.array([[0.0, 0.0, 0.0], [0.3, 1.1, 0.2], [-0.9, 0.4, 0.7], [0.0, 0.0, 0.0]])
    atype = [0, 1, 2, 1]
    results = []
    for r in (r_cross - eps, r_cross + eps):
        coord = base.copy()
        coord[3] = [r, 0.0, 0.0]
        results.append(model(coord, atype))
    (e0, f0), (e1, f1) = results
    # what the force predicts for the step, so a smooth slope is not counted as a jump
    linear = -0.5 * (f0[3, 0] + f1[3, 0]) * 2 * eps
    return abs(e1 - e0 - linear), np.abs(f1 - f0).max()


@functools.cache
def energy_model(mode: str) -> EnergyModel:
    """One model per mode for the tests of this module."""
    return EnergyModel(mode, np.random.default_rng(7))


@pytest.mark.parametrize("mode", ["v2", "strip-smooth", "no-attention-resnet", "exclude"])
@pytest.mark.parametrize("where", ["rcut", "rcut_smth"])
def test_energy_and_forces_are_continuous_across_the_cutoffs(mode, where):
    de, df = crossing(energy_model(mode), ATTEN[where])
    assert de < 1e-12 and df < 1e-6, (de, df)


def test_the_plain_attention_renormalises_when_a_neighbour_enters():
    """DeePMD-kit's se_atten without smooth_type_embedding jumps at rcut (why se_atten_v2
    exists); the crossing check above sees it, so its passes mean something."""
    de, _ = crossing(energy_model("concat-two-side"), ATTEN["rcut"])
    assert de > 1e-6, de


EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "water"


@pytest.mark.parametrize("name", ["se_atten", "se_atten_compressible", "se_e2_a_tebd"])
def test_deepmd_kit_water_inputs_validate_unchanged(name):
    raw = json.loads((EXAMPLES / name / "input.json").read_text())
    model = normalize(raw)["model"]
    assert model["descriptor"] == {**model["descriptor"], **raw["model"]["descriptor"]}
    assert make_model(model).fitting.mixed_types  # one fitting net, fed the type vector


# Four elements in two systems of different compositions, a fifth (Ag) in none: the model
# maps them by name and keeps a type no data has.
TYPE_MAP = ["Al", "Cu", "Ni", "Pd", "Ag"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small se_atten_v2 model trained on EMT alloys: (root, config, lcurve rows)."""
    import ase.io
    from datasets import emt_frames

    from deepkit.data.convert import convert
    from deepkit.train.freeze import freeze
    from deepkit.train.trainer import Trainer

    root = tmp_path_factory.mktemp("atten")
    rng = np.random.default_rng(4)
    systems = []
    for k, symbols in enumerate([("Al", "Cu", "Ni"), ("Cu", "Ni", "Pd", "Ni")]):
        ase.io.write(root / f"{k}.xyz", emt_frames(rng, 6, symbols=symbols), format="extxyz")
        convert([str(root / f"{k}.xyz")], root / f"data{k}", "npy", type_map=sorted(set(symbols)))
        systems.append(str(root / f"data{k}"))
    raw = copy.deepcopy(BASE)
    raw["model"]["type_map"] = TYPE_MAP
    raw["model"]["descriptor"] = {**ATTEN, "type": "se_atten_v2", "sel": "auto:2", "rcut": 4.5}
    raw["training"].update(
        training_data={"systems": systems, "batch_size": 2}, numb_steps=30, save_freq=30
    )
    raw["loss"].update(start_pref_v=0.0, limit_pref_v=0.0)
    config = normalize(raw)
    Trainer(config, root / "run", log=lambda *a: None).run()
    freeze(root / "run", root / "model.pb")
    lcurve = np.loadtxt(root / "run" / "lcurve.out")
    return root, config, lcurve


def test_trains_on_systems_of_different_elements(trained):
    root, _, lcurve = trained
    assert lcurve[-3:, 2].mean() < 0.85 * lcurve[0, 2]  # the energy error falls
    from deepkit.infer import DeepPot

    dp = DeepPot(root / "model.pb")
    assert dp.get_type_map() == TYPE_MAP
    # sel "auto:2" (room for the NVE test's thermal motion): one block, from the count of
    # neighbours of any type, not the per-type counts
    from deepkit.data import expand_systems
    from deepkit.data.neighbor_stat import neighbor_stat, sel_from_counts

    systems = [s for k in range(2) for s in expand_systems(str(root / f"data{k}"))]
    blind, _ = neighbor_stat(systems, TYPE_MAP, 4.5, mixed_type=True)
    per_type, _ = neighbor_stat(systems, TYPE_MAP, 4.5)
    assert dp.sel == sel_from_counts("auto:2", blind) and blind[0] < per_type.sum()


def test_sel_as_one_number_trains(trained):
    # DeePMD-kit's se_atten inputs give sel as a number: it once reached the "auto" path
    root, config, _ = trained
    from deepkit.train.trainer import Trainer

    config = copy.deepcopy(config)
    config["model"]["descriptor"]["sel"] = 40
    config["training"].update(numb_steps=2, save_freq=2, disp_freq=1)
    Trainer(config, root / "run_sel_number", log=lambda *a: None).run()
    assert np.loadtxt(root / "run_sel_number" / "lcurve.out")[-1, 0] == 2


def test_frozen_model_is_physical_and_far_apart_systems_add(trained, rng):
    from finite_diff import assert_deep_pot_derivatives

    from deepkit.infer import DeepPot

    root, _, _ = trained
    dp = DeepPot(root / "model.pb")
    coord, atype, box = random_frame(rng, 10)
    atype = rng.integers(0, 4, 10)
    assert_deep_pot_derivatives(dp, coord, box, atype)
    # Two clusters 20 A apart in an open box: the energy of the pair is the sum.
    e1 = dp.eval(coord[None], None, atype)[0][0, 0]
    e2 = dp.eval(coord[None] + 0.3, None, atype[::-1])[0][0, 0]
    both = np.concatenate([coord, coord + 0.3 + [20.0, 0, 0]])
    assert dp.eval(both[None], None, np.concatenate([atype, atype[::-1]]))[0][0, 0] == (
        pytest.approx(e1 + e2, abs=1e-10)
    )


def test_c_api_equals_deep_pot_with_and_without_ghosts(trained, driver, tmp_path, rng):
    from test_capi import assert_close, outputs, run_driver, write_case

    from deepkit.infer import DeepPot
    from deepkit.infer.external import ghost_frame

    root, _, _ = trained
    dp = DeepPot(root / "model.pb")
    coord, atype, box = random_frame(rng, 12)
    atype = rng.integers(0, 5, 12)  # Ag too: a type no training frame had
    e, f, v, ae, av = dp.eval(coord[None], box[None], atype, atomic=True)
    folder = write_case(tmp_path / "direct", coord[None], atype, box[None])
    run_driver(driver, root / "model.pb", folder, "compute")
    out = outputs(folder)
    for key, expected in zip(out, (e, f, v, ae, av), strict=True):
        assert_close(out[key], expected.ravel())
    frame = ghost_frame(coord, atype, box, 4.5 + 1.0, rng=rng)
    folder = write_case(tmp_path / "ghosts", frame.coord, frame.atype, frame=frame)
    run_driver(driver, root / "model.pb", folder, "compute")
    out = outputs(folder)
    assert_close(out["energy"], e.ravel())
    assert_close(frame.reduce(out["force"].reshape(len(frame.coord), 3)), f[0])
    assert_close(out["virial"], v.ravel())


def test_lammps_run0_on_one_and_two_ranks_equals_deep_pot(trained, tmp_path, rng):
    from test_lammps import RUN0, check_run0, run_lmp

    from deepkit.infer import DeepPot
    from deepkit.lammps import write_data

    root, _, _ = trained
    dp = DeepPot(root / "model.pb")
    original, atype, cell = random_frame(rng, 40)
    cell = cell * 1.6
    original = rng.uniform(0, 1, (40, 3)) @ cell
    atype = rng.integers(0, 4, 40)
    coord, box = write_data(tmp_path / "frame.data", original, atype, cell, TYPE_MAP[:4])
    for ranks in (1, 2):
        folder = tmp_path / f"ranks{ranks}"
        folder.mkdir()
        (folder / "frame.data").write_bytes((tmp_path / "frame.data").read_bytes())
        script = RUN0.format(
            units="metal",
            pair_style=f"deepkit {root / 'model.pb'}",
            pair_coeff="* * Al Cu Ni Pd",
            extra="",
        )
        output = run_lmp(folder, script, ranks=ranks)
        check_run0(output, folder / "dump.txt", dp, coord, box, atype, "metal")


def test_frozen_graphs_spell_mixed_types_only_where_it_is_on(trained, alcu_model):
    """An se_e2_a model keeps no mixed_types attr (deepkit builds from before it load it);
    the se_atten one has it on in both neighbour-list entry points."""
    from deepkit.tfenv import tf

    def lists(path):
        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(Path(path).read_bytes())
        return [n for n in graph_def.node if n.op in ("DkNeighborList", "DkExternalNeighborList")]

    plain = lists(alcu_model[0] / "model.pb")
    assert len(plain) == 2 and all("mixed_types" not in n.attr for n in plain)
    blind = lists(trained[0] / "model.pb")
    assert len(blind) == 2 and all(n.attr["mixed_types"].b for n in blind)


def test_nve_of_the_trained_model_conserves_energy(trained):
    """se_atten_v2 with two attention layers, 1 ps of NVE on a 32-atom alloy frame."""
    from ase import units
    from ase.io import read
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    from deepkit.calculator import DeepKit

    root = trained[0]
    atoms = read(root / "1.xyz", index=0)
    atoms.calc = DeepKit(str(root / "model.pb"))
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dyn = VelocityVerlet(atoms, timestep=0.5 * units.fs)
    times, energies = [], []
    for step in range(2000):
        if step % 20 == 0:
            times.append(step * 0.5e-3)  # ps
            energies.append(atoms.get_total_energy() / len(atoms))
        dyn.run(1)
    drift = np.polyfit(times, energies, 1)[0]
    assert abs(drift) < 1e-4, f"drift {drift:.2e} eV/atom/ps"
    assert np.ptp(energies) < 5e-3


@pytest.mark.parametrize(
    "mode, why",
    [
        ("concat-two-side", "tebd_input_mode 'strip'"),
        ("strip", "attn_layer 0"),
        ("no-attention-resnet", "tebd_input_mode 'strip'"),
    ],
)
def test_compression_needs_strip_mode_without_attention(mode, why):
    """DeePMD-kit compresses DPA-1 only when the radial net alone takes the distance (strip)
    and no attention layer mixes the slots; deepkit says which condition fails.
    tests/test_compress.py trains and compresses the cases that qualify."""
    keys, tebd = descriptor_keys(mode)
    assert why in make_descriptor(keys, NTYPES, tebd).untabulable()
    strip, _ = descriptor_keys("strip")
    assert make_descriptor({**strip, "attn_layer": 0}, NTYPES, tebd).untabulable() is None
