"""A frozen model's errors on labelled systems: the figures and detail files of `deepkit test`
(DeePMD-kit's `dp test`); its parity plot is in deepkit.infer.plots."""

from __future__ import annotations

import numpy as np

from deepkit.errors import InputError


def _stats(diff: np.ndarray) -> dict:
    return {"mae": float(np.mean(np.abs(diff))), "rmse": float(np.sqrt(np.mean(diff**2)))}


def evaluate_system(dp, system, nframes: int | None, rng=None, atomic: bool = False) -> dict:
    """Labels and predictions of up to nframes frames (None: all): arrays by name.

    The first frames in set order; with rng (a numpy RandomState, as DeePMD-kit's
    `--shuffle-test`) the frames of all sets in the order rng.shuffle gives them. atomic:
    also the atomic energies, against the system's atom_ener labels."""
    if atomic and not system.has_label("atom_ener"):
        raise InputError(
            f"{system.path}: --atomic needs atomic energy labels (atom_ener.npy in every set)"
        )
    data = load_frames(system, nframes, rng, dp.type_map)
    atype = data.pop("atype")  # (frames, natoms): a mixed-type system's differ per frame
    try:
        out = dp.eval(data["coord"], None if system.nopbc else data["box"], atype, atomic=atomic)
    except ValueError as err:  # frames numbered in the order tested
        raise InputError(f"{system.path}: {err}") from None
    result = {
        "natoms": system.natoms,
        "label": data,
        "energy": out[0][:, 0],
        "force": out[1].reshape(len(out[1]), -1),
        "virial": out[2],
    }
    if atomic:
        result["atom_ener"] = out[3].reshape(len(out[3]), -1)
    return result


def load_frames(system, nframes: int | None, rng=None, type_map=None) -> dict:
    """The arrays of up to nframes frames (None: all), the first in set order, or with rng
    (a numpy RandomState, as DeePMD-kit's `--shuffle-test`) in the order rng.shuffle gives
    the frames of all sets; with type_map also "atype" (frames, natoms), each frame's types
    in that type_map's indices."""
    sets, total = [], 0
    for k in range(len(system.sets)):
        if rng is None and nframes is not None and total >= nframes:
            break
        frames = system.load_set(k)
        arrays = dict(frames.arrays)
        if type_map is not None:
            arrays["atype"] = system.frame_types(frames, type_map)
        take = len(arrays["coord"])
        if rng is None and nframes is not None:
            take = min(take, nframes - total)
        sets.append({key: value[:take] for key, value in arrays.items()})
        total += take
    data = {key: np.concatenate([s[key] for s in sets]) for key in sets[0]}
    if rng is not None:
        order = np.arange(total)
        rng.shuffle(order)
        data = {key: value[order[:nframes]] for key, value in data.items()}
    return data


def figures(result: dict) -> dict:
    """Energy (total and per atom), force and virial (total and per atom) mae / rmse, and the
    atomic energy's when evaluate_system computed it."""
    label, natoms, out = result["label"], result["natoms"], {"nframes": len(result["energy"])}
    if "energy" in label:
        de = result["energy"] - label["energy"]
        out["energy"], out["energy_per_atom"] = _stats(de), _stats(de / natoms)
    if "force" in label:
        out["force"] = _stats(result["force"] - label["force"])
    if "virial" in label:
        dv = result["virial"] - label["virial"]
        out["virial"], out["virial_per_atom"] = _stats(dv), _stats(dv / natoms)
    if "atom_ener" in result:  # per system only, as DeePMD-kit's `dp test -a`
        out["atom_energy"] = _stats(result["atom_ener"] - label["atom_ener"])
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
    """PREFIX.e.out, .e_peratom.out, .f.out, .v.out, .v_peratom.out: label and prediction
    columns, as DeePMD-kit's `dp test -d`."""
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
        cols += " " + cols.replace("data", "pred")
        values = np.c_[label["virial"], result["virial"]]
        blocks += [("v", cols, values), ("v_peratom", cols, values / natoms)]
    for suffix, header, values in blocks:
        with open(f"{prefix}.{suffix}.out", "a") as out:
            np.savetxt(out, values, header=f"{name}: {header}")
