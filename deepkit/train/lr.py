"""Learning-rate schedule "exp" (DeePMD-kit): start_lr * decay_rate^floor(step / decay_steps),
decay_rate chosen so that the rate reaches stop_lr at numb_steps.

As DeePMD-kit does, a decay_steps that is not below numb_steps (common when numb_steps of an
example is shortened) is replaced by 100 steps, or by numb_steps // 100 + 1 when numb_steps
is at most 1,009 steps, so the rate still decays from start_lr to stop_lr."""

from __future__ import annotations

import numpy as np

from deepkit.tfenv import tf


def effective_decay_steps(decay_steps: int, numb_steps: int) -> int:
    """decay_steps, or DeePMD-kit's replacement when it is not below numb_steps."""
    if decay_steps < numb_steps:
        return decay_steps
    return 100 if numb_steps // 10 > 100 else numb_steps // 100 + 1


def decay_rate(start_lr: float, stop_lr: float, decay_steps: int, numb_steps: int) -> float:
    """The factor per decay_steps that takes start_lr to stop_lr at numb_steps."""
    decay_steps = effective_decay_steps(decay_steps, numb_steps)
    return float(np.exp(np.log(stop_lr / start_lr) / (numb_steps / decay_steps)))


def exp_learning_rate(step, params: dict, numb_steps: int, scale: float = 1.0):
    """The rate as a tensor of the global step; `scale` multiplies it (data-parallel workers)."""
    decay_steps = effective_decay_steps(params["decay_steps"], numb_steps)
    rate = decay_rate(params["start_lr"], params["stop_lr"], decay_steps, numb_steps)
    exponent = tf.floor(tf.cast(step, tf.float64) / decay_steps)
    return scale * params["start_lr"] * tf.pow(tf.constant(rate, tf.float64), exponent)


def lr_at(step: int, params: dict, numb_steps: int, scale: float = 1.0) -> float:
    """The same schedule in numpy."""
    decay_steps = effective_decay_steps(params["decay_steps"], numb_steps)
    rate = decay_rate(params["start_lr"], params["stop_lr"], decay_steps, numb_steps)
    return scale * params["start_lr"] * rate ** (step // decay_steps)


def schedule_message(params: dict, numb_steps: int, step: int, scale: float = 1.0) -> str:
    """DeePMD-kit's line at the start of training, with what deepkit changed said after it."""
    decay_steps = effective_decay_steps(params["decay_steps"], numb_steps)
    rate = decay_rate(params["start_lr"], params["stop_lr"], decay_steps, numb_steps)
    lr, final = lr_at(step, params, numb_steps, scale), lr_at(numb_steps, params, numb_steps, scale)
    message = (
        f"start training at lr {lr:.2e} (== {lr:.2e}), decay_step {decay_steps}, "
        f"decay_rate {rate:f}, final lr will be {final:.2e}"
    )
    if decay_steps != params["decay_steps"]:
        message += (
            f" (learning_rate.decay_steps {params['decay_steps']} is not below numb_steps "
            f"{numb_steps}: {decay_steps} is used, as DeePMD-kit does)"
        )
    return message
