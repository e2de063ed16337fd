"""Per-type subnets over atoms given in any type order."""

from __future__ import annotations

from collections.abc import Callable

from deepkit.tfenv import tf


def map_by_type(rows, atype_flat, ntypes: int, fn: Callable):
    """fn(rows of type t, t) for every type, results put back in the atoms' order.

    rows (n, ...) and atype_flat (n,) int32; fn returns (n_t, ...) for its n_t rows. rows may
    be a tuple of such tensors: fn then takes each one's rows of type t, then t."""
    index = tf.range(tf.shape(atype_flat)[0])
    places = tf.dynamic_partition(index, atype_flat, ntypes)
    if isinstance(rows, tuple):
        parts = list(zip(*(tf.dynamic_partition(r, atype_flat, ntypes) for r in rows)))
        return tf.dynamic_stitch(places, [fn(*parts[t], t) for t in range(ntypes)])
    parts = tf.dynamic_partition(rows, atype_flat, ntypes)
    return tf.dynamic_stitch(places, [fn(parts[t], t) for t in range(ntypes)])
