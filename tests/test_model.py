"""The energy model graph: forces and virials are energy derivatives, and the energy has
the symmetries of physics. Checked for se_e2_a / se_e2_r, periodic and open systems,
float64 and float32 nets, type_one_side both ways, exclude_types."""

import numpy as np
import pytest
import tensorflow as tf
from finite_diff import numeric_force, numeric_virial
from models import small_config
from systems import random_box

from deepkit.model.base import make_model

v1 = tf.compat.v1


class Evaluator:
    """A built model with random (but fixed) statistics and weights."""

    def __init__(self, config, rng):
        self.model = make_model(config["model"])
        desc = self.model.descriptor
        # As the statistics give them: one value per type for all slots, xyz sharing a std
        # and averaging zero (anything else breaks the symmetries).
        ntypes, _, ncomp = desc.avg.shape
        radial = np.arange(ncomp) == 0
        desc.avg = np.broadcast_to(rng.normal(0, 0.05, (ntypes, 1, 1)) * radial, desc.avg.shape)
        std = np.where(
            radial, rng.uniform(0.5, 1.5, (ntypes, 1, 1)), rng.uniform(0.5, 1.5, (ntypes, 1, 1))
        )
        desc.std = np.broadcast_to(std, desc.std.shape)
        self.model.fitting.bias = np.array([-2.0, -1.0])
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.ph = self.model.placeholders()
            self.out = self.model.build(**self.ph)
            init = v1.global_variables_initializer()
        self.sess = v1.Session(graph=self.graph)
        self.sess.run(init)

    def __call__(self, coord, atype, box, **params):
        box = np.zeros(9) if box is None else box.reshape(9)
        feed = {
            self.ph["coord"]: coord.reshape(1, -1),
            self.ph["atype"]: atype[None],
            self.ph["box"]: box[None],
        }
        feed.update({self.ph[k]: v.reshape(1, -1) for k, v in params.items()})
        return self.sess.run(self.out, feed)


def system(rng, natoms=14, length=6.0):
    box = random_box(rng, length, tilt=0.15)
    coord = rng.uniform(0, 1, (natoms, 3)) @ box
    atype = rng.permutation(np.arange(natoms) % 2)
    return coord, atype.astype(np.int32), box


CASES = [
    pytest.param({"type": "se_e2_a"}, "default", True, id="a-periodic"),
    pytest.param({"type": "se_e2_a"}, "default", False, id="a-open"),
    pytest.param({"type": "se_e2_r"}, "default", True, id="r-periodic"),
    pytest.param({"type": "se_e2_r"}, "default", False, id="r-open"),
    pytest.param({"type": "se_e2_a", "type_one_side": True}, "default", True, id="a-one-side"),
    pytest.param({"type": "se_e2_a", "exclude_types": [[0, 1]]}, "default", True, id="a-exclude"),
    pytest.param(
        {"type": "se_e2_a", "resnet_dt": True, "activation_function": "gelu"},
        "default",
        True,
        id="a-resnet-gelu",
    ),
    pytest.param({"type": "se_e2_a", "precision": "float32"}, "float32", True, id="a-float32"),
]


@pytest.mark.parametrize("descriptor, fit_precision, periodic", CASES)
def test_force_and_virial_are_energy_derivatives(rng, descriptor, fit_precision, periodic):
    evaluate = Evaluator(small_config(descriptor, {"precision": fit_precision}), rng)
    coord, atype, box = system(rng)
    box_in = box if periodic else None
    out = evaluate(coord, atype, box_in)
    single = fit_precision == "float32"
    h, rtol, atol = (1e-3, 2e-2, 2e-3) if single else (1e-5, 1e-6, 1e-8)
    energy = lambda c, b: evaluate(c, atype, b)["energy"][0]
    numeric = numeric_force(energy, coord, box_in, h)
    np.testing.assert_allclose(out["force"][0].reshape(-1, 3), numeric, rtol=rtol, atol=atol)
    assert np.abs(numeric).max() > 1e-5  # not trivially zero
    np.testing.assert_allclose(out["atom_energy"].sum(), out["energy"][0], rtol=1e-12)
    np.testing.assert_allclose(
        out["atom_virial"][0].reshape(-1, 9).sum(0), out["virial"][0], atol=1e-9
    )
    if periodic:
        numeric_w = numeric_virial(energy, coord, box, h)
        np.testing.assert_allclose(
            out["virial"][0].reshape(3, 3), numeric_w, rtol=rtol, atol=atol * 10
        )


