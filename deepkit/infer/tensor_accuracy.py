"""A frozen tensor model's errors on labelled systems: the figures and detail file of
`deepkit test` for dipole and polar models (DeePMD-kit's `dp test` on them)."""

from __future__ import annotations

import numpy as np

from deepkit.errors import InputError
from deepkit.fit.tensor import full_atomic
from deepkit.infer.accuracy import load_frames

LABELS = {
    "dipole": ("dipole", "Dipole", "xyz"),
    "polar": ("polarizability", "Polarizability", None),
}
POLAR_COMPONENTS = ("pxx", "pxy", "pxz", "pyx", "pyy", "pyz", "pzx", "pzy", "pzz")


def components(model_type: str) -> tuple[str, ...]:
    """The detail files' component names."""
    return tuple("xyz") if model_type == "dipole" else POLAR_COMPONENTS


def evaluate_tensor_system(dp, system, nframes, rng=None, atomic: bool = False) -> dict:
    """Labels and predictions (nf, width) global, or with atomic (nf, nsel * width) of the
    selected atoms. The global label is dipole.npy / polarizability.npy, else the sum of
    the atomic labels."""
    key = LABELS[dp.model_type][0]
    atype = system.type_indices(dp.type_map)
    selected = np.isin(atype, dp.sel_type)
    has_atomic, has_global = system.has_label(f"atomic_{key}"), system.has_label(key)
    if atomic and not has_atomic:
        raise InputError(f"{system.path}: -a/--atomic needs atomic_{key}.npy in every set")
    if not (has_atomic or has_global):
        raise InputError(f"{system.path}: no {key}.npy or atomic_{key}.npy labels to test against")
    data = load_frames(system, nframes, rng)
    width = dp.output_dim
    try:
        pred = dp.eval(data["coord"], None if system.nopbc else data["box"], atype, atomic=True)
    except ValueError as err:
        raise InputError(f"{system.path}: {err}") from None
    n = len(pred)
    if has_atomic:
        label_atomic = full_atomic(
            data[f"atomic_{key}"], selected, width, f"{system.path}: atomic_{key}.npy"
        )
    if atomic:
        label = label_atomic[:, selected].reshape(n, -1)
        value = pred[:, selected].reshape(n, -1)
    else:
        label = data[key] if has_global else label_atomic.sum(axis=1)
        value = pred.sum(axis=1)
    return {"nsel": int(selected.sum()), "atomic": atomic, "label": label, "pred": value}


def tensor_figures(result: dict) -> dict:
    """rmse (and mae), and for the global tensor rmse / sqrt(N) and rmse / N, N the selected
    atoms, as DeePMD-kit prints."""
    diff = result["pred"] - result["label"]
    rmse = float(np.sqrt(np.mean(diff**2)))
    out = {"nframes": len(diff), "rmse": rmse, "mae": float(np.mean(np.abs(diff)))}
    if not result["atomic"] and result["nsel"]:
        out["rmse_sqrtn"] = rmse / np.sqrt(result["nsel"])
        out["rmse_n"] = rmse / result["nsel"]
    return out


def tensor_pooled(results: list[dict]) -> dict:
    """rmse and mae over every component of all systems together."""
    diff = np.concatenate([(r["pred"] - r["label"]).ravel() for r in results])
    return {
        "nframes": sum(len(r["pred"]) for r in results),
        "rmse": float(np.sqrt(np.mean(diff**2))),
        "mae": float(np.mean(np.abs(diff))),
    }


def write_tensor_details(prefix: str, name: str, model_type: str, result: dict) -> None:
    """PREFIX.out: label then prediction columns (DeePMD-kit's layout: per selected atom with
    -a), one row per frame, appended system after system."""
    names = components(model_type)
    if result["atomic"]:
        cols = [
            f"{p}_{c}{i}"
            for p in ("data", "pred")
            for i in range(1, result["nsel"] + 1)
            for c in names
        ]
    else:
        cols = [f"{p}_{c}" for p in ("data", "pred") for c in names]
    with open(f"{prefix}.out", "a") as out:
        np.savetxt(out, np.c_[result["label"], result["pred"]], header=f"{name}: {' '.join(cols)}")
