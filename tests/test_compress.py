"""Model compression: the tables, the fused op and its gradients, `deepkit compress`, and the
compressed model against the original."""

import json

import numpy as np
import pytest
import tensorflow as tf
from finite_diff import assert_deep_pot_derivatives
from models import frozen_alcu_model

from deepkit import DeepPot, ops
from deepkit.cli import main
from deepkit.compress import TableOverflowWarning
from deepkit.compress.model import compress
from deepkit.data import expand_systems
from deepkit.data.neighbor_stat import resolve_sel
from deepkit.infer.external import ghost_frame
from deepkit.model.frozen import read_constants
from deepkit.nn.tabulate import Layer, evaluate, net_with_derivatives, tabulate
from deepkit.registry import DESCRIPTORS as REGISTERED
from deepkit.train.freeze import freeze
from deepkit.train.trainer import Trainer

DESCRIPTORS = {
    "a_two_side": {"type_one_side": False, "neuron": [6, 12, 24], "resnet_dt": True},
    "r_excluded": {"type": "se_e2_r", "neuron": [8, 16], "exclude_types": [[0, 1]]},
    # one net over (s, both type vectors), tabulated per type pair (MODEL below)
    "a_type_embedding": {"type_one_side": False, "neuron": [6, 12, 24]},
    "a_econf_one_side": {"type_one_side": True, "neuron": [6, 12, 24]},
    "e3_excluded": {
        "type": "se_e3",
        "sel": [16, 16],
        "rcut": 3.5,
        "neuron": [4, 8],
        "exclude_types": [[0, 1]],
    },
    # parts of different cut-offs, sel "auto" per part (test_sel_auto_is_resolved_per_part)
    "hybrid_a_e3": {
        "type": "hybrid",
        "list": [
            {"type": "se_e2_a", "sel": "auto", "rcut": 4.5, "neuron": [4, 8], "axis_neuron": 2},
            {"type": "se_e3", "sel": "auto", "rcut": 3.2, "neuron": [2, 4, 8], "seed": 4},
        ],
    },
    # DPA-1 without attention layers: the radial net tabulated, the type net kept
    "atten_strip_excluded": {
        "type": "se_atten",
        "sel": 40,
        "tebd_input_mode": "strip",
        "attn_layer": 0,
        "neuron": [4, 8, 16],
        "exclude_types": [[0, 1]],
    },
    "atten_v2": {
        "type": "se_atten_v2",
        "sel": "auto",
        "attn_layer": 0,
        "neuron": [4, 8, 16],
        "resnet_dt": True,
    },
}


def random_net(rng, neuron=(4, 8, 16, 16), resnet_dt=True):
    layers, fan_in = [], 1
    for width in neuron:
        idt = rng.normal(1.0, 0.1, width) if resnet_dt else None
        layers.append(Layer(rng.normal(0, 1, (fan_in, width)), rng.normal(0, 1, width), idt))
        fan_in = width
    return layers


def op_values(table, x, rows=None):
    """The fused op with one slot per centre: G(x) (x) rows."""
    x = np.asarray(x, np.float64).reshape(-1, 1)
    rows = np.ones((len(x), 1, 1)) if rows is None else rows
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        out = ops.tabulate_fusion(table.coefficients, table.info, x, rows)
        return sess.run(out)


