"""se_e3 and hybrid: se_e3 against a numpy reference, DeePMD-kit's inputs for both, bad
input in one line, and a hybrid's parts side by side. The physics battery
(test_battery.py) and compression (test_compress.py) cover both through the registry."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from models import BASE
from systems import random_box

from deepkit.cli import main
from deepkit.config import normalize
from deepkit.descriptor import env_mat
from deepkit.descriptor.base import make_descriptor
from deepkit.errors import InputError
from deepkit.nn.tabulate import layers_of, net_with_derivatives
from deepkit.tfenv import tf

v1 = tf.compat.v1

# The descriptor sections of DeePMD-kit's examples/water/se_e3 and examples/water/hybrid,
# as examples/water/se_e3 and examples/water/hybrid carry them.
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "water"
DEEPMD_SE_E3, DEEPMD_HYBRID = (
    json.loads((EXAMPLES / name / "input.json").read_text())["model"]["descriptor"]
    for name in ("se_e3", "hybrid")
)


def with_descriptor(descriptor: dict) -> dict:
    raw = copy.deepcopy(BASE)
    raw["model"]["descriptor"] = copy.deepcopy(descriptor)
    return raw


def test_deepmd_kit_inputs_validate_unchanged():
    e3 = normalize(with_descriptor(DEEPMD_SE_E3))["model"]["descriptor"]
    assert e3["type"] == "se_e3" and e3["sel"] == "auto" and e3["neuron"] == [2, 4, 8]
    hybrid = normalize(with_descriptor(DEEPMD_HYBRID))["model"]["descriptor"]
    assert [p["type"] for p in hybrid["list"]] == ["se_e2_a", "se_e2_r"]
    assert hybrid["list"][0]["axis_neuron"] == 4 and hybrid["list"][1]["rcut"] == 6.0
    assert "_comment2" not in hybrid["list"][0]
    for alias in ("se_t", "se_at", "se_a_3be"):
        raw = with_descriptor({**DEEPMD_SE_E3, "type": alias})
        assert normalize(raw)["model"]["descriptor"]["type"] == "se_e3"


@pytest.mark.parametrize(
    "descriptor, message",
    [
        ({"type": "hybrid", "list": []}, r"model\.descriptor\.list: must hold at least one"),
        ({"type": "hybrid"}, r"model\.descriptor\.list: required key missing"),
        (
            {"type": "hybrid", "list": [{"type": "se_e2_a"}, {"type": "se_e4"}]},
            r"model\.descriptor\.list\[1\]\.type: unknown value 'se_e4'",
        ),
        (
            {"type": "hybrid", "list": [{"type": "hybrid", "list": [{"type": "se_e2_a"}]}]},
            r"model\.descriptor\.list\[0\]\.type: a hybrid cannot hold a hybrid",
        ),
        (
            {"type": "hybrid", "list": [{"type": "dpa2"}]},
            r"model\.descriptor\.list\[0\]\.type: DeePMD-kit's 'dpa2' is not supported",
        ),
        (
            {"type": "hybrid", "list": [{"type": "se_e3", "sel": [4]}]},
            r"model\.descriptor\.list\[0\]\.sel: 1 entries for 2 types",
        ),
        (
            {"type": "hybrid", "list": [{"type": "se_e3", "rcut": 3.0, "rcut_smth": 3.5}]},
            r"model\.descriptor\.list\[0\]\.rcut_smth: must be smaller than rcut",
        ),
        ({"type": "se_e3", "type_one_side": True}, r"model\.descriptor\.type_one_side: unknown"),
        ({"type": "se_e3", "axis_neuron": 4}, r"model\.descriptor\.axis_neuron: unknown key"),
    ],
)
def test_bad_input_names_the_key(descriptor, message):
    with pytest.raises(InputError, match=message):
        normalize(with_descriptor(descriptor))


def test_bad_hybrid_is_one_line_and_exit_2(tmp_path, capsys):
    path = tmp_path / "input.json"
    path.write_text(json.dumps(with_descriptor({"type": "hybrid", "list": []})))
    assert main(["train", str(path), "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model.descriptor.list" in err


def descriptor_of(params: dict, avg_std=None, seed=5):
    """The descriptor of normalised `params` for types O H, with statistics avg_std."""
    params = normalize(with_descriptor(params))["model"]["descriptor"]
    descriptor = make_descriptor(params, 2)
    if avg_std is not None:
        descriptor.avg, descriptor.std = avg_std
    return descriptor


def evaluate(descriptor, coord, atype, box):
    """d and every variable of the descriptor's graph by name."""
    with tf.Graph().as_default(), v1.Session() as sess:
        out = descriptor.build(
            tf.constant(coord[None]), tf.constant(atype[None]), tf.constant(box.reshape(1, 9))
        )
        sess.run(v1.global_variables_initializer())
        variables = {v.op.name: v for v in v1.global_variables()}
        return sess.run(out.d), sess.run(variables)


