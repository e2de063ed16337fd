"""The user-facing error type: one line that names the file, key or array at fault."""


class InputError(Exception):
    """Bad input from the user (a file, a key, an array). The command line prints its
    message on one line and exits with status 2; `--debug` shows the traceback."""


class RankError(InputError):
    """A multi-process training job's error, agreed by all its ranks (which failed, and why):
    rank 0 prints it; on the other ranks it is `quiet`, so that the job prints one line and
    every rank exits with status 2 together."""

    def __init__(self, message: str, quiet: bool = False):
        super().__init__(message)
        self.quiet = quiet


class Stopped(Exception):
    """A signal stopped a long command after it saved its work (training: a checkpoint).
    exit_status: 128 + the signal's number, what a shell reports for a process it ended."""

    def __init__(self, message: str, signal_name: str):
        import signal

        super().__init__(message)
        self.exit_status = 128 + int(getattr(signal, signal_name))
