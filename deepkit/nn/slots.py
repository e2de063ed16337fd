"""The occupied neighbour slots of a flat slot axis, gathered out and put back.

About 40% of a typical `sel` is empty padding, and every empty slot of a centre sees the
same row (-avg / std): running the embedding net on the occupied slots only and adding the
empty ones' share from a small table gives the same descriptor for ~60% of the net's work.

`compact` and `expand` are each other's adjoint, so each is the other's gradient; defining
them that way keeps both directions plain gathers (multi-threaded copies) through first and
second derivatives, where TensorFlow's own gradient of a gather is a segment sum.
"""

from __future__ import annotations

from deepkit.tfenv import tf


class OccupiedSlots:
    """occupied (N,) bool over a flat slot axis -> the K occupied positions, in order."""

    def __init__(self, occupied):
        # int64: a system frozen in one piece may have more than 2^31 slots
        self.index = tf.where(occupied)[:, 0]  # (K,)
        count = tf.shape(self.index, out_type=tf.int64)[0]
        position = tf.cumsum(tf.cast(occupied, tf.int64), exclusive=True)
        self.inverse = tf.where(occupied, position, count)  # (N,), K for an empty slot

    def compact(self, x):
        """x (N, w) -> (K, w), the occupied rows."""
        return _compact(x, self.index, self.inverse)

    def expand(self, x):
        """x (K, w) -> (N, w), zero rows in the empty slots."""
        return _expand(x, self.index, self.inverse)


def _compact(x, index, inverse):
    @tf.custom_gradient
    def compact(x):
        return tf.gather(x, index), lambda dy: _expand(dy, index, inverse)

    return compact(x)


def _expand(x, index, inverse):
    @tf.custom_gradient
    def expand(x):
        padded = tf.pad(x, [[0, 1], [0, 0]])  # the zero row empty slots point at
        return tf.gather(padded, inverse), lambda dy: _compact(dy, index, inverse)

    return expand(x)
