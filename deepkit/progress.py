"""A one-line progress counter on stderr for long work (only on a terminal)."""

from __future__ import annotations

import sys
import time
from typing import Self


class Progress:
    """`with Progress("neighbor-stat", total) as p: ... p.advance()` redraws at most 10
    times a second and clears its line at the end; silent when stderr is not a terminal."""

    def __init__(self, label: str, total: int, unit: str = ""):
        self.label, self.total, self.unit = label, total, unit
        self.done, self._last = 0, 0.0
        self.enabled = sys.stderr.isatty()

    def __enter__(self) -> Self:
        return self

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.1 or self.done == self.total):
            self._last = now
            sys.stderr.write(f"\r{self.label}: {self.done}/{self.total} {self.unit}")
            sys.stderr.flush()

    def __exit__(self, *exc) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
