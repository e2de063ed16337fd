"""`deepkit convert`: any format ASE reads <-> DeePMD npy / HDF5 systems."""

from __future__ import annotations

import argparse
from pathlib import Path

FORMATS = ("npy", "hdf5", "extxyz")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs", nargs="+", help="files ASE reads, or DeePMD npy systems / HDF5 files"
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        help="output: a folder (npy), a .h5 file (hdf5) or an .xyz file (extxyz)",
    )
    parser.add_argument(
        "--to",
        choices=FORMATS,
        help="output format (default: from the output name; npy for a folder)",
    )
    parser.add_argument("--type-map", nargs="+", help="element of each type index")
    parser.add_argument("--format", help="ASE format of the inputs (default: guessed by ASE)")


def run(args: argparse.Namespace) -> int:
    from deepkit.data.convert import convert

    to = args.to
    if to is None:
        suffix = args.output.suffix
        to = (
            "hdf5"
            if suffix in (".h5", ".hdf5")
            else "extxyz"
            if suffix in (".xyz", ".extxyz")
            else "npy"
        )
    for line in convert(args.inputs, args.output, to, args.type_map, args.format):
        print(f"wrote {line}")
    return 0