@pytest.mark.parametrize("exclude_types", [[], [[0, 1]]])
def test_se_e3_matches_numpy_reference(rng, exclude_types):
    """D_i = sum_{a <= b} 1/(sel_a sel_b) sum_{j in a, k in b} theta_jk G_ab(theta_jk), the
    rows of excluded (centre, neighbour) type pairs zero."""
    sel, rcut, rcut_smth = [10, 14], 3.8, 1.2
    params = {
        "type": "se_e3",
        "sel": sel,
        "rcut": rcut,
        "rcut_smth": rcut_smth,
        "neuron": [3, 6, 6],
        "resnet_dt": True,
        "seed": 7,
        "exclude_types": exclude_types,
    }
    nnei = sum(sel)
    avg = np.zeros((2, nnei, 4))
    avg[:, :, 0] = rng.uniform(0, 0.2, (2, 1))
    std = np.repeat(rng.uniform(0.2, 0.5, (2, 1, 4)), nnei, axis=1)
    descriptor = descriptor_of(params, (avg, std))
    box = random_box(rng, 7.0, tilt=0.1)
    coord = rng.uniform(0, 1, (16, 3)) @ box
    atype = rng.permutation(np.arange(16) % 2).astype(np.int32)
    d, variables = evaluate(descriptor, coord, atype, box)

    em = env_mat(coord, atype, box, rcut, rcut_smth, sel)[0][0]  # (natoms, nnei, 4)
    rows = (em - avg[atype]) / std[atype]
    slot_type = np.repeat([0, 1], sel)
    for a, b in exclude_types:
        rows[(atype[:, None] == a) & (slot_type == b)] = 0
        rows[(atype[:, None] == b) & (slot_type == a)] = 0
    xyz = np.split(rows[:, :, 1:], np.cumsum(sel)[:-1], axis=1)
    expected = np.zeros((len(coord), 6))
    for a in range(2):
        for b in range(a, 2):
            theta = np.einsum("njm,nkm->njk", xyz[a], xyz[b])
            layers = layers_of(variables, f"filter_pair_{a}_{b}", 3, True)
            g = net_with_derivatives(layers, "tanh", theta.ravel())[0]
            g = g.reshape(*theta.shape, 6)
            expected += np.einsum("njk,njkm->nm", theta, g) / (sel[a] * sel[b])
    assert descriptor.dim_out == 6 and np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(d, expected, rtol=1e-10, atol=1e-12)


