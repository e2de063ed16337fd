"""Learning-rate schedule "exp" (DeePMD-kit): start_lr * decay_rate^floor(step / decay_steps),
decay_rate chosen so that the rate reaches stop_lr at numb_steps."""

from __future__ import annotations

import numpy as np

from deepkit.tfenv import tf


def decay_rate(start_lr: float, stop_lr: float, decay_steps: int, numb_steps: int) -> float:
    """The factor per decay_steps that takes start_lr to stop_lr at numb_steps."""
    decay_steps = min(decay_steps, numb_steps)
    return float(np.exp(np.log(stop_lr / start_lr) / (numb_steps / decay_steps)))


def exp_learning_rate(step, params: dict, numb_steps: int, scale: float = 1.0):
    """The rate as a tensor of the global step; `scale` multiplies it (data-parallel workers)."""
    decay_steps = min(params["decay_steps"], numb_steps)
    rate = decay_rate(params["start_lr"], params["stop_lr"], decay_steps, numb_steps)
    exponent = tf.floor(tf.cast(step, tf.float64) / decay_steps)
    return scale * params["start_lr"] * tf.pow(tf.constant(rate, tf.float64), exponent)


def lr_at(step: int, params: dict, numb_steps: int, scale: float = 1.0) -> float:
    """The same schedule in numpy."""
    decay_steps = min(params["decay_steps"], numb_steps)
    rate = decay_rate(params["start_lr"], params["stop_lr"], decay_steps, numb_steps)
    return scale * params["start_lr"] * rate ** (step // decay_steps)
