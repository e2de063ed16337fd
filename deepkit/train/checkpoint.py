"""Where a checkpoint is: the forms --restart, --init-model and freeze -c accept.

As DeePMD-kit's `dp`: a folder (its latest checkpoint), a checkpoint prefix with its step
(`run/model.ckpt-1000`), or a prefix without one (`run/model.ckpt`, `model.ckpt`): the
`model.ckpt.index` there when it exists (a file, or the link training keeps to its latest
save), otherwise the latest `model.ckpt-STEP` of that folder, by the folder's `checkpoint`
file or else by the highest step.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from deepkit.errors import InputError
from deepkit.tfenv import tf


def checkpoint_path(spec: str) -> str:
    """The checkpoint prefix `spec` names: a folder, a prefix, or a prefix without step."""
    path = Path(spec)
    if path.is_dir():
        latest = _latest(path, None)
        if latest is None:
            raise InputError(f"{path}: no checkpoint in this directory")
        return latest
    index = Path(f"{spec}.index")
    if index.exists():
        return _through_link(path, index)
    latest = _latest(path.parent, path.name)
    if latest is None:
        raise InputError(f"{spec}: no such checkpoint (expected {spec}.index or {spec}-STEP.index)")
    return latest


def _through_link(prefix: Path, index: Path) -> str:
    """`model.ckpt` whose .index links to `model.ckpt-STEP.index` in the same folder: that
    checkpoint (its name tells the step); otherwise the prefix itself."""
    if index.is_symlink():
        name = Path(os.readlink(index)).name
        stepped = prefix.parent / name.removesuffix(".index")
        target = Path(f"{stepped}.index")
        if name.endswith(".index") and target.exists() and target.resolve() == index.resolve():
            return str(stepped)
    return str(prefix)


def _latest(folder: Path, stem: str | None) -> str | None:
    """The latest checkpoint in `folder` (named STEM-STEP when stem is given): the one its
    `checkpoint` file records, else the highest STEP of the *-STEP.index files there."""
    pattern = re.compile(rf"{re.escape(stem) if stem else '.+'}-(\d+)")
    state = tf.train.get_checkpoint_state(str(folder)) if folder.is_dir() else None
    if state is not None and state.model_checkpoint_path:
        recorded = Path(state.model_checkpoint_path)
        if pattern.fullmatch(recorded.name) or stem is None:
            # The folder may have moved since: the name, looked up in this folder.
            for candidate in (folder / recorded.name, recorded):
                if Path(f"{candidate}.index").exists():
                    return str(candidate)
    if not folder.is_dir():
        return None
    steps = {}
    for index in folder.glob("*.index"):
        match = pattern.fullmatch(index.name.removesuffix(".index"))
        if match:
            steps[int(match.group(1))] = index.name.removesuffix(".index")
    return str(folder / steps[max(steps)]) if steps else None
