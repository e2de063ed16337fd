"""Small model inputs for tests."""

import copy

from deepkit.config import normalize
from deepkit.registry import DESCRIPTORS

BASE = {
    "model": {
        "type_map": ["O", "H"],
        "descriptor": {
            "type": "se_e2_a",
            "sel": [20, 20],
            "rcut": 4.0,
            "rcut_smth": 1.0,
            "neuron": [4, 8],
            "axis_neuron": 2,
            "seed": 1,
        },
        "fitting_net": {"neuron": [8, 8], "seed": 2},
    },
    "learning_rate": {"start_lr": 1e-3, "stop_lr": 1e-5, "decay_steps": 20},
    "loss": {
        "start_pref_e": 0.2,
        "limit_pref_e": 1,
        "start_pref_f": 100,
        "limit_pref_f": 1,
        "start_pref_v": 0.1,
        "limit_pref_v": 0.1,
    },
    "training": {
        "training_data": {"systems": ["data"], "batch_size": 2},
        "numb_steps": 20,
        "seed": 3,
        "disp_freq": 5,
        "save_freq": 10,
    },
}


def small_config(descriptor=None, fitting=None, training=None, **sections) -> dict:
    """BASE with the descriptor keys given laid over its se_e2_a keys; keys the chosen
    descriptor type lacks (axis_neuron for se_e2_r, all but `list` for a hybrid) drop."""
    raw = copy.deepcopy(BASE)
    raw["model"]["descriptor"].update(descriptor or {})
    keys = DESCRIPTORS.get(raw["model"]["descriptor"]["type"]).schema.args
    known = {"type"} | {name for arg in keys for name in (arg.name, *arg.alias)}
    for key in set(raw["model"]["descriptor"]) - known:
        raw["model"]["descriptor"].pop(key)
    raw["model"]["fitting_net"].update(fitting or {})
    raw["training"].update(training or {})
    for key, value in sections.items():
        raw[key].update(value)
    return normalize(raw)


def water_config(water, neuron, axis_neuron, fitting, steps, validation=None, **sections) -> dict:
    """A small se_e2_a model on the shared water data (DeePMD-kit's cut-offs, sel and loss
    prefactors, no virial), trained on data_0 for `steps` steps."""
    training = {
        "training_data": {"systems": [str(water / "data_0")], "batch_size": 1},
        "numb_steps": steps,
        "disp_freq": steps,
        "save_freq": steps,
    }
    if validation is not None:
        training["validation_data"] = validation
    return small_config(
        {
            "sel": [46, 92],
            "rcut": 6.0,
            "rcut_smth": 0.5,
            "neuron": neuron,
            "axis_neuron": axis_neuron,
            "type_one_side": True,
        },
        {"neuron": fitting},
        training=training,
        loss={"start_pref_e": 0.02, "start_pref_f": 1000, "start_pref_v": 0.0, "limit_pref_v": 0.0},
        **sections,
    )


def alcu_config(data, **training) -> dict:
    """A small se_e2_a model (sel auto, rcut 4.5) over an Al-Cu system, validated on it."""
    config = small_config(
        {"sel": "auto", "rcut": 4.5},
        training={
            "training_data": {"systems": [str(data)], "batch_size": 2},
            "validation_data": {"systems": [str(data)], "batch_size": 2, "numb_btch": 2},
            **training,
        },
    )
    config["model"]["type_map"] = ["Al", "Cu"]
    return config


def frozen_alcu_model(root, descriptor=None, steps=5, model=None):
    """Six EMT Al-Cu frames as a npy system under root/data, a small model trained on them
    for `steps` steps (root/run) and frozen to root/model.pb; `model`: more keys of the
    model section (a type_embedding). Returns (config, arrays of the first set, atype)."""
    import ase.io
    import numpy as np
    from datasets import emt_frames

    from deepkit.data import expand_systems
    from deepkit.data.convert import convert
    from deepkit.train.freeze import freeze
    from deepkit.train.trainer import Trainer

    ase.io.write(root / "frames.xyz", emt_frames(np.random.default_rng(1), 6), format="extxyz")
    convert([str(root / "frames.xyz")], root / "data", "npy", type_map=["Al", "Cu"])
    config = small_config(
        {"sel": [24, 24], "rcut": 4.5, **(descriptor or {})},
        training={
            "training_data": {"systems": [str(root / "data")]},
            "numb_steps": steps,
            "save_freq": steps,
        },
        model=model or {},
    )
    config["model"]["type_map"] = ["Al", "Cu"]
    Trainer(config, root / "run", log=lambda *a: None).run()
    freeze(root / "run", root / "model.pb")
    (system,) = expand_systems(str(root / "data"))
    return config, system.load_set(0).arrays, system.atype
