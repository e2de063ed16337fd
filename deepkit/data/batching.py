"""Batches drawn from many systems, DeePMD-kit's way: per-system batch sizes, system
probabilities, sets read lazily through a bounded cache, reproducible from the seed."""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from deepkit.data.system import FrameSet, System
from deepkit.errors import InputError

_SERIAL = itertools.count()  # orders the batches of all DataSystems, for batch_error


class SetCache:
    """Loaded sets of all systems, least recently used evicted beyond max_bytes, so data
    larger than memory streams from disk."""

    def __init__(self, max_bytes: int = 2 << 30):
        self.max_bytes = max_bytes
        self._sets: OrderedDict[tuple[int, int], FrameSet] = OrderedDict()
        self._bytes = 0

    def get(self, system: System, index: int) -> FrameSet:
        key = (id(system), index)
        if key in self._sets:
            self._sets.move_to_end(key)
            return self._sets[key]
        frames = system.load_set(index)
        self._sets[key] = frames
        self._bytes += frames.nbytes
        while self._bytes > self.max_bytes and len(self._sets) > 1:
            _, old = self._sets.popitem(last=False)
            self._bytes -= old.nbytes
        return frames

    @property
    def nbytes(self) -> int:
        return self._bytes


def batch_sizes(systems: Sequence[System], batch_size) -> list[int]:
    """`batch_size`: an int, "auto" (at least 32 atoms), "auto:N" (at least N atoms; both
    at most the system's frames), or a list with one int per system."""
    if isinstance(batch_size, (list, tuple)):
        if len(batch_size) != len(systems):
            raise InputError(f"batch_size: {len(batch_size)} values for {len(systems)} systems")
        return [int(b) for b in batch_size]
    if isinstance(batch_size, int) and not isinstance(batch_size, bool):
        return [batch_size] * len(systems)
    if isinstance(batch_size, str) and (batch_size == "auto" or batch_size.startswith("auto:")):
        try:
            atoms = 32 if batch_size == "auto" else int(batch_size[5:])
        except ValueError:
            raise InputError(
                f"batch_size: {batch_size!r} should be auto:N with N an integer"
            ) from None
        # A small system with few frames gets all its frames, not more than it has.
        return [max(1, min(s.nframes, math.ceil(atoms / s.natoms))) for s in systems]
    raise InputError(f"batch_size: {batch_size!r} should be an int, a list, 'auto' or 'auto:N'")


def system_probabilities(nbatches: Sequence[int], sys_probs=None, auto_prob="prob_sys_size"):
    """Probability of drawing each system.

    sys_probs (a list, normalised) wins over auto_prob: "prob_uniform", "prob_sys_size"
    (proportional to the number of batches), or "prob_sys_size;0:2:0.3;2:4:0.7" (systems
    [0, 2) share 0.3, [2, 4) share 0.7, each block by size)."""
    n = len(nbatches)
    if sys_probs is not None:
        probs = np.asarray(sys_probs, dtype=float)
        if probs.shape != (n,) or np.any(probs < 0) or probs.sum() <= 0:
            raise InputError(f"sys_probs: expected {n} non-negative values, got {list(sys_probs)}")
        return probs / probs.sum()
    sizes = np.asarray(nbatches, dtype=float)
    if auto_prob == "prob_uniform":
        return np.full(n, 1.0 / n)
    if auto_prob == "prob_sys_size":
        return sizes / sizes.sum()
    if auto_prob.startswith("prob_sys_size;"):
        probs = np.zeros(n)
        for block in auto_prob.split(";")[1:]:
            try:
                start, stop, weight = block.split(":")
                start, stop, weight = int(start), int(stop), float(weight)
            except ValueError:
                raise InputError(
                    f"auto_prob: block {block!r} should be start:stop:weight"
                ) from None
            if not 0 <= start < stop <= n:
                raise InputError(f"auto_prob: block {block!r} is outside the {n} systems")
            probs[start:stop] = weight * sizes[start:stop] / sizes[start:stop].sum()
        if probs.sum() <= 0:
            raise InputError(f"auto_prob: {auto_prob!r} gives every system probability 0")
        return probs / probs.sum()
    raise InputError(
        f"auto_prob: {auto_prob!r} should be prob_uniform, prob_sys_size or "
        "prob_sys_size;start:stop:weight;..."
    )


class _Cursor:
    """Walks one system's frames as DeePMD-kit's DeepmdData.get_batch does: a shuffled pass
    through a set, then the next set (reshuffled); a batch that would run past the end of
    the pass starts the next one instead (the pass's remainder is skipped), and a set
    smaller than the batch gives a smaller batch."""

    def __init__(self, system: System, rng: np.random.RandomState, shuffle: bool):
        self.system, self.rng, self.shuffle = system, rng, shuffle
        self.set_index, self.order, self.pos = -1, np.zeros(0, dtype=int), 0

    def take(self, count: int) -> list[tuple[int, int]]:
        if self.pos + count > len(self.order):
            self.set_index = (self.set_index + 1) % len(self.system.sets)
            n = self.system.nframes_per_set[self.set_index]
            self.order = self.rng.permutation(n) if self.shuffle else np.arange(n)
            self.pos = 0
        picks = [(self.set_index, int(f)) for f in self.order[self.pos : self.pos + count]]
        self.pos += count
        return picks


