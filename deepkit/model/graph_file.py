"""Reading a frozen model's GraphDef, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

from deepkit.errors import InputError


def read_graph_def(path: str | Path):
    """The tf.compat.v1.GraphDef stored at `path` (InputError if unreadable or not one)."""
    from deepkit.tfenv import tf

    path = Path(path)
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(path.read_bytes())
    except OSError as err:
        raise InputError(f"{path}: cannot read the model ({err.strerror})") from None
    except Exception as err:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise InputError(f"{path}: not a frozen model ({err})") from None
    return graph_def
