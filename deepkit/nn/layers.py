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
__all__ = [
    "ACTIVATIONS",
    "PRECISIONS",
    "SeedSequence",
    "dense",
    "embedding_net",
    "fitting_net",
    "layer_norm",
    "net_seed",
]


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
    """Seeds of successive nets, laid out as DeePMD-kit lays them out, so that the same
    input seeds draw DeePMD-kit's initial weights: each layer takes three seeds (weights,
    bias, timestep) and a net of L layers moves the sequence on by 3 (L + 1). None stays
    None (TensorFlow then draws at random)."""

    def __init__(self, seed: int | None):
        self.seed = seed

    def net(self, nlayers: int) -> int | None:
        """The base seed of the next net of `nlayers` layers (embedding_net / fitting_net)."""
        return self.take(3 * (nlayers + 1))

    def take(self, count: int) -> int | None:
        """The next seed, then move on by `count`."""
        if self.seed is None:
            return None
        seed = self.seed
        self.seed += count
        return seed


def net_seed(seed: int | None, index: int, nlayers: int) -> int | None:
    """The base seed of the index-th of a row of nets of `nlayers` layers each."""
    return None if seed is None else seed + index * 3 * (nlayers + 1)


def _plus(seed: int | None, offset: int) -> int | None:
    return None if seed is None else seed + offset


def dense(x, width, name, seed, dtype, trainable=True, bias_mean=0.0, bias_std=1.0, use_bias=True):
    """x @ W + b with W ~ N(0, 1/sqrt(in + out)) drawn from `seed` and b ~ N(bias_mean,
    bias_std) from seed + 1 (no b without use_bias)."""
    fan_in = int(x.shape[-1])
    w = v1.get_variable(
        f"matrix_{name}",
        [fan_in, width],
        dtype,
        trainable=trainable,
        initializer=v1.random_normal_initializer(stddev=1.0 / np.sqrt(fan_in + width), seed=seed),
    )
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
        initializer=v1.random_normal_initializer(
            mean=bias_mean, stddev=bias_std, seed=_plus(seed, 1)
        ),
    )
    return tf.nn.bias_add(y, b)  # one pass, and a column sum back (AddV2 broadcasts)


def _timestep(y, name, seed, dtype, trainable, mean):
    # DeePMD-kit starts the embedding's timesteps at 1 and the fitting's at 0.1: a fitting
    # residual branch ten times too strong at the start trains measurably worse.
    idt = v1.get_variable(
        f"idt_{name}",
        [int(y.shape[-1])],
        dtype,
        trainable=trainable,
        initializer=v1.random_normal_initializer(mean=mean, stddev=0.001, seed=_plus(seed, 2)),
    )
    return y * idt


def embedding_net(x, neuron, activation, resnet_dt, seed, dtype, trainable, scope, use_bias=True):
    """(n, k) -> (n, neuron[-1]), k = 1 for a radial input. A layer whose width doubles
    adds [x, x], one of equal width adds x (DESIGN.md). Layer k draws from seed + 3 (k + 1)
    on (DeePMD-kit's embedding_net; `seed` from SeedSequence.net)."""
    act = ACTIVATIONS[activation]
    with v1.variable_scope(scope, reuse=v1.AUTO_REUSE):
        for k, width in enumerate(neuron):
            fan_in = int(x.shape[-1])
            layer_seed = _plus(seed, 3 * (k + 1))
            y = act(dense(x, width, str(k), layer_seed, dtype, trainable, use_bias=use_bias))
            if resnet_dt:
                y = _timestep(y, str(k), layer_seed, dtype, trainable, mean=1.0)
            if width == fan_in:
                x = x + y
            elif width == 2 * fan_in:
                # [x, x] + y as one broadcast add: no concat forward, and a sum of halves
                # back instead of two slices and an AddN (the same sums, bit for bit).
                halves = tf.reshape(y, [-1, 2, fan_in]) + tf.expand_dims(x, 1)
                x = tf.reshape(halves, [-1, width])
            else:
                x = y
    return x


def fitting_net(
    x, neuron, activation, resnet_dt, seed, dtype, trainable, bias, scope, nout=1, bias_std=1.0
):
    """(n, dim) -> (n,), or (n, nout) for nout > 1: hidden layers (residual where widths
    repeat), then a linear layer whose bias starts at N(bias, bias_std). Layer k draws from
    seed + 3 k on, the last layer from seed + 3 len(neuron) (DeePMD-kit's fitting; `seed`
    from SeedSequence.net). `trainable` may be per layer."""
    act = ACTIVATIONS[activation]
    layers_trainable = trainable if isinstance(trainable, list) else [trainable] * (len(neuron) + 1)
    with v1.variable_scope(scope, reuse=v1.AUTO_REUSE):
        for k, width in enumerate(neuron):
            layer_seed = _plus(seed, 3 * k)
            y = act(dense(x, width, str(k), layer_seed, dtype, layers_trainable[k]))
            if k > 0 and width == neuron[k - 1]:
                if resnet_dt:
                    y = _timestep(y, str(k), layer_seed, dtype, layers_trainable[k], mean=0.1)
                x = x + y
            else:
                x = y
        out = dense(
            x,
            nout,
            "final",
            _plus(seed, 3 * len(neuron)),
            dtype,
            layers_trainable[-1],
            bias_mean=bias,
            bias_std=bias_std,
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
