"""Frozen models of the previous release (deepkit 0.3.0, tests/data/v0.3.0) load and give the
results they gave then, through DeepPot, the C API, `deepkit show` and `deepkit compress`."""

from pathlib import Path

import numpy as np
import pytest
from test_capi import assert_close, outputs, run_driver, write_case

from deepkit.cli import main
from deepkit.infer import DeepPot

OLD = Path(__file__).resolve().parent / "data" / "v0.3.0"
MODELS = ["se_e2_a", "se_e2_a-compressed", "se_e2_r"]
KEYS = ("energy", "force", "virial", "atom_energy", "atom_virial")


def frames():
    data = np.load(OLD / "frames.npz")
    return data["coord"], data["box"], data["atype"]


@pytest.mark.parametrize("name", MODELS)
def test_deep_pot_gives_the_results_of_0_3_0(name):
    dp = DeepPot(OLD / f"{name}.pb")
    assert (dp.version, dp.model_type, dp.type_map) == ("0.3.0", "ener", ["Al", "Cu"])
    assert dp.compressed == name.endswith("compressed")
    expected = np.load(OLD / f"{name}.expected.npz")
    coord, box, atype = frames()
    for key, value in zip(KEYS, dp.eval(coord, box, atype, atomic=True), strict=True):
        np.testing.assert_allclose(value, expected[key], rtol=1e-10, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("name", MODELS)
def test_c_api_gives_the_results_of_0_3_0(driver, tmp_path, name):
    coord, box, atype = frames()
    folder = write_case(tmp_path / "case", coord, atype, box)
    result = run_driver(driver, OLD / f"{name}.pb", folder, "compute")
    assert "type_map Al Cu" in result.stdout and result.stderr == ""
    expected = np.load(OLD / f"{name}.expected.npz")
    for key, value in outputs(folder).items():
        assert_close(value, expected[key].ravel())


def test_show_and_compress_take_a_0_3_0_model(tmp_path, capsys):
    assert main(["show", str(OLD / "se_e2_a.pb")]) == 0
    shown = capsys.readouterr().out
    assert "model type: ener" in shown and "deepkit version: 0.3.0" in shown
    compressed = tmp_path / "c.pb"
    assert main(["compress", "-i", str(OLD / "se_e2_a.pb"), "-o", str(compressed)]) == 0
    dp = DeepPot(compressed)
    assert dp.compressed and dp.version != "0.3.0"
    expected = np.load(OLD / "se_e2_a.expected.npz")
    coord, box, atype = frames()
    energy, force, _ = dp.eval(coord, box, atype)
    np.testing.assert_allclose(energy, expected["energy"], rtol=1e-9)
    np.testing.assert_allclose(force, expected["force"], atol=1e-8)
