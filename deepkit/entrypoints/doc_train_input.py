"""`deepkit doc-train-input`: print the training-input reference made from the schema."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", help="write to this file instead of stdout")


def run(args: argparse.Namespace) -> int:
    from deepkit.config import doc_markdown

    text = doc_markdown() + "\n"
    if args.output:
        with open(args.output, "w") as out:
            out.write(text)
    else:
        print(text, end="")
    return 0
