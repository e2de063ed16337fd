"""`deepkit train`: lcurve, checkpoints, restart, init-model, reproducibility, Ctrl-C, and a
short run on the water data that must learn."""

import json

import numpy as np
import pytest
from models import alcu_config as config_for
from models import water_config
from systems import shared_data

from deepkit.config import normalize
from deepkit.train.trainer import Trainer


def lcurve(path):
    return np.loadtxt(path, ndmin=2)


def run(config, out, **kwargs):
    Trainer(config, out, log=lambda *a: None).run(**kwargs)


def test_training_writes_lcurve_checkpoints_and_input(emt_data, tmp_path):
    run(config_for(emt_data), tmp_path)
    header = (tmp_path / "lcurve.out").read_text().splitlines()[0].split()
    assert header == [
        "#",
        "step",
        "rmse_val",
        "rmse_trn",
        "rmse_e_val",
        "rmse_e_trn",
        "rmse_f_val",
        "rmse_f_trn",
        "rmse_v_val",
        "rmse_v_trn",
        "lr",
    ]
    rows = lcurve(tmp_path / "lcurve.out")
    assert rows[:, 0].tolist() == [0, 5, 10, 15, 20]
    # decay_steps 20 is not below numb_steps 20: DeePMD-kit's rule decays every step
    np.testing.assert_allclose(
        rows[:, -1], [1e-3 * 0.01 ** (s / 20) for s in rows[:, 0]], rtol=0.05
    )
    assert (tmp_path / "model.ckpt-10.index").exists() and (
        tmp_path / "model.ckpt-20.index"
    ).exists()
    saved = json.loads((tmp_path / "out.json").read_text())
    assert isinstance(saved["model"]["descriptor"]["sel"], list)
    assert normalize(saved) == saved  # the written input is itself a valid input


def test_same_seed_same_lcurve(emt_data, tmp_path):
    run(config_for(emt_data, numb_steps=10), tmp_path / "a")
    run(config_for(emt_data, numb_steps=10), tmp_path / "b")
    np.testing.assert_array_equal(
        lcurve(tmp_path / "a" / "lcurve.out"), lcurve(tmp_path / "b" / "lcurve.out")
    )


def test_restart_continues_step_and_learning_rate(emt_data, tmp_path):
    run(config_for(emt_data, numb_steps=10), tmp_path)
    run(config_for(emt_data, numb_steps=20), tmp_path, restart=str(tmp_path))
    text = (tmp_path / "lcurve.out").read_text()
    assert text.count("#") == 1
    rows = lcurve(tmp_path / "lcurve.out")
    assert rows[:, 0].tolist() == [0, 5, 10, 15, 20]
    assert (tmp_path / "model.ckpt-20.index").exists()


def test_init_model_starts_from_trained_weights(emt_data, tmp_path):
    import tensorflow as tf

    run(config_for(emt_data, numb_steps=20), tmp_path / "a")
    frozen_lr = {"start_lr": 1e-14, "stop_lr": 1e-15}
    config = config_for(emt_data, numb_steps=5)
    config["learning_rate"].update(frozen_lr)
    run(config, tmp_path / "b", init_model=str(tmp_path / "a"))
    a, b = tmp_path / "a" / "model.ckpt-20", tmp_path / "b" / "model.ckpt-5"
    for name in ("filter_type_0_1/matrix_1", "fitting_type_1/matrix_final", "descrpt_attr/t_std"):
        np.testing.assert_allclose(
            tf.train.load_variable(str(b), name), tf.train.load_variable(str(a), name), rtol=1e-9
        )
    assert tf.train.load_variable(str(b), "global_step") == 5


def test_water_training_lowers_validation_force_error(tmp_path):
    water = shared_data("water")
    validation = {"systems": [str(water / "data_3")], "batch_size": 1, "numb_btch": 10}
    config = water_config(
        water,
        [16, 32],
        8,
        [64, 64],
        300,
        validation,
        learning_rate={"start_lr": 1e-3, "stop_lr": 5e-4, "decay_steps": 100},
    )
    run(config, tmp_path)
    rows = lcurve(tmp_path / "lcurve.out")
    force_val = rows[:, 5]
    assert force_val[-1] < 0.7 * force_val[0], rows


