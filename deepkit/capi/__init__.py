"""Where the C API for frozen models lives, and the flags to build against it.

`deepkit config --cflags --libs` (or `python -m deepkit.capi --cflags --libs`) prints them:

    cc md.c $(deepkit config --cflags) $(deepkit config --libs) -o md

The library (libdeepkit_c.so, header deepkit_c.h) is built with deepkit's ops by pip.
"""

from __future__ import annotations

from pathlib import Path

from deepkit.errors import InputError

HERE = Path(__file__).resolve().parent


def library_dir() -> Path:
    """The folder holding libdeepkit_c.so; InputError if deepkit was built without it."""
    if not (HERE / "libdeepkit_c.so").exists():
        raise InputError(
            f"the deepkit C API library is missing from {HERE}: reinstall deepkit with pip "
            "(`pip install --no-build-isolation -e .`), which builds it with the ops"
        )
    return HERE


def include_dir() -> Path:
    """The folder holding deepkit_c.h."""
    library_dir()
    return HERE / "include"


def cflags() -> str:
    """Compiler flags: the include path of deepkit_c.h."""
    return f"-I{include_dir()}"


def libs() -> str:
    """Linker flags, the run-time search path included (no LD_LIBRARY_PATH needed)."""
    lib = library_dir()
    return f"-L{lib} -Wl,-rpath,{lib} -ldeepkit_c"
