"""TensorFlow for deepkit, imported once with its start-up log kept off the terminal.

Every deepkit module takes TensorFlow from here (`from deepkit.tfenv import tf`), never
with `import tensorflow` (tests/test_quiet.py checks). On CPUs where TensorFlow turns
oneDNN on (Intel by default, anywhere with TF_ENABLE_ONEDNN_OPTS=1) its libraries print
"oneDNN custom operations are on" through absl before absl's logging is set up, so
TF_CPP_MIN_LOG_LEVEL does not hide it. The import therefore runs with file descriptor 2
sent to a temporary file; afterwards every line is written back except absl records below
TF_CPP_MIN_LOG_LEVEL, which defaults to 2 (errors and worse shown), as in the C API.
Set TF_CPP_MIN_LOG_LEVEL=0 (or pass `--debug` to the command) to see everything.
Numerics are untouched: oneDNN stays TensorFlow's (and the user's) choice.

The import happens on first use: `tf` and `v1` (tf.compat.v1) stand in for the modules
until an attribute is read, so importing deepkit's modules, reading and checking an input
(the schema comes from the registered classes) costs no TensorFlow import; `load()` imports
it explicitly (e.g. before Horovod, which imports TensorFlow itself).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["chrome_trace", "filter_startup_log", "load", "tf", "v1"]

_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"
# absl's record prefix: severity letter, MMDD, time, thread id, file:line]
_ABSL_RECORD = re.compile(r"^([IWEF])\d{4} \d+:\d+:\d+\.\d+\s+\d+\s+\S+:\d+\] ")
_SEVERITY = "IWEF"


def filter_startup_log(text: str, min_level: int) -> str:
    """The lines of `text` that TF_CPP_MIN_LOG_LEVEL = min_level lets through.

    absl records below min_level go (0 info, 1 warning, 2 error, 3 fatal), and so does
    absl's preamble (a warning); any other line, whoever wrote it, is kept.
    """
    kept = []
    for line in text.splitlines(keepends=True):
        match = _ABSL_RECORD.match(line)
        if line.startswith(_ABSL_PREAMBLE):
            severity = 1
        elif match:
            severity = _SEVERITY.index(match.group(1))
        else:
            severity = len(_SEVERITY)
        if severity >= min_level:
            kept.append(line)
    return "".join(kept)


def _min_log_level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


@contextlib.contextmanager
def _filtered_native_stderr() -> Iterator[None]:
    """File descriptor 2 goes to a temporary file, filtered back on exit."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # stderr closed or not a file
        yield
        return
    try:
        with tempfile.TemporaryFile() as capture:
            os.dup2(capture.fileno(), 2)
            try:
                yield
            finally:
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    sys.stderr.flush()
                os.dup2(saved, 2)
            capture.seek(0)
            kept = filter_startup_log(capture.read().decode(errors="replace"), _min_log_level())
    finally:
        os.close(saved)
    if kept:
        sys.stderr.write(kept)
        sys.stderr.flush()


def _import_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:  # the caller imported it first: nothing left to hide
        return sys.modules["tensorflow"]
    with _filtered_native_stderr():
        import tensorflow

    return tensorflow


class _OnFirstUse(types.ModuleType):
    """Stands in for a module that `load` returns, loading it when an attribute is read."""

    def __init__(self, name: str, load: Callable[[], types.ModuleType]) -> None:
        super().__init__(name)
        self._load, self._module = load, None

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr != "__version__":  # inspect / pytest probes
            raise AttributeError(attr)
        if self._module is None:
            self._module = self._load()
        return getattr(self._module, attr)


def load() -> types.ModuleType:
    """TensorFlow, imported now (once, its start-up log filtered)."""
    return _import_tensorflow()


tf: Any = _OnFirstUse("tensorflow", load)
v1: Any = _OnFirstUse("tensorflow.compat.v1", lambda: load().compat.v1)


def chrome_trace(step_stats) -> str:
    """A traced step's RunMetadata.step_stats as a Chrome trace (JSON text), through
    TensorFlow's timeline module, which tf.compat.v1 does not export."""
    from tensorflow.python.client import timeline

    return timeline.Timeline(step_stats).generate_chrome_trace_format()
