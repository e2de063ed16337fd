"""Dense layers, the residual embedding net and the fitting net (tf.compat.v1 variables)."""

from __future__ import annotations

import numpy as np

from deepkit import ops
from deepkit.config.choices import ACTIVATION_NAMES, PRECISIONS
from deepkit.tfenv import tf, v1

# By input name; TensorFlow is looked up when a net is built, not when the schema is read.
ACTIVATIONS = {
    "tanh": lambda x: tf.nn.tanh(x),
    "gelu": lambda x: tf.nn.gelu(x, approximate=True),
    "gelu_tf": lambda x: tf.nn.gelu(x, approximate=False),
    "relu": lambda x: tf.nn.relu(x),
    "relu6": lambda x: tf.nn.relu6(x),
    "softplus": lambda x: tf.nn.softplus(x),
    "sigmoid": lambda x: tf.nn.sigmoid(x),
    "linear": lambda x: tf.identity(x),
    "none": lambda x: tf.identity(x),
}
assert tuple(ACTIVATIONS) == ACTIVATION_NAMES, "config.choices lists the activations above"
__all__ = ["ACTIVATIONS", "PRECISIONS", "dense", "embedding_net", "fitting_net", "layer_norm"]


def precision_dtype(precision: str):
    """The TensorFlow dtype of an input's `precision` key."""
    return getattr(tf, PRECISIONS[precision])


def constant_variable(name: str, value):
    """A non-trainable float64 variable holding `value` (statistics, tables): kept in
    checkpoints, folded into a constant by freeze, shared when a scope is built again."""
    return v1.get_variable(
        name, initializer=tf.constant(value, tf.float64), dtype=tf.float64, trainable=False
    )


class SeedSequence:
    """Seeds for successive layers: None stays None, an int counts up (DeePMD-kit style)."""

    def __init__(self, seed: int | None):
        self.seed = seed

    def next(self) -> int | None:
        if self.seed is None:
            return None
        self.seed += 1
        return self.seed


def dense(x, width, name, seeds, dtype, trainable=True, bias_mean=0.0, bias_std=1.0, use_bias=True):
    """x @ W + b with W ~ N(0, 1/sqrt(in + out)) and b ~ N(bias_mean, bias_std) (no b
    without use_bias)."""
    fan_in = int(x.shape[-1])
    w = v1.get_variable(
        f"matrix_{name}",
        [fan_in, width],
        dtype,
        trainable=trainable,
        initializer=v1.random_normal_initializer(
            stddev=1.0 / np.sqrt(fan_in + width), seed=seeds.next()
        ),
    )
    seed = seeds.next()  # drawn either way: the seeds of later layers stay the same
    if fan_in == 1:  # the embedding's first layer: an outer product, cheaper than a matmul
        y = x * w[0]
    else:
        y = ops.matmul(x, w)
    if not use_bias:
        return y
    b = v1.get_variable(
        f"bias_{name}",
        [width],
        dtype,
        trainable=trainable,
        initializer=v1.random_normal_initializer(mean=bias_mean, stddev=bias_std, seed=seed),
    )
    return y + b


def _timestep(y, name, seeds, dtype, trainable, mean):
    # DeePMD-kit starts the embedding's timesteps at 1 and the fitting's at 0.1: a fitting
    # residual branch ten times too strong at the start trains measurably worse.
    idt = v1.get_variable(
        f"idt_{name}",
        [int(y.shape[-1])],
        dtype,
        trainable=trainable,
        initializer=v1.random_normal_initializer(mean=mean, stddev=0.001, seed=seeds.next()),
    )
    return y * idt


def embedding_net(x, neuron, activation, resnet_dt, seeds, dtype, trainable, scope, use_bias=True):
    """(n, k) -> (n, neuron[-1]), k = 1 for a radial input. A layer whose width doubles
    adds [x, x], one of equal width adds x (DESIGN.md)."""
    act = ACTIVATIONS[activation]
    with v1.variable_scope(scope, reuse=v1.AUTO_REUSE):
        for k, width in enumerate(neuron):
            fan_in = int(x.shape[-1])
            y = act(dense(x, width, str(k), seeds, dtype, trainable, use_bias=use_bias))
            if resnet_dt:
                y = _timestep(y, str(k), seeds, dtype, trainable, mean=1.0)
            if width == fan_in:
                x = x + y
            elif width == 2 * fan_in:
                x = tf.concat([x, x], axis=1) + y
            else:
                x = y
    return x


def fitting_net(
    x, neuron, activation, resnet_dt, seeds, dtype, trainable, bias, scope, nout=1, bias_std=0.0
):
    """(n, dim) -> (n,), or (n, nout) for nout > 1: hidden layers (residual where widths
    repeat), then a linear layer whose bias starts at `bias` (the type's energy bias).
    `trainable` may be per layer."""
    act = ACTIVATIONS[activation]
    layers_trainable = trainable if isinstance(trainable, list) else [trainable] * (len(neuron) + 1)
    with v1.variable_scope(scope, reuse=v1.AUTO_REUSE):
        for k, width in enumerate(neuron):
            y = act(dense(x, width, str(k), seeds, dtype, layers_trainable[k]))
            if k > 0 and width == neuron[k - 1]:
                if resnet_dt:
                    y = _timestep(y, str(k), seeds, dtype, layers_trainable[k], mean=0.1)
                x = x + y
            else:
                x = y
        out = dense(
            x, nout, "final", seeds, dtype, layers_trainable[-1], bias_mean=bias, bias_std=bias_std
        )
    return tf.reshape(out, [-1] if nout == 1 else [-1, nout])


def layer_norm(x, width, name, dtype, trainable, eps):
    """(x - mean) / sqrt(var + eps) * gamma + beta over the last axis; gamma starts at one
    and beta at zero (DeePMD-kit's layernorm)."""
    with v1.variable_scope(name, reuse=v1.AUTO_REUSE):
        gamma = v1.get_variable(
            "gamma", [width], dtype, initializer=v1.ones_initializer(), trainable=trainable
        )
        beta = v1.get_variable(
            "beta", [width], dtype, initializer=v1.zeros_initializer(), trainable=trainable
        )
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + eps) * gamma + beta
