"""Tabulating an embedding net: its value and first two derivatives at the nodes of a grid,
and per interval the quintic that matches them at both ends (so the table's value, first and
second derivative are continuous)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _tanh(z):
    y = np.tanh(z)
    d1 = 1.0 - y * y
    return y, d1, -2.0 * y * d1


def _sigmoid(z):
    y = np.exp(-np.logaddexp(0.0, -z))  # 1 / (1 + e^-z) without overflow
    d1 = y * (1.0 - y)
    return y, d1, d1 * (1.0 - 2.0 * y)


def _softplus(z):
    y = np.logaddexp(0.0, z)
    s, d1, _ = _sigmoid(z)
    return y, s, d1


def _relu(z):
    return np.maximum(z, 0.0), (z > 0).astype(float), np.zeros_like(z)


def _relu6(z):
    return np.clip(z, 0.0, 6.0), ((z > 0) & (z < 6)).astype(float), np.zeros_like(z)


def _gelu(z):
    """tf.nn.gelu(approximate=True): 0.5 z (1 + tanh(c (z + a z^3)))."""
    c, a = math.sqrt(2.0 / math.pi), 0.044715
    u, du, d2u = c * (z + a * z**3), c * (1.0 + 3.0 * a * z * z), 6.0 * a * c * z
    t = np.tanh(u)
    sech2 = 1.0 - t * t
    y = 0.5 * z * (1.0 + t)
    d1 = 0.5 * (1.0 + t) + 0.5 * z * sech2 * du
    d2 = sech2 * du + 0.5 * z * (-2.0 * t * sech2 * du * du + sech2 * d2u)
    return y, d1, d2


def _gelu_erf(z):
    """tf.nn.gelu(approximate=False): z Phi(z)."""
    phi = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    cdf = 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))
    return z * cdf, cdf + z * phi, 2.0 * phi - z * z * phi


def _linear(z):
    return z, np.ones_like(z), np.zeros_like(z)


# activation -> (value, first derivative, second derivative)
ACTIVATION_DERIVATIVES = {
    "tanh": _tanh,
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "relu": _relu,
    "relu6": _relu6,
    "gelu": _gelu,
    "gelu_tf": _gelu_erf,
    "linear": _linear,
    "none": _linear,
}


@dataclass
class Layer:
    """One dense layer of an embedding net, read from a frozen model."""

    matrix: np.ndarray  # (fan_in, width)
    bias: np.ndarray  # (width,)
    idt: np.ndarray | None  # (width,) with resnet_dt


def layers_of(consts: dict, scope: str, nlayers: int, resnet_dt: bool) -> list[Layer]:
    """The embedding net under `scope` from a frozen model's constants (by variable name)."""
    return [
        Layer(
            consts[f"{scope}/matrix_{k}"],
            consts[f"{scope}/bias_{k}"],
            consts[f"{scope}/idt_{k}"] if resnet_dt else None,
        )
        for k in range(nlayers)
    ]


def net_with_derivatives(layers: list[Layer], activation: str, x: np.ndarray):
    """The embedding net of deepkit.nn.layers.embedding_net at inputs x (n,), with its first
    and second derivative in x: three (n, width) arrays."""
    act = ACTIVATION_DERIVATIVES[activation]
    y = x.reshape(-1, 1).astype(np.float64)
    d1, d2 = np.ones_like(y), np.zeros_like(y)
    for layer in layers:
        fan_in, width = layer.matrix.shape
        if fan_in == 1:  # as the graph computes it: an outer product
            z = y * layer.matrix[0] + layer.bias
        else:
            z = y @ layer.matrix + layer.bias
        dz, d2z = d1 @ layer.matrix, d2 @ layer.matrix
        a, a1, a2 = act(z)
        h, h1, h2 = a, a1 * dz, a2 * dz * dz + a1 * d2z
        if layer.idt is not None:
            h, h1, h2 = h * layer.idt, h1 * layer.idt, h2 * layer.idt
        if width == fan_in:
            y, d1, d2 = y + h, d1 + h1, d2 + h2
        elif width == 2 * fan_in:
            y = np.concatenate([y, y], axis=1) + h
            d1 = np.concatenate([d1, d1], axis=1) + h1
            d2 = np.concatenate([d2, d2], axis=1) + h2
        else:
            y, d1, d2 = h, h1, h2
    return y, d1, d2