@pytest.mark.parametrize(
    "descriptor",
    [{"type": "se_e2_a"}, {"type": "se_e2_r"}, {"type": "se_e2_a", "type_one_side": True}],
)
def test_energy_symmetries(rng, descriptor):
    evaluate = Evaluator(small_config(descriptor), rng)
    coord, atype, box = system(rng)
    base = evaluate(coord, atype, box)
    energy = base["energy"][0]
    # Translation, and an atom moved by lattice vectors.
    moved = coord + rng.normal(size=3)
    moved[3] += box[0] - 2 * box[2]
    assert evaluate(moved, atype, box)["energy"][0] == pytest.approx(energy, abs=1e-10)
    # Rotation of atoms and cell: energy invariant, forces rotate.
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rotated = evaluate(coord @ q, atype, box @ q)
    assert rotated["energy"][0] == pytest.approx(energy, abs=1e-10)
    np.testing.assert_allclose(
        rotated["force"][0].reshape(-1, 3), base["force"][0].reshape(-1, 3) @ q, atol=1e-10
    )
    # Permutation of atoms (same types travel with them): energies and forces permute.
    perm = rng.permutation(len(coord))
    permuted = evaluate(coord[perm], atype[perm], box)
    assert permuted["energy"][0] == pytest.approx(energy, abs=1e-10)
    np.testing.assert_allclose(permuted["atom_energy"][0], base["atom_energy"][0][perm], atol=1e-10)
    np.testing.assert_allclose(
        permuted["force"][0].reshape(-1, 3), base["force"][0].reshape(-1, 3)[perm], atol=1e-10
    )


def test_exclude_types_removes_the_pair(rng):
    evaluate = Evaluator(small_config({"exclude_types": [[0, 1]]}), rng)
    coord, atype, _ = system(rng)
    energy = evaluate(coord, atype, None)["energy"][0]
    shifted = coord.copy()
    shifted[atype == 1] += np.array([0.3, -0.2, 0.1])  # moves O-H distances only
    assert evaluate(shifted, atype, None)["energy"][0] == pytest.approx(energy, abs=1e-10)
    plain = Evaluator(small_config({}), rng)
    assert plain(shifted, atype, None)["energy"][0] != pytest.approx(
        plain(coord, atype, None)["energy"][0]
    )


def test_far_apart_systems_add_up(rng):
    evaluate = Evaluator(small_config({}), rng)
    a, ta, _ = system(rng, natoms=6)
    b, tb, _ = system(rng, natoms=5)
    both = evaluate(np.vstack([a, b + 50.0]), np.concatenate([ta, tb]), None)["energy"][0]
    alone = evaluate(a, ta, None)["energy"][0] + evaluate(b, tb, None)["energy"][0]
    assert both == pytest.approx(alone, abs=1e-10)


def test_frame_and_atomic_parameters_enter_the_fitting(rng):
    config = small_config({}, {"numb_fparam": 2, "numb_aparam": 1})
    evaluate = Evaluator(config, rng)
    coord, atype, box = system(rng)
    fparam, aparam = np.array([0.3, -1.0]), rng.normal(size=len(coord))
    base = evaluate(coord, atype, box, fparam=fparam, aparam=aparam)
    other_f = evaluate(coord, atype, box, fparam=fparam + 0.5, aparam=aparam)["energy"][0]
    other_a = evaluate(coord, atype, box, fparam=fparam, aparam=aparam + 0.5)["energy"][0]
    assert abs(other_f - base["energy"][0]) > 1e-6 and abs(other_a - base["energy"][0]) > 1e-6
    h, numeric = 1e-5, np.zeros(3)
    for e in range(3):
        step = np.zeros_like(coord)
        step[4, e] = h
        plus = evaluate(coord + step, atype, box, fparam=fparam, aparam=aparam)["energy"][0]
        minus = evaluate(coord - step, atype, box, fparam=fparam, aparam=aparam)["energy"][0]
        numeric[e] = -(plus - minus) / (2 * h)
    np.testing.assert_allclose(base["force"][0].reshape(-1, 3)[4], numeric, rtol=1e-6, atol=1e-9)
