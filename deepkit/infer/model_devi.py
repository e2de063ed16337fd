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
    models of its components; avg over atoms), and the std of the energy per atom. atype
    (natoms,), or (nframes, natoms) for types that differ between frames."""
    if len(models) < 2:
        raise ValueError("model deviation needs at least two models")
    natoms = np.shape(atype)[-1]
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


def model_devi_system(models: Sequence, system, frequency: int = 1) -> np.ndarray:
    """(frames, 8) for one system: the step, then model_devi's columns (HEADER). The step is
    the frame's index in the system times `frequency`, the steps between the frames of the
    trajectory (DeePMD-kit's `dp model-devi -f`)."""
    rows = []
    for k in range(len(system.sets)):
        frames = system.load_set(k)
        atype = system.frame_types(frames, models[0].type_map)
        cell = None if system.nopbc else frames.arrays["box"]
        rows.append(model_devi(models, frames.arrays["coord"], cell, atype))
    devi = np.concatenate(rows)
    return np.column_stack([np.arange(len(devi)) * frequency, devi])


def model_devi_table(models: Sequence, systems: Sequence, frequency: int = 1) -> np.ndarray:
    """model_devi_system of every system, one after the other (each counts its own steps)."""
    return np.concatenate([model_devi_system(models, s, frequency) for s in systems])


def write_model_devi(path, tables: np.ndarray | Sequence[tuple[str, np.ndarray]]) -> None:
    """DeePMD-kit's model_devi.out layout: a header line, then one row per frame. tables:
    one table, or (system name, table) pairs; for more than one system each block starts
    with a line naming its system, as `dp model-devi` writes them."""
    header = " ".join(f"{h:>14}" for h in HEADER)
    fmt = ["%12d"] + ["%14.6e"] * 7
    if isinstance(tables, np.ndarray):
        tables = [("", tables)]
    with open(path, "w") as out:
        for name, table in tables:
            block = f"{name}\n{header}" if len(tables) > 1 else header
            np.savetxt(out, table, fmt=fmt, header=block)