def test_se_e2_r_is_a_fifth_of_the_mean_as_deepmd_kit(rng):
    """D_i = 1/5 * 1/Nnei sum_j G(s_ij): DeePMD-kit's se_r scale (`res_rescale`), which the
    fitting net's initial weights are sized for; without it the same input trains apart."""
    sel, rcut, rcut_smth = [10, 14], 3.8, 1.2
    params = {"type": "se_e2_r", "sel": sel, "rcut": rcut, "rcut_smth": rcut_smth}
    params |= {"neuron": [3, 6], "seed": 7}
    nnei = sum(sel)
    avg = rng.uniform(0, 0.2, (2, nnei, 1))
    std = rng.uniform(0.2, 0.5, (2, nnei, 1))
    descriptor = descriptor_of(params, (avg, std))
    box = random_box(rng, 7.0, tilt=0.1)
    coord = rng.uniform(0, 1, (16, 3)) @ box
    atype = rng.permutation(np.arange(16) % 2).astype(np.int32)
    d, variables = evaluate(descriptor, coord, atype, box)

    em = env_mat(coord, atype, box, rcut, rcut_smth, sel, kind="r")[0][0]  # (natoms, nnei, 1)
    rows = np.split((em - avg[atype]) / std[atype], np.cumsum(sel)[:-1], axis=1)
    expected = np.zeros((len(coord), 6))
    for centre in range(2):
        for t in range(2):
            layers = layers_of(variables, f"filter_type_{centre}_{t}", 2, False)
            g = net_with_derivatives(layers, "tanh", rows[t][atype == centre].ravel())[0]
            expected[atype == centre] += g.reshape(-1, sel[t], 6).sum(axis=1)
    expected *= 0.2 / nnei
    assert np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(d, expected, rtol=1e-10, atol=1e-12)


def test_hybrid_is_its_parts_side_by_side(rng):
    """d is the parts' d concatenated, each part with its own cut-off, sel and statistics;
    the model records the largest cut-off and the sels in order."""
    parts = [
        {
            "type": "se_e2_a",
            "sel": [12, 16],
            "rcut": 4.0,
            "neuron": [4, 8],
            "axis_neuron": 2,
            "seed": 1,
        },
        {"type": "se_e3", "sel": [6, 8], "rcut": 3.0, "neuron": [2, 4], "seed": 3},
    ]
    stats = []
    for part in parts:
        nnei = sum(part["sel"])
        stats.append((rng.uniform(0, 0.1, (2, nnei, 4)), rng.uniform(0.3, 0.6, (2, nnei, 4))))
        stats[-1][0][:, :, 1:] = 0
    hybrid = descriptor_of({"type": "hybrid", "list": parts})
    for part, (avg, std) in zip(hybrid.parts, stats, strict=True):
        part.avg, part.std = avg, std
    box = random_box(rng, 7.0, tilt=0.1)
    coord = rng.uniform(0, 1, (16, 3)) @ box
    atype = rng.permutation(np.arange(16) % 2).astype(np.int32)
    d, variables = evaluate(hybrid, coord, atype, box)
    assert hybrid.metadata() == {"type": "hybrid", "rcut": 4.0, "sel": [12, 16, 6, 8]}
    assert any(name.startswith("part1_filter_pair_0_1/") for name in variables)
    assert set(hybrid.state()) == {
        f"part{i}_descrpt_attr/t_{s}" for i in range(2) for s in ("avg", "std")
    }
    columns = 0
    for i, (part, (avg, std)) in enumerate(zip(parts, stats, strict=True)):
        alone = descriptor_of(part, (avg, std))
        alone.scope = f"part{i}_"  # the same variable names, so the same initial weights
        expected, _ = evaluate(alone, coord, atype, box)
        np.testing.assert_allclose(d[:, columns : columns + alone.dim_out], expected, rtol=1e-12)
        columns += alone.dim_out
    assert columns == hybrid.dim_out == d.shape[1]


def test_parts_of_different_precision_join_in_float64(rng):
    parts = [
        {"type": "se_e2_r", "sel": [8, 8], "rcut": 3.0, "neuron": [4], "precision": "float32"},
        {"type": "se_e3", "sel": [6, 6], "rcut": 3.0, "neuron": [2], "exclude_types": [[0, 0]]},
    ]
    box = np.eye(3) * 6.0
    coord = rng.uniform(0, 6, (12, 3))
    atype = (np.arange(12) % 2).astype(np.int32)
    d, _ = evaluate(descriptor_of({"type": "hybrid", "list": parts}), coord, atype, box)
    assert d.dtype == np.float64 and d.shape == (12, 6) and np.isfinite(d).all()
