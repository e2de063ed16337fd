"""A frozen model's errors on labelled systems: the figures, detail files and parity plot of
`deepkit test` (DeePMD-kit's `dp test`)."""

from __future__ import annotations

import numpy as np


def _stats(diff: np.ndarray) -> dict:
    return {"mae": float(np.mean(np.abs(diff))), "rmse": float(np.sqrt(np.mean(diff**2)))}


def evaluate_system(dp, system, nframes: int | None) -> dict:
    """Labels and predictions of up to nframes frames: arrays by name."""
    atype = system.type_indices(dp.type_map)
    sets, total = [], 0
    for k in range(len(system.sets)):
        if nframes is not None and total >= nframes:
            break
        arrays = system.load_set(k).arrays
        take = (
            len(arrays["coord"]) if nframes is None else min(len(arrays["coord"]), nframes - total)
        )
        sets.append({key: value[:take] for key, value in arrays.items()})
        total += take
    data = {key: np.concatenate([s[key] for s in sets]) for key in sets[0]}
    e, f, v = dp.eval(data["coord"], None if system.nopbc else data["box"], atype)
    return {
        "natoms": system.natoms,
        "label": data,
        "energy": e[:, 0],
        "force": f.reshape(len(f), -1),
        "virial": v,
    }


def figures(result: dict) -> dict:
    """Energy (total and per atom), force and virial (total and per atom) mae / rmse."""
    label, natoms, out = result["label"], result["natoms"], {"nframes": len(result["energy"])}
    if "energy" in label:
        de = result["energy"] - label["energy"]
        out["energy"], out["energy_per_atom"] = _stats(de), _stats(de / natoms)
    if "force" in label:
        out["force"] = _stats(result["force"] - label["force"])
    if "virial" in label:
        dv = result["virial"] - label["virial"]
        out["virial"], out["virial_per_atom"] = _stats(dv), _stats(dv / natoms)
    return out


def pooled(results: list[dict]) -> dict:
    """Figures over all frames of all systems together (weighted by frames / components)."""
    pooled: dict = {"nframes": sum(len(r["energy"]) for r in results)}
    for key, scale in (
        ("energy", False),
        ("energy_per_atom", True),
        ("force", False),
        ("virial", False),
        ("virial_per_atom", True),
    ):
        label = key.split("_per_atom")[0]
        diffs = [
            ((r[label] - r["label"][label]) / (r["natoms"] if scale else 1)).ravel()
            for r in results
            if label in r["label"]
        ]
        if diffs:
            pooled[key] = _stats(np.concatenate(diffs))
    return pooled


def write_details(prefix: str, name: str, result: dict) -> None:
    """PREFIX.e.out, .e_peratom.out, .f.out, .v.out: label and prediction columns."""
    label, natoms = result["label"], result["natoms"]
    blocks = []
    if "energy" in label:
        blocks += [
            ("e", "data_e pred_e", np.c_[label["energy"], result["energy"]]),
            ("e_peratom", "data_e pred_e", np.c_[label["energy"], result["energy"]] / natoms),
        ]
    if "force" in label:
        blocks.append(
            (
                "f",
                "data_fx data_fy data_fz pred_fx pred_fy pred_fz",
                np.c_[label["force"].reshape(-1, 3), result["force"].reshape(-1, 3)],
            )
        )
    if "virial" in label:
        cols = " ".join(f"data_v{i}{j}" for i in "xyz" for j in "xyz")
        blocks.append(
            (
                "v",
                cols + " " + cols.replace("data", "pred"),
                np.c_[label["virial"], result["virial"]],
            )
        )
    for suffix, header, values in blocks:
        with open(f"{prefix}.{suffix}.out", "a") as out:
            np.savetxt(out, values, header=f"{name}: {header}")


def parity_plot(results: list[dict], path: str) -> None:
    """Energy-per-atom and force parity plots of evaluate_system results, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    for ax, key, unit in ((axes[0], "energy", "eV/atom"), (axes[1], "force", "eV/A")):
        for r in results:
            if key not in r["label"]:
                continue
            scale = r["natoms"] if key == "energy" else 1
            ax.plot(r["label"][key].ravel() / scale, r[key].ravel() / scale, ".", ms=2)
        lims = ax.get_xlim()
        ax.plot(lims, lims, "k-", lw=0.6)
        ax.set_xlabel(f"DFT {key} ({unit})")
        ax.set_ylabel(f"model {key} ({unit})")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
