"""`deepkit config --cflags --libs`: flags to compile and link a C/C++ program against the
deepkit C API (deepkit_c.h, libdeepkit_c.so), like pkg-config; `--lammps-plugin`: the LAMMPS
plugin's path."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cflags", action="store_true", help="compiler flags (include path)")
    parser.add_argument(
        "--libs", action="store_true", help="linker flags, run-time search path included"
    )
    parser.add_argument("--libdir", action="store_true", help="folder of libdeepkit_c.so")
    parser.add_argument("--includedir", action="store_true", help="folder of deepkit_c.h")
    parser.add_argument(
        "--lammps-plugin",
        action="store_true",
        help="the LAMMPS plugin (pair_style deepkit) for `plugin load PATH`",
    )


def run(args: argparse.Namespace) -> int:
    from deepkit import capi

    words = []
    if args.cflags:
        words.append(capi.cflags())
    if args.libs:
        words.append(capi.libs())
    if args.libdir:
        words.append(str(capi.library_dir()))
    if args.includedir:
        words.append(str(capi.include_dir()))
    if args.lammps_plugin:
        from deepkit.lammps import plugin_path

        words.append(str(plugin_path()))
    if not words:
        words = [capi.cflags(), capi.libs()]
    print(" ".join(words))
    return 0
