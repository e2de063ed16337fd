"""`deepkit train INPUT`: train a model from a DeePMD-kit style input."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from deepkit.errors import InputError


def _logger(log_path: str | None) -> Callable[[str], None]:
    """Progress goes to stderr, so stdout stays free for what a command prints as a result;
    with --log-path to that file too."""
    log_file = None if log_path is None else open(log_path, "a", buffering=1)  # noqa: SIM115

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)
        if log_file is not None:
            log_file.write(message + "\n")

    return log


def _output(spec: str) -> tuple[Path, str]:
    """(folder, name of the normalised input) from -o: a folder, or dp's file name."""
    path = Path(spec)
    if path.suffix in (".json", ".yaml", ".yml"):
        return path.parent, path.with_suffix(".json").name
    return path, "out.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="training input, JSON or YAML")
    parser.add_argument(
        "-o",
        "--output",
        default=".",
        help="folder for checkpoints, lcurve.out and out.json (default: here); a name ending "
        "in .json or .yaml names the normalised input instead, as `dp train -o` does",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="start afresh in a folder that holds a previous run (its files are overwritten)",
    )
    parser.add_argument(
        "--skip-neighbor-stat",
        action="store_true",
        help="skip the scan of the training data for neighbour counts and the closest pair "
        "(sel must then be a list; compression will need --min-nbor-dist)",
    )
    parser.add_argument(
        "-l", "--log-path", help="also write the progress messages to this file (appended)"
    )
    start = parser.add_mutually_exclusive_group()
    start.add_argument(
        "--restart",
        help="continue from a checkpoint (prefix or folder): same step, "
        "same learning-rate position, lcurve appended",
    )
    start.add_argument("--init-model", help="start from a checkpoint's weights, at step 0")
    start.add_argument(
        "--init-frz-model",
        help="start from a frozen model's weights and statistics, at step 0 (a compressed "
        "model keeps its tables: the fitting net is fine-tuned)",
    )

    parser.add_argument(
        "-m",
        "--mpi-log",
        choices=("master", "workers", "collect"),
        default="master",
        help="under Horovod: progress from rank 0 only (master, the default) or from every "
        "rank, prefixed with its rank (workers; collect is the same here)",
    )


def _threads(*names: str) -> int:
    for name in names:
        if os.environ.get(name):
            return int(os.environ[name])
    return 0


def run(args: argparse.Namespace) -> int:
    from deepkit.config import load_input
    from deepkit.train.trainer import Trainer

    try:
        config = load_input(args.input)  # checked before TensorFlow is imported
    except InputError as err:
        from deepkit.train.distributed import Workers, launched_processes

        if launched_processes() > 1:  # the other ranks wait for this one: stop them all
            Workers().agree(str(err))
        raise
    out_dir, out_json = _output(args.output)
    trainer = Trainer(
        config,
        out_dir,
        input_dir=Path(args.input).resolve().parent,
        log=_logger(args.log_path),
        out_json=out_json,
        force=args.force,
        skip_neighbor_stat=args.skip_neighbor_stat,
        log_all_ranks=args.mpi_log != "master",
        intra_threads=_threads(
            "DP_INTRA_OP_PARALLELISM_THREADS", "TF_INTRA_OP_PARALLELISM_THREADS"
        ),
        inter_threads=_threads(
            "DP_INTER_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS"
        ),
    )
    trainer.run(
        restart=args.restart, init_model=args.init_model, init_frz_model=args.init_frz_model
    )
    return 0
