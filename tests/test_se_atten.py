"""se_atten / se_atten_v2 (DPA-1) and the type embedding: the graph against a slot-by-slot
numpy reference in every mode, smoothness across rcut, DeePMD-kit's inputs, and the
models downstream (freeze, DeepPot, C API, LAMMPS) with no code of their own."""

import copy
import functools

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


def random_frame(rng, natoms=14):
    box = random_box(rng, 6.0)
    coord = rng.uniform(0, 1, (natoms, 3)) @ box
    return coord, rng.integers(0, NTYPES, natoms), box


@pytest.mark.parametrize("mode", list(MODES))
def test_graph_equals_numpy_reference(mode, rng):
    params, tebd = descriptor_keys(mode)
    desc = make_descriptor(params, NTYPES, tebd)
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
