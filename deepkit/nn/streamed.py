"""Per-atom work streamed through a frozen graph in chunks of atoms.

An embedding net keeps (atoms x sel x width) activations for its backward pass; for a large
system they, not the model, set the peak memory. A model's per-atom function (environment
rows -> descriptor -> fitting -> atomic energy) is independent across atoms, so a frozen
graph can run it a chunk of atoms at a time in a while loop, taking each chunk's derivative
with respect to its rows inside the same iteration: one forward and one backward pass, as
without chunks, while only one chunk's activations exist at a time. The peak memory then
grows with the chunk, not with the system.

Frozen graphs only: the loop gives the first derivative with respect to the rows, not the
second derivatives training takes. `inference_chunk()` is None unless a model builds its
frozen form inside `streaming_inference()` (freeze does). DEEPKIT_FREEZE_CHUNK
sets the atoms per chunk (0: none).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence

from deepkit.errors import InputError
from deepkit.tfenv import tf

# Atoms per chunk of a frozen model: about 0.2 GB of embedding activations for water's
# standard se_e2_a (138 slots, [25, 50, 100]); smaller chunks only add loop overhead.
DEFAULT_CHUNK = 1024

_chunk: list[int | None] = [None]


def configured_chunk() -> int | None:
    """Atoms per chunk from DEEPKIT_FREEZE_CHUNK (unset: DEFAULT_CHUNK; 0: no chunks, the
    frozen graph in one piece as deepkit 0.3 built it)."""
    text = os.environ.get("DEEPKIT_FREEZE_CHUNK", "").strip()
    if not text:
        return DEFAULT_CHUNK
    if not text.isdigit() or int(text) > 2**30:
        raise InputError(
            f"DEEPKIT_FREEZE_CHUNK: expected a whole number of atoms (0: no chunks), got {text!r}"
        )
    return int(text) or None


@contextlib.contextmanager
def streaming_inference(chunk: int | None = None) -> Iterator[None]:
    """Models built inside stream their per-atom work in chunks of `chunk` atoms
    (configured_chunk() when None)."""
    previous, _chunk[0] = _chunk[0], chunk or configured_chunk()
    try:
        yield
    finally:
        _chunk[0] = previous


def inference_chunk() -> int | None:
    """The chunk size of the frozen graph being built, None outside streaming_inference()."""
    return _chunk[0]


def values_and_gradients(fn: Callable, rows: Sequence, extras: Sequence, chunk: int):
    """y = fn(rows_chunk, extras_chunk) over consecutive chunks of `chunk` atoms, and the
    derivative of sum(y) with respect to each of `rows`, concatenated over the chunks.

    rows: float tensors (n, ...) with the atoms first, the inputs differentiated; extras:
    tensors (n, ...) cut alongside (types, per-atom parameters); fn returns y (c,) for c
    atoms, each atom's y depending on its own rows only. fn runs once on no atoms outside
    the loop first: that creates its variables (not possible inside a loop body).
    Returns y (n,) and a list of d sum(y) / d rows[k], each shaped as rows[k]."""
    rows, extras = list(rows), list(extras)
    fn([r[:0] for r in rows], [e[:0] for e in extras])
    n = tf.shape(rows[0])[0]
    nchunks = (n + chunk - 1) // chunk

    def step(i, *parts):
        begin = i * chunk
        size = tf.minimum(chunk, n - begin)
        part_rows = [_cut(r, begin, size) for r in rows]
        y = fn(part_rows, [_cut(e, begin, size) for e in extras])
        grads = tf.gradients(y, part_rows)
        grads = [tf.zeros_like(r) if g is None else g for g, r in zip(grads, part_rows)]
        return (i + 1, *(p.write(i, v) for p, v in zip(parts, [y, *grads], strict=True)))

    def array(like_shape, dtype):
        shape = tf.TensorShape([None]).concatenate(like_shape)
        return tf.TensorArray(dtype, size=nchunks, infer_shape=False, element_shape=shape)

    parts = [array([], tf.float64), *(array(r.shape[1:], r.dtype) for r in rows)]
    # One chunk at a time: parallel iterations would hold several chunks' activations.
    _, *parts = tf.while_loop(
        lambda i, *_: i < nchunks, step, (tf.constant(0), *parts), parallel_iterations=1
    )
    y, *grads = (p.concat() for p in parts)
    return y, grads


def _cut(tensor, begin, size):
    """tensor[begin : begin + size] along the first axis, any rank."""
    rank = tensor.shape.rank
    return tf.slice(tensor, [begin, *[0] * (rank - 1)], [size, *[-1] * (rank - 1)])
