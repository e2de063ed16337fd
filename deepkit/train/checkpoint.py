"""Where a checkpoint is: the forms --restart, --init-model and freeze -c accept."""

from __future__ import annotations

from pathlib import Path

from deepkit.errors import InputError
from deepkit.tfenv import tf


def checkpoint_path(spec: str) -> str:
    """A checkpoint prefix, or a directory whose latest checkpoint is taken."""
    path = Path(spec)
    if path.is_dir():
        latest = tf.train.latest_checkpoint(str(path))
        if latest is None:
            raise InputError(f"{path}: no checkpoint in this directory")
        return latest
    if not Path(f"{spec}.index").exists():
        raise InputError(f"{spec}: no such checkpoint (expected {spec}.index)")
    return spec