def test_training_with_frame_parameters(emt_data, tmp_path):
    import shutil

    from deepkit.errors import InputError

    data = tmp_path / "data"
    shutil.copytree(emt_data, data)
    config = config_for(data, numb_steps=5)
    config["model"]["fitting_net"]["numb_fparam"] = 1
    with pytest.raises(
        InputError, match=r"no fparam\.npy, but model\.fitting_net\.numb_fparam = 1"
    ):
        run(config, tmp_path / "missing")
    for set_dir in data.glob("*/set.*"):
        nframes = len(np.load(set_dir / "coord.npy"))
        np.save(set_dir / "fparam.npy", np.linspace(300, 600, nframes)[:, None])
    run(config, tmp_path / "out")
    assert lcurve(tmp_path / "out" / "lcurve.out")[-1, 0] == 5


def test_trainer_leaves_the_given_config_alone(emt_data, tmp_path):
    config = config_for(emt_data, numb_steps=2, disp_freq=2, save_freq=2)
    before = json.dumps(config, sort_keys=True)
    trainer = Trainer(config, tmp_path, log=lambda *a: None)
    trainer.run()
    assert json.dumps(config, sort_keys=True) == before  # sel stays "auto" there
    assert isinstance(trainer.config["model"]["descriptor"]["sel"], list)


def test_tensorboard_and_profiling_hooks_write_their_files(emt_data, tmp_path):
    from deepkit.tfenv import tf

    config = config_for(
        emt_data,
        numb_steps=4,
        disp_freq=2,
        save_freq=4,
        tensorboard=True,
        tensorboard_freq=2,
        profiling=True,
    )
    run(config, tmp_path)
    scalars: dict[str, list[int]] = {}
    for path in (tmp_path / "log").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                assert np.isfinite(value.simple_value)
                scalars.setdefault(value.tag, []).append(event.step)
    assert scalars["train/rmse_f"] == [2, 4] and scalars["train/lr"] == [2, 4]
    assert set(scalars) == {
        "train/rmse",
        "train/rmse_e",
        "train/rmse_f",
        "train/rmse_v",
        "train/lr",
    }
    trace = json.loads((tmp_path / "timeline.json").read_text())
    ops = {event.get("args", {}).get("op") for event in trace["traceEvents"]}
    assert "DkProdForce" in ops and "DkEnvMat" in ops  # one traced training step


def dp_schedule(start_lr, stop_lr, decay_steps, numb_steps, step):
    """DeePMD-kit 3.2's LearningRateExp (TensorFlow backend), written from its docs."""
    default = 100 if numb_steps // 10 > 100 else numb_steps // 100 + 1
    if decay_steps >= numb_steps:
        decay_steps = default
    rate = np.exp(np.log(stop_lr / start_lr) / (numb_steps / decay_steps))
    return start_lr * rate ** (step // decay_steps), decay_steps


@pytest.mark.parametrize(
    "decay_steps, numb_steps", [(50, 300), (300, 300), (5000, 300), (5000, 20000), (20, 5)]
)
def test_learning_rate_follows_deepmd_kit(decay_steps, numb_steps):
    from deepkit.train.lr import effective_decay_steps, lr_at, schedule_message

    params = {"start_lr": 1e-3, "stop_lr": 3.51e-8, "decay_steps": decay_steps}
    for step in range(0, numb_steps + 1, max(1, numb_steps // 37)):
        expected, used = dp_schedule(1e-3, 3.51e-8, decay_steps, numb_steps, step)
        assert lr_at(step, params, numb_steps) == pytest.approx(expected, rel=1e-12)
    assert effective_decay_steps(decay_steps, numb_steps) == used
    assert lr_at(numb_steps, params, numb_steps) == pytest.approx(3.51e-8, rel=1e-9)
    message = schedule_message(params, numb_steps, 0)
    assert message.startswith(f"start training at lr 1.00e-03 (== 1.00e-03), decay_step {used},")
    assert ("as DeePMD-kit does" in message) == (decay_steps >= numb_steps)
