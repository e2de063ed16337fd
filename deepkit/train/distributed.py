"""Horovod data parallelism for `deepkit train`: detection from the launcher, the rank and
size, gradient averaging, the broadcast of rank 0's variables and learning-rate scaling.

`horovodrun -np N deepkit train input.json` and `mpirun -np N deepkit train input.json`
start N copies of the command; each finds its rank here. Without a launcher (or with
training.distributed = false) training runs in one process and Horovod is not imported.
"""

from __future__ import annotations

import math
import os

from deepkit.errors import InputError

# Set by horovodrun (Gloo and MPI), Open MPI's mpirun, MPICH / Intel MPI (PMI) and Slurm.
_SIZE_VARIABLES = ("HOROVOD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE")


def launched_processes() -> int:
    """How many processes the launcher started (1 without one)."""
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


class Workers:
    """The data-parallel group this process belongs to: rank 0 of 1 without Horovod."""

    def __init__(self, requested: bool | None = None):
        launched = launched_processes()
        self.hvd = None
        self.rank, self.size = 0, 1
        use = launched > 1 if requested is None else requested
        if not use:
            return
        import deepkit.tfenv  # noqa: F401  (TensorFlow first, its start-up log filtered)

        try:
            import horovod.tensorflow as hvd
        except ImportError as err:
            raise InputError(
                f"{launched} processes were launched (or training.distributed is true), but "
                f"Horovod for TensorFlow does not import ({err}); install it with `make "
                "horovod` (README, 'Training on many processes')"
            ) from None
        hvd.init()
        self.hvd, self.rank, self.size = hvd, hvd.rank(), hvd.size()

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def lr_scale(self, scale_by_worker: str) -> float:
        """DeePMD-kit's scale_by_worker: the learning rate grows with the effective batch."""
        return {"linear": float(self.size), "sqrt": math.sqrt(self.size), "none": 1.0}[
            scale_by_worker
        ]

    def optimizer(self, optimizer):
        """Gradients averaged over the workers (allreduce inside the static graph)."""
        return optimizer if self.hvd is None else self.hvd.DistributedOptimizer(optimizer)

    def broadcast_op(self):
        """An op that copies rank 0's global variables to every rank (None alone)."""
        return None if self.hvd is None else self.hvd.broadcast_global_variables(0)

    def allgather_scalar(self, value: float) -> list[float]:
        """value of every rank, in rank order (graph mode: its own small session)."""
        if self.hvd is None:
            return [value]
        import numpy as np

        from deepkit.tfenv import tf

        with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
            gathered = self.hvd.allgather(tf.constant(np.array([value], np.float64)))
            return sess.run(gathered).tolist()
