"""Horovod data parallelism for `deepkit train`: detection from the launcher, the rank and
size, gradient averaging, the broadcast of rank 0's variables and learning-rate scaling.

`horovodrun -np N deepkit train input.json`, `mpiexec -n N deepkit train input.json` and
`srun` start N copies of the command; each finds its rank here (Horovod talks over Gloo
under horovodrun --gloo, over MPI under an MPI launcher). Without a launcher (or with
training.distributed = false) training runs in one process and Horovod is not imported.

Errors while the ranks set up (input, data, statistics, restart) are agreed (`agree`): every
rank says whether it failed, rank 0 prints one line for the job and all ranks exit together.
A rank that stopped alone would leave the others waiting in their first collective.
"""

from __future__ import annotations

import itertools
import math
import os

from deepkit.errors import InputError, RankError

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
        self.transport = ""  # how the ranks talk: "MPI" or "Gloo" under Horovod
        use = launched > 1 if requested is None else requested
        if not use:
            return
        from deepkit.tfenv import load

        load()  # TensorFlow first, its start-up log filtered (Horovod imports it too)

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
        self.transport = "MPI" if hvd.mpi_enabled() else "Gloo"
        if launched > 1 and self.size != launched:
            how = (
                "this Horovod was built without MPI: launch with `horovodrun --gloo`, or build "
                "it again with an MPI (`make horovod`, README 'Training on many processes')"
                if not hvd.mpi_built()
                else "the launcher's MPI is not the one Horovod was built with"
            )
            raise InputError(
                f"{launched} processes were launched, but Horovod sees {self.size}: {how}"
            )

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

    def agree(self, error: str | None) -> None:
        """Collective, once per rank before the first broadcast: each rank's set-up error
        (None: it succeeded). If any rank failed, every rank raises a RankError: rank 0 the
        job's one line (the first failing rank's message), the others a quiet one. Alone it
        returns and the caller raises its own error."""
        if self.hvd is None:
            return
        import numpy as np

        from deepkit.tfenv import tf

        text = b"\0" if error is None else b"\1" + error.encode()
        with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
            data = tf.constant(np.frombuffer(text, np.uint8))
            sizes = self.hvd.allgather(tf.constant([len(text)], tf.int64), name="agree_sizes")
            joined = self.hvd.allgather(data, name="agree_text")
            sizes, joined = sess.run([sizes, joined])
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        parts = [joined[a:b].tobytes() for a, b in itertools.pairwise(bounds)]
        failed = [(rank, p[1:].decode()) for rank, p in enumerate(parts) if p[:1] == b"\1"]
        if not failed:
            return
        first, message = failed[0]
        if len(failed) == self.size and all(m == message for _, m in failed):
            where = f"all {self.size} ranks"
        else:
            others = [str(rank) for rank, _ in failed[1:]]
            where = f"rank {first} of {self.size}" + (
                f" ({'ranks' if len(others) > 1 else 'rank'} {', '.join(others)} failed too)"
                if others
                else ""
            )
        raise RankError(f"{where}: {message}", quiet=not self.is_root)
