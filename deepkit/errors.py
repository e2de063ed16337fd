"""The user-facing error type: one line that names the file, key or array at fault."""


class InputError(Exception):
    """Bad input from the user (a file, a key, an array). The command line prints its
    message on one line and exits with status 2; `--debug` shows the traceback."""


class Stopped(Exception):
    """A signal stopped a long command after it saved its work (training: a checkpoint).
    exit_status: 128 + the signal's number, what a shell reports for a process it ended."""

    def __init__(self, message: str, signal_name: str):
        import signal

        super().__init__(message)
        self.exit_status = 128 + int(getattr(signal, signal_name))
