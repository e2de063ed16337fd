"""The `deepkit` command: one entry point; each sub-command lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings

from deepkit import __version__
from deepkit.errors import InputError, Stopped

# name -> (module with add_arguments(parser) and run(args), one-line help)
COMMANDS = {
    "train": ("deepkit.entrypoints.train", "train a model from a DeePMD-kit style input"),
    "freeze": ("deepkit.entrypoints.freeze", "freeze a training checkpoint into one .pb model"),
    "compress": (
        "deepkit.entrypoints.compress",
        "compress a frozen model (tabulated embedding nets)",
    ),
    "test": ("deepkit.entrypoints.test", "errors of a frozen model on labelled systems"),
    "model-devi": (
        "deepkit.entrypoints.model_devi",
        "deviation of an ensemble of models per frame",
    ),
    "show": ("deepkit.entrypoints.show", "print the metadata of a frozen model"),
    "plot": ("deepkit.entrypoints.plot", "plot a learning curve (lcurve.out) as a PNG"),
    "neighbor-stat": (
        "deepkit.entrypoints.neighbor_stat",
        "largest neighbour count per type and closest pair",
    ),
    "config": (
        "deepkit.entrypoints.config",
        "compiler and linker flags for the C API (deepkit_c.h)",
    ),
    "convert": ("deepkit.entrypoints.convert", "convert ASE-readable files <-> DeePMD npy / HDF5"),
    "doc-train-input": (
        "deepkit.entrypoints.doc_train_input",
        "print the training-input reference (markdown)",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The `deepkit` parser with one sub-parser per command of COMMANDS."""
    parser = argparse.ArgumentParser(prog="deepkit", description="Deep Potential toolkit")
    parser.add_argument("--version", action="version", version=f"deepkit {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and TensorFlow's own log messages"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show tracebacks and TensorFlow's own log messages",
        )
        importlib.import_module(module_name).add_arguments(command)
        command.set_defaults(module=module_name)
    return parser


def _quiet_tensorflow() -> None:
    """Hide TensorFlow's start-up and deprecation chatter (before TensorFlow is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # its Python-side deprecations
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    # deepkit's warnings (neighbour overflow, a checkpoint passed over) as one line each.
    warnings.formatwarning = lambda message, category, *args, **kwargs: (
        f"deepkit: warning: {message}\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Run one command; input errors print one line and return 2 (`--debug`: traceback)."""
    args = build_parser().parse_args(argv)
    # Large buffers stay pooled between steps (see BENCHMARKS.md); users may override.
    os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
    if args.debug:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")  # deepkit.tfenv would hide info
    else:
        _quiet_tensorflow()
    try:
        return importlib.import_module(args.module).run(args)
    except InputError as err:
        if args.debug:
            raise
        if not getattr(err, "quiet", False):  # RankError: rank 0 prints the job's error
            print(f"deepkit: error: {err}", file=sys.stderr)
        return 2
    except Stopped as stop:
        print(f"deepkit: {stop}", file=sys.stderr)
        return stop.exit_status
    except KeyboardInterrupt:
        print("deepkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
