"""The physics battery, run on every registered descriptor with every registered fitting,
each built from its class's `example` keys with statistics from data: a new descriptor or
fitting inherits these checks by registering. Forces and virials are energy derivatives
(finite differences, a tilted box shorter than 2 rcut so periodic images count), atomic
energies and virials add up, and the energy is invariant under translation, lattice
shifts of single atoms, rotation and permutation."""

import copy

import numpy as np
import pytest
from datasets import random_sets, write_system
from finite_diff import numeric_force, numeric_virial
from models import BASE
from systems import random_box

from deepkit.config import normalize
from deepkit.data import expand_systems
from deepkit.model.base import make_model
from deepkit.registry import DESCRIPTORS, FITTINGS
from deepkit.tfenv import tf

v1 = tf.compat.v1
# Energy fittings; tensor fittings (dipole, polar) have their own battery in test_tensor.py.
PAIRS = [
    pytest.param((d, f, None), id=f"{d}-{f}")
    for d in DESCRIPTORS.classes()
    for f, cls in FITTINGS.classes().items()
    if cls.model_type == "ener"
]
# Every descriptor that takes model.type_embedding, once more with one (a two-layer net
# with biases, so that all of it is differentiated).
TYPE_EMBEDDING = {"neuron": [3, 5], "use_tebd_bias": True, "seed": 4}
PAIRS += [
    pytest.param((d, "ener", TYPE_EMBEDDING), id=f"{d}+type_embedding-ener")
    for d, cls in DESCRIPTORS.classes().items()
    if cls.accepts_type_embedding({"type": d, **cls.example})
]


@pytest.fixture(scope="module")
def systems(tmp_path_factory):
    rng = np.random.default_rng(5)
    root = tmp_path_factory.mktemp("battery")
    write_system(root / "sys", rng.integers(0, 2, 14), ["O", "H"], random_sets(rng, 14, [4]))
    return expand_systems(str(root / "sys"))


class Model:
    """The energy model of a descriptor and a fitting, with statistics from `systems` and
    its initial weights."""

    def __init__(self, descriptor: str, fitting: str, type_embedding, systems):
        raw = copy.deepcopy(BASE)
        raw["model"]["descriptor"] = {"type": descriptor, **DESCRIPTORS.get(descriptor).example}
        raw["model"]["fitting_net"] = {"type": fitting, **FITTINGS.get(fitting).example}
        raw["model"]["type_embedding"] = type_embedding
        model = make_model(normalize(raw)["model"])
        model.compute_statistics(systems, 4)
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.ph = model.placeholders()
            self.out = model.build(**self.ph)
            init = v1.global_variables_initializer()
        self.sess = v1.Session(graph=self.graph)
        self.sess.run(init)

    def __call__(self, coord, atype, box):
        feed = {
            self.ph["coord"]: coord.reshape(1, -1),
            self.ph["atype"]: atype[None],
            self.ph["box"]: box.reshape(1, 9),
        }
        return self.sess.run(self.out, feed)


@pytest.fixture(scope="module", params=PAIRS)
def case(request, systems):
    rng = np.random.default_rng(11)
    box = random_box(rng, 6.0, tilt=0.15)
    coord = rng.uniform(0, 1, (14, 3)) @ box
    atype = rng.permutation(np.arange(14) % 2).astype(np.int32)
    return Model(*request.param, systems), coord, atype, box


def test_forces_and_virial_are_energy_derivatives(case):
    model, coord, atype, box = case
    out = model(coord, atype, box)
    energy = lambda c, b: model(c, atype, b)["energy"][0]
    numeric = numeric_force(energy, coord, box, 1e-5)
    assert np.abs(numeric).max() > 1e-5  # not trivially zero
    np.testing.assert_allclose(out["force"][0].reshape(-1, 3), numeric, rtol=1e-6, atol=1e-8)
    numeric_w = numeric_virial(energy, coord, box, 1e-5)
    np.testing.assert_allclose(out["virial"][0].reshape(3, 3), numeric_w, rtol=1e-6, atol=1e-7)


def test_atomic_energies_and_virials_add_up(case):
    model, coord, atype, box = case
    out = model(coord, atype, box)
    np.testing.assert_allclose(out["atom_energy"].sum(), out["energy"][0], rtol=1e-12)
    np.testing.assert_allclose(
        out["atom_virial"][0].reshape(-1, 9).sum(0), out["virial"][0], atol=1e-9
    )


def test_energy_is_invariant(case):
    model, coord, atype, box = case
    rng = np.random.default_rng(3)
    base = model(coord, atype, box)
    energy = base["energy"][0]
    moved = coord + rng.normal(size=3)
    moved[3] += box[0] - 2 * box[2]  # an atom to another periodic image
    assert model(moved, atype, box)["energy"][0] == pytest.approx(energy, abs=1e-10)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rotated = model(coord @ q, atype, box @ q)
    assert rotated["energy"][0] == pytest.approx(energy, abs=1e-10)
    np.testing.assert_allclose(
        rotated["force"][0].reshape(-1, 3), base["force"][0].reshape(-1, 3) @ q, atol=1e-10
    )
    perm = rng.permutation(len(coord))
    permuted = model(coord[perm], atype[perm], box)
    np.testing.assert_allclose(permuted["atom_energy"][0], base["atom_energy"][0][perm], atol=1e-10)
    np.testing.assert_allclose(
        permuted["force"][0].reshape(-1, 3), base["force"][0].reshape(-1, 3)[perm], atol=1e-10
    )
