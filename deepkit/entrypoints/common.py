"""Arguments shared by several commands."""

from __future__ import annotations

import argparse


def add_systems_argument(parser: argparse.ArgumentParser) -> None:
    """`-s/--system SYSTEM...`, the same for every command that reads data systems."""
    parser.add_argument(
        "-s",
        "--system",
        nargs="+",
        required=True,
        help="systems: directories (searched recursively), globs, HDF5 files or file.h5#/group",
    )