@pytest.mark.parametrize("activation", ["tanh", "gelu", "softplus"])
def test_table_nodes_reproduce_the_net(rng, activation):
    layers = random_net(rng)
    table = tabulate(layers, activation, -1.0, 3.0, 15.0, 0.01, 0.1)
    nodes = np.concatenate(
        [-1.0 + np.arange(401) * 0.01, table.info[1] + np.arange(int(table.info[6])) * 0.1]
    )
    expected = net_with_derivatives(layers, activation, nodes)[0]
    got = op_values(table, nodes)[:, :, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(evaluate(table, nodes), expected, rtol=1e-13, atol=1e-13)


def test_net_derivatives_match_finite_differences(rng):
    layers = random_net(rng)
    x, h = np.linspace(-1, 3, 50), 1e-5
    f, d1, d2 = net_with_derivatives(layers, "tanh", x)
    fp, fm = (
        net_with_derivatives(layers, "tanh", x + h)[0],
        net_with_derivatives(layers, "tanh", x - h)[0],
    )
    np.testing.assert_allclose(d1, (fp - fm) / (2 * h), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(d2, (fp - 2 * f + fm) / h**2, rtol=1e-3, atol=1e-4)


def test_interpolation_error_within_the_quintic_bound(rng):
    """|G - table| <= max|G^(6)| (h/2)^6 / 6! between nodes (Hermite quintic remainder)."""
    layers = random_net(rng)
    step = 0.05
    table = tabulate(layers, "tanh", -1.0, 3.0, 6.0, step, 0.5)
    x = rng.uniform(-1.0, 3.0, 4000)
    error = np.abs(op_values(table, x)[:, :, 0] - net_with_derivatives(layers, "tanh", x)[0])
    # G^(6) = (G'')^(4): fourth central difference of the exact second derivative.
    grid, d = np.linspace(-1.0, 3.0, 4001), 1e-2
    d2 = lambda z: net_with_derivatives(layers, "tanh", z)[2]
    sixth = (
        d2(grid + 2 * d) - 4 * d2(grid + d) + 6 * d2(grid) - 4 * d2(grid - d) + d2(grid - 2 * d)
    ) / d**4
    bound = 1.2 * np.abs(sixth).max(axis=0) * (step / 2) ** 6 / 720 + 1e-13
    assert (error <= bound).all()
    assert error.max() > 1e-3 * bound.max()  # the bound is tight enough to mean something


def test_inputs_beyond_the_table_stay_finite_and_continuous(rng):
    layers = random_net(rng)
    table = tabulate(layers, "tanh", -1.0, 3.0, 6.0, 0.01, 0.1)
    lower, upper_ext = table.info[0], table.info[2]
    below = op_values(table, [lower - 5, lower - 1e-9, lower])[:, :, 0]
    above = op_values(table, [upper_ext, upper_ext + 1e-9, upper_ext + 1e3])[:, :, 0]
    assert np.isfinite(below).all() and np.isfinite(above).all()
    np.testing.assert_allclose(below[0], below[2], atol=1e-12)
    np.testing.assert_allclose(above[2], above[0], atol=1e-12)


def test_fused_op_gradients(rng):
    """Gradients in x and rows, and of the gradient in dy, against numerical ones."""
    table = tabulate(random_net(rng), "tanh", -1.0, 3.0, 6.0, 0.01, 0.1)
    x = rng.uniform(-0.9, 2.9, (3, 5))
    x[:, -2:] = x[:, -3:-2]  # padded slots repeat
    rows = rng.normal(size=(3, 5, 4))
    rows[:, -2:] = rows[:, -3:-2]
    with tf.Graph().as_default(), tf.compat.v1.Session():
        tx, tr = tf.constant(x), tf.constant(rows)
        out = ops.tabulate_fusion(table.coefficients, table.info, tx, tr)
        err = tf.compat.v1.test.compute_gradient_error(
            [tx, tr], [x.shape, rows.shape], out, (3, 16, 4), delta=1e-6
        )
        assert err < 1e-6
        dy = tf.constant(rng.normal(size=(3, 16, 4)))
        dx, drows = tf.gradients(
            ops.tabulate_fusion(table.coefficients, table.info, tx, tr), [tx, tr], dy
        )
        err = tf.compat.v1.test.compute_gradient_error(dy, (3, 16, 4), dx + 0 * tx, x.shape)
        err2 = tf.compat.v1.test.compute_gradient_error(dy, (3, 16, 4), drows, rows.shape)
        assert err < 1e-8 and err2 < 1e-8


def test_fused_op_by_blocks_matches_numpy_and_its_gradients(rng):
    """tabulate_fusion_blocks: each slot's G(x) (x) row summed into its block, against the
    per-slot values of the plain op; gradients in x and rows, and in dy; a block index out
    of range is one error, not a crash."""
    table = tabulate(random_net(rng), "tanh", -1.0, 3.0, 6.0, 0.01, 0.1)
    n, nnei, ncomp, nblocks = 3, 7, 8, 4
    x = rng.uniform(-0.9, 2.9, (n, nnei))
    x[:, -2:] = x[:, -3:-2]  # padded slots repeat ...
    rows = rng.normal(size=(n, nnei, ncomp))
    rows[:, -2:] = rows[:, -3:-2]
    block = rng.integers(0, nblocks, (n, nnei)).astype(np.int32)
    block[:, -1] = (block[:, -2] + 1) % nblocks  # ... but the last one in another block
    g = op_values(table, x.reshape(-1)).reshape(n, nnei, -1)  # G of every slot
    expected = np.zeros((n, g.shape[2], nblocks, ncomp))
    for i in range(n):
        for j in range(nnei):
            expected[i, :, block[i, j]] += np.outer(g[i, j], rows[i, j])
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        tx, tr = tf.constant(x), tf.constant(rows)
        out = ops.tabulate_fusion_blocks(table.coefficients, table.info, tx, tr, block, nblocks)
        np.testing.assert_allclose(
            sess.run(out), expected.reshape(n, -1, nblocks * ncomp), rtol=1e-12, atol=1e-12
        )
        shape = (n, g.shape[2], nblocks * ncomp)
        err = tf.compat.v1.test.compute_gradient_error(
            [tx, tr], [x.shape, rows.shape], out, shape, delta=1e-6
        )
        assert err < 1e-6
        dy = tf.constant(rng.normal(size=shape))
        dx, drows = tf.gradients(out, [tx, tr], dy)
        err = tf.compat.v1.test.compute_gradient_error(dy, shape, dx + 0 * tx, x.shape)
        err2 = tf.compat.v1.test.compute_gradient_error(dy, shape, drows, rows.shape)
        assert err < 1e-8 and err2 < 1e-8
        bad = block.copy()
        bad[1, 2] = nblocks
        wrong = ops.tabulate_fusion_blocks(table.coefficients, table.info, tx, tr, bad, nblocks)
        with pytest.raises(tf.errors.InvalidArgumentError, match="block index 4 outside 0..3"):
            sess.run(wrong)


# More keys of the model section, by case.
MODEL = {
    "a_type_embedding": {"type_embedding": {"neuron": [2, 4], "use_tebd_bias": True}},
    # the elements' electronic configurations as the type net's input (use_econf_tebd)
    "a_econf_one_side": {"type_embedding": {"neuron": [4], "use_econf_tebd": True, "seed": 2}},
}


@pytest.fixture(scope="module", params=list(DESCRIPTORS))
def models(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("compress")
    config, arrays, atype = frozen_alcu_model(
        root, DESCRIPTORS[request.param], steps=10, model=MODEL.get(request.param)
    )
    compress(root / "model.pb", root / "model-c.pb", log=lambda *a: None)
    return root, config, arrays, atype


def test_compressed_model_equals_original(models):
    root, _, arrays, atype = models
    original, compressed = DeepPot(root / "model.pb"), DeepPot(root / "model-c.pb")
    assert compressed.compressed and not original.compressed
    e0, f0, v0, ae0, av0 = original.eval(arrays["coord"], arrays["box"], atype, atomic=True)
    e1, f1, v1, ae1, av1 = compressed.eval(arrays["coord"], arrays["box"], atype, atomic=True)
    natoms = len(atype)
    assert np.abs(e1 - e0).max() / natoms <= 1e-10
    assert np.abs(f1 - f0).max() <= 1e-8
    assert np.abs(v1 - v0).max() / natoms <= 1e-10
    np.testing.assert_allclose(ae1, ae0, atol=1e-10)
    np.testing.assert_allclose(av1, av0, atol=1e-9)
    assert np.abs(f1 - f0).max() > 0  # really another graph


def test_float32_model_compresses(tmp_path):
    """Nets of precision float32 (descriptor and fitting): the tables are taken from their
    weights, and the compressed model agrees with the original to float32 round-off."""
    float32 = {"precision": "float32"}
    _, arrays, atype = frozen_alcu_model(
        tmp_path,
        {"neuron": [6, 12, 24], **float32},
        steps=10,
        model={"fitting_net": {"neuron": [8, 8], "seed": 2, **float32}},
    )
    compress(tmp_path / "model.pb", tmp_path / "model-c.pb", log=lambda *a: None)
    original, compressed = DeepPot(tmp_path / "model.pb"), DeepPot(tmp_path / "model-c.pb")
    assert compressed.compressed
    e0, f0, v0 = original.eval(arrays["coord"], arrays["box"], atype)
    e1, f1, v1 = compressed.eval(arrays["coord"], arrays["box"], atype)
    natoms = len(atype)
    assert np.abs(e1 - e0).max() / natoms <= 1e-5
    assert np.abs(f1 - f0).max() <= 1e-4 * max(1.0, np.abs(f0).max())
    assert np.abs(v1 - v0).max() / natoms <= 1e-4
    assert np.abs(f1 - f0).max() > 0


def test_sel_auto_is_resolved_per_part(models):
    """Every sel "auto" (a hybrid's parts each at their own cut-off) became the neighbour
    statistics' sel; the model's sel is the parts' in order."""
    root, config, _, _ = models
    given = config["model"]["descriptor"]
    dp = DeepPot(root / "model.pb")
    frozen = dp.train_input["model"]["descriptor"]
    kind = REGISTERED.get(given["type"])
    systems = expand_systems(str(root / "data"))
    sels = []
    for (_, part), (_, got) in zip(kind.neighbor_parts(given), kind.neighbor_parts(frozen)):
        blind = REGISTERED.get(part["type"]).type_blind  # se_atten: one sel, any type
        want = resolve_sel(part, systems, config["model"]["type_map"], mixed_type=blind)
        assert list(np.atleast_1d(got["sel"])) == want
        sels += want
    assert dp.sel == sels


def test_external_list_gives_the_periodic_result(models, rng):
    """The entry point of the C API and LAMMPS, original and compressed."""
    root, _, arrays, atype = models
    coord, box = arrays["coord"][0].reshape(-1, 3), arrays["box"][0].reshape(3, 3)
    for name in ("model.pb", "model-c.pb"):
        dp = DeepPot(root / name)
        e, f, v = dp.eval(coord[None], box[None], atype)
        frame = ghost_frame(coord, atype, box, dp.rcut + 0.5, rng=rng)
        ge, gf, gv = dp.eval_external(frame.coord, frame.atype, frame.nloc, frame.offsets,
                                      frame.neighbors)  # fmt: skip
        np.testing.assert_allclose(ge, e[0, 0], rtol=1e-12)
        np.testing.assert_allclose(frame.reduce(gf), f[0], rtol=1e-10, atol=1e-11)
        np.testing.assert_allclose(gv, v[0], rtol=1e-10, atol=1e-11)


def test_compressed_forces_and_virial_are_derivatives(models):
    root, _, arrays, atype = models
    coord, box = arrays["coord"][0].reshape(-1, 3), arrays["box"][0].reshape(3, 3)
    assert_deep_pot_derivatives(DeepPot(root / "model-c.pb"), coord, box, atype)


def test_compressed_model_is_invariant(models, rng):
    root, _, arrays, atype = models
    dp = DeepPot(root / "model-c.pb")
    coord, box = arrays["coord"][0].reshape(-1, 3), arrays["box"][0].reshape(3, 3)
    e, f, _ = dp.eval(coord[None], box.reshape(1, 9), atype)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    shift = rng.normal(size=3)
    er, fr, _ = dp.eval((coord @ q + shift)[None], (box @ q).reshape(1, 9), atype)
    np.testing.assert_allclose(er, e, rtol=1e-12)
    np.testing.assert_allclose(fr[0], f[0] @ q, atol=1e-10)
    perm = rng.permutation(len(atype))
    ep, fp, _ = dp.eval(coord[perm][None], box.reshape(1, 9), atype[perm])
    np.testing.assert_allclose(ep, e, rtol=1e-12)
    np.testing.assert_allclose(fp[0], f[0][perm], atol=1e-10)
    eimg, _, _ = dp.eval((coord + box[0])[None], box.reshape(1, 9), atype)
    np.testing.assert_allclose(eimg, e, rtol=1e-12)


def test_compress_cli_and_errors(models, tmp_path, capsys):
    root = models[0]
    out = tmp_path / "c.pb"
    assert main(["compress", "-i", str(root / "model.pb"), "-o", str(out), "--step", "0.02"]) == 0
    assert "wrote" in capsys.readouterr().out and out.exists()
    assert DeepPot(out).compressed
    assert main(["compress", "-i", str(root / "model-c.pb"), "-o", str(tmp_path / "x.pb")]) == 2
    assert "already compressed" in capsys.readouterr().err
    assert main(["compress", "-i", str(tmp_path / "none.pb")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["compress", "-i", str(root / "model.pb"), "--step", "-1"]) == 2
    assert main(["show", str(out)]) == 0
    assert "compressed" in capsys.readouterr().out


def test_test_command_and_ase_calculator_take_compressed_models(models, capsys):
    from ase import Atoms

    from deepkit.calculator import DeepKit

    root, _, arrays, atype = models
    assert main(["test", "-m", str(root / "model-c.pb"), "-s", str(root / "data")]) == 0
    assert "force" in capsys.readouterr().out.lower()
    atoms = Atoms(
        [["Al", "Cu"][t] for t in atype],
        positions=arrays["coord"][0].reshape(-1, 3),
        cell=arrays["box"][0].reshape(3, 3),
        pbc=True,
    )
    atoms.calc = DeepKit(str(root / "model-c.pb"))
    e, f, _ = DeepPot(root / "model.pb").eval(arrays["coord"][:1], arrays["box"][:1], atype)
    assert abs(atoms.get_potential_energy() - e[0, 0]) < 1e-9
    np.testing.assert_allclose(atoms.get_forces(), f[0], atol=1e-8)


def tight_model(root, path, check_frequency=-1):
    """A compressed model whose table ends below the inputs the data produce."""
    return compress(
        root / "model.pb",
        path,
        extrapolate=1.01,
        check_frequency=check_frequency,
        min_nbor_dist=50.0,
        log=lambda *a: None,
    )


def test_overflow_warns(models, tmp_path):
    """Atoms closer than the table reaches: a warning, finite results."""
    root, _, arrays, atype = models
    out = tight_model(root, tmp_path / "tight.pb")
    with pytest.warns(TableOverflowWarning):
        e, f, _ = DeepPot(out).eval(arrays["coord"][:1], arrays["box"][:1], atype)
    assert np.isfinite(e).all() and np.isfinite(f).all()


def test_fine_tune_compressed_model(models, tmp_path):
    """train --init-frz-model: the tables stay, the fitting net learns, forces train."""
    root, config, _, _ = models
    config = json.loads(json.dumps(config))
    config["training"]["numb_steps"] = 6
    config["training"]["disp_freq"] = 3
    Trainer(config, tmp_path / "ft", log=lambda *a: None).run(
        init_frz_model=str(root / "model-c.pb")
    )
    lcurve = np.loadtxt(tmp_path / "ft" / "lcurve.out", ndmin=2)
    assert lcurve[0, 0] == 0 and lcurve[-1, 0] == 6
    freeze(tmp_path / "ft", tmp_path / "ft.pb")
    tuned, before = DeepPot(tmp_path / "ft.pb"), DeepPot(root / "model-c.pb")
    assert tuned.compressed
    tables = [n for n in read_constants(tmp_path / "ft.pb") if n.endswith("/table")]
    assert tables
    for name in tables:
        np.testing.assert_array_equal(
            read_constants(tmp_path / "ft.pb")[name], read_constants(root / "model-c.pb")[name]
        )
    coord = np.random.default_rng(0).uniform(0, 8, (1, 12))
    assert tuned.eval(coord, None, [0, 1, 0, 1])[0] != before.eval(coord, None, [0, 1, 0, 1])[0]


def test_init_from_uncompressed_frozen_model(models, tmp_path):
    """--init-frz-model with an ordinary frozen model: step 0 reproduces its error."""
    root, config, _, _ = models
    config = json.loads(json.dumps(config))
    config["training"]["numb_steps"] = 2
    Trainer(config, tmp_path / "ft", log=lambda *a: None).run(init_frz_model=str(root / "model.pb"))
    Trainer(config, tmp_path / "cf", log=lambda *a: None).run(
        init_frz_model=str(root / "model-c.pb")
    )
    first = np.loadtxt(tmp_path / "ft" / "lcurve.out", ndmin=2)[0]
    first_c = np.loadtxt(tmp_path / "cf" / "lcurve.out", ndmin=2)[0]
    np.testing.assert_allclose(first_c[1:], first[1:], rtol=1e-8)


def test_fine_tuning_checks_the_table(models, tmp_path):
    """compress --check-frequency: fine-tuning warns when the batch leaves the table."""
    root, config, _, _ = models
    tight = tight_model(root, tmp_path / "tight.pb", check_frequency=1)
    config = json.loads(json.dumps(config))
    config["training"]["numb_steps"] = 2
    with pytest.warns(TableOverflowWarning):
        Trainer(config, tmp_path / "ft", log=lambda *a: None).run(init_frz_model=str(tight))
