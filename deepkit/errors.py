"""The user-facing error type: one line that names the file, key or array at fault."""


class InputError(Exception):
    """Bad input from the user (a file, a key, an array). The command line prints its
    message on one line and exits with status 2; `--debug` shows the traceback."""
