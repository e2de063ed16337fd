"""The input schema: DeePMD-kit inputs validate unchanged; errors name the key."""

import copy
import json

import pytest
import yaml
from systems import shared_data

from deepkit.config import doc_markdown, load_input, normalize, read_input
from deepkit.errors import InputError


@pytest.fixture
def water_input():
    return read_input(shared_data("water_se_e2_a.json"))


def test_deepmd_water_input_validates_as_it_is(water_input):
    config = load_input(shared_data("water_se_e2_a.json"))
    descriptor = config["model"]["descriptor"]
    assert descriptor["type"] == "se_e2_a" and descriptor["sel"] == [46, 92]
    assert descriptor["axis_neuron"] == 16 and descriptor["exclude_types"] == []
    assert config["model"]["fitting_net"]["type"] == "ener"
    assert config["learning_rate"]["scale_by_worker"] == "linear"
    assert config["training"]["validation_data"]["numb_btch"] == 3
    assert config["training"]["max_ckpt_keep"] == 5 and config["loss"]["start_pref_v"] == 0.0
    assert "_comment" not in descriptor and "_comment" not in config
    assert isinstance(config["loss"]["limit_pref_e"], float)


def test_yaml_and_json_give_the_same_config(tmp_path, water_input):
    (tmp_path / "input.yaml").write_text(yaml.safe_dump(water_input))
    assert load_input(tmp_path / "input.yaml") == load_input(shared_data("water_se_e2_a.json"))


def test_aliases_and_defaults(water_input):
    raw = copy.deepcopy(water_input)
    raw["model"]["descriptor"] = {"type": "se_a", "sel": [10, 20], "n_axis_neuron": 8}
    raw["training"]["stop_batch"] = raw["training"].pop("numb_steps")
    config = normalize(raw)
    assert config["model"]["descriptor"]["type"] == "se_e2_a"
    assert config["model"]["descriptor"]["axis_neuron"] == 8
    assert config["model"]["descriptor"]["neuron"] == [10, 20, 40]
    assert config["training"]["numb_steps"] == 1000000


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda r: r["model"]["descriptor"].update(rcutt=5.0),
            r"model\.descriptor\.rcutt: unknown key; did you mean 'rcut'\?",
        ),
        (
            lambda r: r["training"].update(mixed_precision={}),
            r"training\.mixed_precision: DeePMD-kit's key 'mixed_precision' is not supported by deepkit yet",
        ),
        (
            lambda r: r["model"]["descriptor"].update(type="dpa2"),
            r"model\.descriptor\.type: DeePMD-kit's 'dpa2' is not supported by deepkit yet",
        ),
        (
            lambda r: r["model"]["descriptor"].update(type="se_e2"),
            r"model\.descriptor\.type: unknown value 'se_e2'",
        ),
        (
            lambda r: r["loss"].update(start_pref_f="x"),
            r"loss\.start_pref_f: expected float, got 'x'",
        ),
        (
            lambda r: r["model"]["descriptor"].update(neuron=[10, -1]),
            r"model\.descriptor\.neuron: every width must be in 1 \.\. 16,384",
        ),
        (
            lambda r: r["model"]["descriptor"].update(sel=[1, 2, 3]),
            r"model\.descriptor\.sel: 3 entries for 2 types",
        ),
        (
            lambda r: r["model"]["descriptor"].update(rcut_smth=6.5),
            r"model\.descriptor\.rcut_smth: must be smaller than rcut",
        ),
        (lambda r: r["training"].pop("numb_steps"), r"training\.numb_steps: required key missing"),
        (
            lambda r: r["training"]["training_data"].update(batch_size="auto:x"),
            r"training\.training_data\.batch_size: must be",
        ),
        (
            lambda r: r["training"]["training_data"].update(auto_prob="prob_size"),
            r"training\.training_data\.auto_prob: must be",
        ),
        (
            lambda r: r["model"]["descriptor"].update(sel="auto:-1"),
            r"model\.descriptor\.sel: the auto:FACTOR factor must be positive",
        ),
    ],
)
def test_bad_keys_are_named_with_their_path(water_input, change, message):
    raw = copy.deepcopy(water_input)
    change(raw)
    with pytest.raises(InputError, match=message):
        normalize(raw)


def test_syntax_errors_name_file_and_line(tmp_path):
    (tmp_path / "bad.json").write_text(
        '{\n  "model": {\n    "type_map": ["O"]\n    "x": 1\n  }\n}\n'
    )
    with pytest.raises(InputError, match=r"bad\.json:4: JSON syntax error"):
        read_input(tmp_path / "bad.json")
    (tmp_path / "bad.yaml").write_text("model:\n  type_map: [O, H\ntraining: {}\n")
    with pytest.raises(InputError, match=r"bad\.yaml:3: YAML syntax error"):
        read_input(tmp_path / "bad.yaml")
    with pytest.raises(InputError, match="cannot read the input file"):
        read_input(tmp_path / "missing.json")


def test_schema_errors_name_the_file(tmp_path, water_input):
    raw = copy.deepcopy(water_input)
    raw["loss"]["bogus"] = 1
    (tmp_path / "input.json").write_text(json.dumps(raw))
    with pytest.raises(InputError, match=r"input\.json: loss\.bogus: unknown key"):
        load_input(tmp_path / "input.json")


def test_doc_lists_every_key():
    doc = doc_markdown()
    for key in (
        "model.descriptor.rcut_smth",
        "model.fitting_net.numb_fparam",
        "learning_rate.stop_lr",
        "loss.start_pref_v",
        "training.training_data.auto_prob",
        "training.max_ckpt_keep",
        "se_e2_r",
    ):
        assert key in doc
