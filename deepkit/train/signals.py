"""Signals that stop training cleanly: SIGTERM (what schedulers and `timeout` send first),
SIGHUP, SIGUSR1 and SIGINT (Ctrl-C) ask the loop to finish its step, save a checkpoint and
stop. A second SIGINT interrupts at once, as Python does by default. A SIGINT that the
process was started ignoring (a background job of a script) stays ignored: SIGTERM saves."""

from __future__ import annotations

import signal
import threading
from typing import Self

_GRACEFUL = ("SIGTERM", "SIGHUP", "SIGUSR1", "SIGINT")


class StopRequest:
    """A context manager: while it is active, the signals above set `signal_name` instead
    of ending the process. Outside the main thread (where handlers cannot be set) it does
    nothing."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.signal_name: str | None = None
        self._previous: dict = {}

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def _handle(self, signum, frame) -> None:
        if self.signal_name == "SIGINT" and signum == signal.SIGINT:
            raise KeyboardInterrupt  # the second Ctrl-C: do not wait for the step
        self.signal_name = signal.Signals(signum).name

    def __enter__(self) -> Self:
        if not self.enabled or threading.current_thread() is not threading.main_thread():
            return self
        for name in _GRACEFUL:
            number = getattr(signal, name)
            if signal.getsignal(number) is signal.SIG_IGN:
                continue
            self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()
