"""Figures: the learning curve of a training run (`deepkit plot lcurve.out`) and the parity
plot of `deepkit test --plot`. matplotlib is optional: it is imported by the functions that
draw, and its absence is reported in one line."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from deepkit.errors import InputError

# lcurve.out metric -> (panel title, unit); other columns are shown by their own name.
_METRICS = {
    "rmse": ("loss (rmse)", ""),
    "rmse_e": ("energy rmse", "eV/atom"),
    "rmse_f": ("force rmse", "eV/Å"),
    "rmse_v": ("virial rmse", "eV/atom"),
    "rmse_ae": ("atomic energy rmse", "eV"),
}
# lcurve.out column suffix -> (legend label, colour)
KINDS = {"trn": ("training", "C0"), "val": ("validation", "C3")}


def read_lcurve(path: str | Path) -> tuple[list[str], np.ndarray]:
    """The column names (lcurve.out's header line) and its rows, (nrows, ncols)."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise InputError(f"{path}: cannot read the learning curve ({err.strerror})") from None
    header = next((line for line in lines if line.startswith("#")), None)
    if header is None:
        raise InputError(f"{path}: no header line (# step rmse_trn ...): not an lcurve.out?")
    names = header.lstrip("#").split()
    rows = [line.split() for line in lines if line.strip() and not line.startswith("#")]
    if not rows:
        raise InputError(f"{path}: no rows yet")
    for number, row in enumerate(rows, 1):
        if len(row) != len(names):
            raise InputError(
                f"{path}: data row {number} has {len(row)} columns, the header {len(names)}"
            )
    try:
        table = np.array(rows, dtype=np.float64)
    except ValueError as err:
        raise InputError(f"{path}: {err}") from None
    if "step" not in names:
        raise InputError(f"{path}: no 'step' column in the header {names}")
    return names, table


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only); without matplotlib an InputError
    saying to install it (call it first to fail before the work that precedes a plot)."""
    try:
        import matplotlib
    except ImportError:
        raise InputError("plots need matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid(plt, panels: int, columns: int, width: float, height: float, **kwargs: object):
    """A figure with `panels` axes in up to `columns` columns (extra axes removed), as a
    flat list."""
    ncols = min(panels, columns)
    nrows = math.ceil(panels / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kwargs
    )
    axes = list(axes.ravel())
    for ax in axes[panels:]:
        ax.remove()
    return fig, axes[:panels]


def _smooth_log(values: np.ndarray, window: int) -> np.ndarray:
    """A running geometric mean over `window` rows (shorter at the ends)."""
    kernel = np.ones(window)
    logs = np.convolve(np.log(values), kernel, mode="same")
    counts = np.convolve(np.ones(len(values)), kernel, mode="same")
    return np.exp(logs / counts)


def _plain_ticks_within_a_decade(ax) -> None:
    """A log axis spanning less than a decade is labelled at matplotlib's minor ticks as
    "3.125x10^-1": plain numbers read better there."""
    from matplotlib.ticker import FuncFormatter

    low, high = ax.get_ylim()
    if low > 0 and high / low < 10:
        plain = FuncFormatter(lambda value, _: f"{value:.4g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)


def plot_lcurve(path: str | Path, output: str | Path) -> Path:
    """lcurve.out as a PNG: one panel per rmse metric, training and validation on a log
    axis (a long curve faint, with its running geometric mean drawn over it), and the
    learning rate; all panels share the step axis. Metrics that are zero throughout (a term
    without labels) are left out. Returns the output path."""
    names, table = read_lcurve(path)
    step = table[:, names.index("step")]
    column = {name: table[:, i] for i, name in enumerate(names)}
    metrics = []
    for name in names:
        base = name.removesuffix("_trn").removesuffix("_val")
        positive = (column[name] > 0).any()
        if base != name and positive and base not in metrics:
            metrics.append(base)
    panels = metrics + (["lr"] if "lr" in names and (column["lr"] > 0).any() else [])
    if not panels:
        raise InputError(f"{path}: no positive *_trn, *_val or lr values to plot")
    plt = pyplot()
    fig, axes = _grid(plt, len(panels), 2, 5.2, 3.4, sharex=True)
    window = max(1, len(step) // 50) if len(step) > 100 else 1
    for ax, metric in zip(axes, panels, strict=True):
        title, unit = _METRICS.get(metric, (metric, ""))
        if metric == "lr":
            ax.plot(step, column["lr"], color="C2", lw=1.2)
            title = "learning rate"
        for kind, (label, color) in KINDS.items():
            values = column.get(f"{metric}_{kind}")
            if values is None or metric == "lr":
                continue
            shown = values > 0  # a log axis
            x, y = step[shown], values[shown]
            if window > 1:
                ax.plot(x, y, color=color, lw=0.5, alpha=0.3)
                y = _smooth_log(y, window)
            ax.plot(x, y, color=color, lw=1.4, label=label)
        ax.set_yscale("log")
        ax.set_title(f"{title} ({unit})" if unit else title, fontsize=10)
        if metric != "lr":
            ax.legend(fontsize=8, frameon=False)
        ax.grid(True, which="major", alpha=0.3)
        ax.tick_params(which="both", labelsize=8)
        _plain_ticks_within_a_decade(ax)
    for ax in axes[-min(2, len(axes)) :]:
        ax.set_xlabel("step")
        ax.xaxis.set_tick_params(labelbottom=True)
    fig.tight_layout()
    fig.savefig(output, dpi=150)
    plt.close(fig)
    return Path(output)


def parity_plot(results: list[dict], output: str | Path, names: list[str] | None = None) -> Path:
    """Model against data for the energy per atom, the force components and the virial per
    atom (those the systems have) of deepkit.infer.accuracy.evaluate_system results: each
    panel square, y = x across it, its rmse written in it. names: a legend label per result
    (shown for 2 to 8 systems). Returns the output path."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    quantities = [
        (key, title, unit)
        for key, title, unit in (
            ("energy", "energy / atom", "eV/atom"),
            ("force", "force components", "eV/Å"),
            ("virial", "virial / atom", "eV/atom"),
        )
        if any(key in r["label"] for r in results)
    ]
    if not quantities:
        raise InputError("parity plot: the systems have no energy, force or virial labels")
    fig, axes = _grid(plt, len(quantities), 3, 4.2, 4.2)
    legend = names is not None and 1 < len(results) <= 8
    for ax, (key, title, unit) in zip(axes, quantities, strict=True):
        pairs = []
        for n, r in enumerate(results):
            if key not in r["label"]:
                continue
            scale = 1 if key == "force" else r["natoms"]
            data, model = r["label"][key].ravel() / scale, r[key].ravel() / scale
            pairs.append((data, model))
            label = names[n] if legend else None
            size = 4 if data.size < 2000 else 1
            ax.scatter(data, model, s=size, alpha=0.6, lw=0, label=label, color=f"C{n % 10}")
        data = np.concatenate([p[0] for p in pairs])
        model = np.concatenate([p[1] for p in pairs])
        lo, hi = min(data.min(), model.min()), max(data.max(), model.max())
        pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.05
        lo, hi = lo - pad, hi + pad
        ax.plot([lo, hi], [lo, hi], color="0.2", lw=0.8, zorder=0)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal", adjustable="box")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(MaxNLocator(5))
        ax.ticklabel_format(useOffset=False)
        ax.tick_params(labelsize=8)
        ax.tick_params(axis="x", labelrotation=30)
        rmse = float(np.sqrt(np.mean((model - data) ** 2)))
        ax.text(
            0.04,
            0.96,
            f"RMSE {rmse:.3g} {unit}",
            transform=ax.transAxes,
            va="top",
            fontsize=9,
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.7"},
        )
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"data ({unit})", fontsize=9)
        ax.set_ylabel(f"model ({unit})", fontsize=9)
        ax.grid(True, alpha=0.3)
        if legend and ax is axes[0]:
            ax.legend(fontsize=7, loc="lower right", markerscale=3, frameon=False)
    fig.tight_layout()
    fig.savefig(output, dpi=150)
    plt.close(fig)
    return Path(output)
