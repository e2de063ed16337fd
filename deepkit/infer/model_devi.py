"""Model deviation (DeePMD-kit's columns) for active learning: how much an ensemble of
models disagrees on each frame."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

HEADER = (
    "step",
    "max_devi_v",
    "min_devi_v",
    "avg_devi_v",
    "max_devi_f",
    "min_devi_f",
    "avg_devi_f",
    "devi_e",
)


def model_devi(models: Sequence, coord, cell, atype) -> np.ndarray:
    """(nframes, 7): max/min/avg deviation of the virial per atom (std over models of each
    of its 9 components; avg is their rms), of the force (per atom, the norm of the std over
    models of its components; avg over atoms), and the std of the energy per atom."""
    if len(models) < 2:
        raise ValueError("model deviation needs at least two models")
    natoms = len(atype)
    results = [dp.eval(coord, cell, atype) for dp in models]
    energy = np.stack([r[0][:, 0] for r in results]) / natoms  # (nm, nf)
    force = np.stack([r[1] for r in results])  # (nm, nf, natoms, 3)
    virial = np.stack([r[2] for r in results]) / natoms  # (nm, nf, 9)
    devi_f = np.linalg.norm(np.std(force, axis=0), axis=-1)  # (nf, natoms)
    devi_v = np.std(virial, axis=0)  # (nf, 9)
    return np.column_stack(
        [
            devi_v.max(axis=1),
            devi_v.min(axis=1),
            np.sqrt(np.mean(devi_v**2, axis=1)),
            devi_f.max(axis=1),
            devi_f.min(axis=1),
            devi_f.mean(axis=1),
            np.std(energy, axis=0),
        ]
    )


def model_devi_table(models: Sequence, systems: Sequence) -> np.ndarray:
    """(frames, 8): a step counter over every frame of every system, then model_devi's
    columns (HEADER)."""
    rows, step = [], 0
    for system in systems:
        atype = system.type_indices(models[0].type_map)
        for k in range(len(system.sets)):
            arrays = system.load_set(k).arrays
            devi = model_devi(
                models, arrays["coord"], None if system.nopbc else arrays["box"], atype
            )
            rows.append(np.column_stack([np.arange(step, step + len(devi)), devi]))
            step += len(devi)
    return np.concatenate(rows)


def write_model_devi(path, table: np.ndarray) -> None:
    """DeePMD-kit's model_devi.out layout: a header line, then one row per frame."""
    header = " ".join(f"{h:>14}" for h in HEADER)
    np.savetxt(path, table, fmt=["%12d"] + ["%14.6e"] * 7, header=header)
