"""Where a checkpoint is: the forms --restart, --init-model and freeze -c accept.

As DeePMD-kit's `dp`: a folder (its latest checkpoint), a checkpoint prefix with its step
(`run/model.ckpt-1000`), or a prefix without one (`run/model.ckpt`, `model.ckpt`): the
`model.ckpt.index` there when it exists (a file, or the link training keeps to its latest
save), otherwise the latest `model.ckpt-STEP` of that folder, by the folder's `checkpoint`
file or else by the highest step. A latest checkpoint that cannot be read (a save cut short
by a full disk, a damaged file) is passed over, with a warning, for the newest readable one.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from pathlib import Path

from deepkit.errors import InputError
from deepkit.tfenv import tf


class CheckpointFallbackWarning(UserWarning):
    """The latest checkpoint is unreadable; an earlier one is used."""


def checkpoint_path(spec: str) -> str:
    """The checkpoint prefix `spec` names: a folder, a prefix, or a prefix without step."""
    path = Path(spec)
    if path.is_dir():
        return _newest_readable(_candidates(path, None), f"{path}: no checkpoint in this directory")
    index = Path(f"{spec}.index")
    if index.exists():
        named = _through_link(path, index)
        if index.is_symlink():  # model.ckpt: the latest, or an earlier one if it is damaged
            others = [c for c in _candidates(path.parent, path.name) if c != named]
            return _newest_readable([named, *others], f"{spec}: no readable checkpoint")
        problem = unreadable(named)
        if problem:
            raise InputError(f"{named}: unreadable checkpoint ({problem})")
        return named
    found = _candidates(path.parent, path.name)
    return _newest_readable(
        found, f"{spec}: no such checkpoint (expected {spec}.index or {spec}-STEP.index)"
    )


def unreadable(prefix: str) -> str | None:
    """What is wrong with the checkpoint at `prefix` (every tensor is read), or None."""
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as err:  # noqa: BLE001 - the reader raises OpError, IndexError, ...
        text = str(err).strip().splitlines()
        return text[0] if text else type(err).__name__
    return None


def _newest_readable(candidates: list[str], none_message: str) -> str:
    problems = []
    for candidate in candidates:
        problem = unreadable(candidate)
        if problem is None:
            if problems:
                skipped = "; ".join(f"{name}: {why}" for name, why in problems)
                warnings.warn(
                    f"unreadable checkpoint(s) passed over ({skipped}); using {candidate}",
                    CheckpointFallbackWarning,
                    stacklevel=3,
                )
            return candidate
        problems.append((candidate, problem))
    if problems:
        name, why = problems[0]
        raise InputError(f"{name}: unreadable checkpoint ({why}), and no earlier one is readable")
    raise InputError(none_message)


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


def _candidates(folder: Path, stem: str | None) -> list[str]:
    """The checkpoints in `folder` (named STEM-STEP when stem is given), newest first: the
    one its `checkpoint` file records, then the *-STEP.index files there by step."""
    pattern = re.compile(rf"{re.escape(stem) if stem else '.+'}-(\d+)")
    found: list[str] = []
    if not folder.is_dir():
        return found
    try:
        state = tf.train.get_checkpoint_state(str(folder))
    except Exception:  # noqa: BLE001 - a garbled `checkpoint` file: the steps decide
        state = None
    if state is not None and state.model_checkpoint_path:
        recorded = Path(state.model_checkpoint_path)
        if pattern.fullmatch(recorded.name) or stem is None:
            # The folder may have moved since: the name, looked up in this folder.
            for candidate in (folder / recorded.name, recorded):
                if Path(f"{candidate}.index").exists():
                    found.append(str(candidate))
                    break
    steps = {}
    for index in folder.glob("*.index"):
        match = pattern.fullmatch(index.name.removesuffix(".index"))
        if match and not index.is_symlink():
            steps[int(match.group(1))] = str(folder / index.name.removesuffix(".index"))
    found += [steps[step] for step in sorted(steps, reverse=True) if steps[step] not in found]
    return found


def remove_leftovers(folder: Path, stem: str) -> list[str]:
    """Delete what killed saves leave in a run's folder: TensorFlow's STEM-STEP_temp*
    shards, link_latest's .NAME.tmp links and write_atomic's temporary files. Returns the
    names."""
    leftovers = [*folder.glob(f"{stem}-*_temp*")]
    leftovers += [p for p in folder.glob(".*") if p.name.endswith(".tmp") or _atomic_temp(p)]
    for path in leftovers:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return [path.name for path in leftovers]


def _atomic_temp(path: Path) -> bool:
    """A temporary file of deepkit.atomic_file.write_atomic: a dot, the name of a file
    beside it, a dot and mkstemp's 8 random characters."""
    name, _, suffix = path.name[1:].rpartition(".")
    return bool(name) and len(suffix) == 8 and (path.parent / name).exists()


def checkpoints_by_step(folder: Path, stem: str) -> list[str]:
    """The STEM-STEP checkpoints of `folder`, oldest first."""
    stepped = {int(m.group(1)): c for c in _candidates(folder, stem) if (m := _STEP.search(c))}
    return [stepped[step] for step in sorted(stepped)]


_STEP = re.compile(r"-(\d+)$")
