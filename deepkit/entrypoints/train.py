"""`deepkit train INPUT`: train a model from a DeePMD-kit style input."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _log(message: str) -> None:
    """Progress goes to stderr, so stdout stays free for what a command prints as a result."""
    print(message, file=sys.stderr, flush=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="training input, JSON or YAML")
    parser.add_argument(
        "-o", "--output", default=".", help="folder for checkpoints, lcurve.out, out.json"
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

    config = load_input(args.input)
    trainer = Trainer(
        config,
        Path(args.output),
        input_dir=Path(args.input).resolve().parent,
        log=_log,
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