def quintic_coefficients(f0, g0, c0, f1, g1, c1, h):
    """Coefficients a0..a5 of p(t) = sum a_k t^k on [0, h] with p, p', p'' equal to
    (f0, g0, c0) at 0 and (f1, g1, c1) at h; inputs broadcast, output (..., 6)."""
    df = f1 - f0
    a3 = (20 * df - (8 * g1 + 12 * g0) * h - (3 * c0 - c1) * h**2) / (2 * h**3)
    a4 = (-30 * df + (14 * g1 + 16 * g0) * h + (3 * c0 - 2 * c1) * h**2) / (2 * h**4)
    a5 = (12 * df - 6 * (g1 + g0) * h - (c0 - c1) * h**2) / (2 * h**5)
    return np.stack([f0, g0, 0.5 * c0, a3, a4, a5], axis=-1)


@dataclass
class Table:
    """A tabulated net: quintic coefficients per interval and the table's bounds."""

    coefficients: np.ndarray  # (intervals, 6, width), the layout op_src/lib/tabulate.h reads
    info: np.ndarray  # (7,) lower, upper, upper_ext, step, step_ext, n_inner, n_ext

    @property
    def nbytes(self) -> int:
        return self.coefficients.nbytes


def table_range(lower: float, upper: float, extrapolate: float) -> tuple[float, float, float]:
    """(lower, upper, upper_ext): the extrapolation region reaches extrapolate * upper."""
    if upper > 0:
        upper_ext = extrapolate * upper
    else:
        upper_ext = upper + (extrapolate - 1.0) * (upper - lower)
    return lower, upper, max(upper_ext, upper)


def tabulate(
    layers: list[Layer],
    activation: str,
    lower: float,
    upper: float,
    upper_ext: float,
    step: float,
    step_ext: float,
) -> Table:
    """Quintic table of the net on [lower, upper] with `step` and on [upper, upper_ext] with
    `step_ext` (both regions rounded up to whole intervals)."""
    n_inner = max(1, math.ceil((upper - lower) / step - 1e-9))
    upper = lower + n_inner * step
    n_ext = max(1, math.ceil((upper_ext - upper) / step_ext - 1e-9))
    upper_ext = upper + n_ext * step_ext
    nodes_inner = lower + np.arange(n_inner + 1) * step
    nodes_ext = upper + np.arange(n_ext + 1) * step_ext
    coefficients = []
    for nodes, h in ((nodes_inner, step), (nodes_ext, step_ext)):
        y, d1, d2 = net_with_derivatives(layers, activation, nodes)
        coef = quintic_coefficients(y[:-1], d1[:-1], d2[:-1], y[1:], d1[1:], d2[1:], h)
        coefficients.append(np.transpose(coef, (0, 2, 1)))  # (intervals, 6, width)
    info = np.array([lower, upper, upper_ext, step, step_ext, n_inner, n_ext], np.float64)
    return Table(np.ascontiguousarray(np.concatenate(coefficients)), info)


def evaluate(table: Table, x: np.ndarray) -> np.ndarray:
    """The table at inputs x (n,) -> (n, width): a numpy reference of the op's lookup."""
    lower, upper, upper_ext, step, step_ext, n_inner, n_ext = table.info
    n_inner, n_ext = int(n_inner), int(n_ext)
    x = np.clip(np.asarray(x, np.float64), lower, upper_ext)
    inner = x < upper
    k = np.where(
        inner,
        np.minimum(np.floor((x - lower) / step), n_inner - 1),
        n_inner + np.minimum(np.floor((x - upper) / step_ext), n_ext - 1),
    ).astype(int)
    node = np.where(inner, lower + (k * step), upper + (k - n_inner) * step_ext)
    t = (x - node)[:, None]
    coef = table.coefficients[k]  # (n, 6, width)
    return sum(coef[:, p, :] * t**p for p in range(6))