class DataSystems:
    """Draws batches from systems for training or validation.

    Each batch comes from one system (same atoms): a dict with atype in the model's type
    indices ((natoms,), or for a mixed-type system (nb, natoms), the types of each frame),
    coord (nb, natoms, 3), box (nb, 9) (zeros when non-periodic), and whatever labels the
    system has (energy (nb,), force (nb, natoms, 3), virial (nb, 9), atom_ener, fparam,
    aparam, ...) and `system` (its index); a label the system lacks is absent (the model
    feeds it as zeros, weighted out of the loss).
    The draws are DeePMD-kit's: one numpy RandomState seeded by (rank, seed) picks the
    system (`choice` by probability) and shuffles each set as it is entered, so ranks of a
    data-parallel job draw different batches. `rng` shares another DataSystems' stream
    (DeePMD-kit's training and validation data draw from one generator).
    """

    def __init__(
        self,
        systems: Sequence[System],
        type_map: list[str],
        batch_size="auto",
        sys_probs=None,
        auto_prob: str = "prob_sys_size",
        seed: int | None = None,
        rank: int = 0,
        shuffle: bool = True,
        cache: SetCache | None = None,
        rng: np.random.RandomState | None = None,
    ):
        if not systems:
            raise InputError("systems: no system given")
        self.systems = list(systems)
        self.type_map = list(type_map)
        # Checks up front that the model's type_map names every element of the data.
        self.remaps = [s.type_remap(self.type_map) for s in self.systems]
        self.batch_size = batch_sizes(self.systems, batch_size)
        for system, size in zip(self.systems, self.batch_size, strict=True):
            if not 0 < size <= system.nframes:
                raise InputError(
                    f"batch_size: {size} for {system.path}, which has {system.nframes} "
                    "frames (1 .. nframes, or 'auto')"
                )
        self.nbatches = [max(1, s.nframes // b) for s, b in zip(self.systems, self.batch_size)]
        self.probs = system_probabilities(self.nbatches, sys_probs, auto_prob)
        if rng is None:
            rng = np.random.RandomState(None if seed is None else [rank, seed % 2**32])
        self.rng = rng
        self.last_batch: dict | None = None  # the latest sample(), for error messages
        self.cache = cache or SetCache()
        self._cursors = [_Cursor(s, self.rng, shuffle) for s in self.systems]

    def _draw(self, system_index: int | None) -> tuple[int, list[tuple[int, int]]]:
        k = (
            int(self.rng.choice(len(self.systems), p=self.probs))
            if system_index is None
            else system_index
        )
        return k, self._cursors[k].take(self.batch_size[k])

    def skip(self, system_index: int | None = None) -> None:
        """Advance the stream as sample() does, reading nothing."""
        self._draw(system_index)

    def stat_draws(self, nbatch: int) -> list[list[tuple[int, int]]]:
        """DeePMD-kit's statistics pass: nbatch batches of each system in turn, drawn from
        the stream; the (set, frame) picks of each system, repeats kept, for the
        statistics to read (data/stat_frames.py)."""
        return [
            [pick for _ in range(nbatch) for pick in self._draw(k)[1]]
            for k in range(len(self.systems))
        ]

    def sample(self, system_index: int | None = None) -> dict:
        """The next batch, from a system drawn by probability unless one is given."""
        k, picks = self._draw(system_index)
        system = self.systems[k]
        rows: dict[str, list[np.ndarray]] = {}
        for set_index, frame in picks:
            frames = self.cache.get(system, set_index)
            for key, value in frames.arrays.items():
                rows.setdefault(key, []).append(value[frame])
            if frames.atype is not None:
                rows.setdefault("atype", []).append(self.remaps[k][frames.atype[frame]])
        natoms = system.natoms
        batch = {"system": k, "path": system.path, "atype": self.remaps[k][system.atype]}
        batch["frames"] = [(system.sets[set_index], frame) for set_index, frame in picks]
        batch["serial"] = next(_SERIAL)
        for key, values in rows.items():
            data = np.stack(values)
            if key in ("coord", "force"):
                data = data.reshape(len(values), natoms, 3)
            elif key == "energy":
                data = data.reshape(-1)
            batch[key] = data
        self.last_batch = batch
        return batch


def latest_batch(*data: DataSystems | None) -> dict | None:
    """The batch sampled last from any of `data`."""
    batches = [d.last_batch for d in data if d is not None and d.last_batch is not None]
    return max(batches, key=lambda b: b["serial"], default=None)


def batch_error(batch: dict | None, message: str) -> str:
    """An op's message about frame N of a batch (ops.frame_message) naming the system, set
    and frame instead."""
    import re

    if batch is None:
        return message
    found = re.search(r"\bframe (\d+): ", message)
    if found is None or int(found.group(1)) >= len(batch["frames"]):
        return f"{batch['path']}: {message}"
    set_name, frame = batch["frames"][int(found.group(1))]
    text = message.replace(found.group(0), "", 1)
    return f"{batch['path']}/{set_name} frame {frame}: {text}"
