"""What the training loop does besides stepping, one hook each: the learning curve,
progress lines, checkpoints, the neighbour-overflow warning, the compressed-table check,
TensorBoard scalars and a profiling timeline.

The loop (trainer.Trainer._loop) calls, for every hook in order:
  begin(run)                         once, before the first step
  fetches(run, step) -> dict         extra tensors to fetch with the step that makes `step`
  after_step(run, step, feed, values)   after it, with those values
  end(run, step)                     after the last step
  interrupted(run, step)             instead of end when a signal (deepkit.train.signals)
                                     or Ctrl-C stops the loop; step: the session's step
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepkit.atomic_file import write_atomic
from deepkit.compress import TableOverflowWarning
from deepkit.data import DataSystems
from deepkit.descriptor.env_mat import NeighborOverflowWarning
from deepkit.errors import InputError
from deepkit.registry import DESCRIPTORS
from deepkit.tfenv import chrome_trace, tf, v1
from deepkit.train.graph import TrainingGraph
from deepkit.train.lcurve import LearningCurve
from deepkit.train.lr import lr_at


@dataclass
class RunState:
    """What hooks share: the session, the graph, the settings and where files go."""

    sess: Any
    graph: TrainingGraph
    config: dict
    out_dir: Path
    log: Any
    is_root: bool
    lr_scale: float
    start_step: int
    start_time: float = field(default_factory=time.perf_counter)
    run_options: Any = None  # set by a hook for the next step (profiling)
    run_metadata: Any = None
    last_checkpoint: str | None = None  # the latest checkpoint this run wrote or started from
    first_batch: dict | None = None  # the batch of the first step (and of the step-0 row)

    @property
    def training(self) -> dict:
        return self.config["training"]

    def lr(self, step: int) -> float:
        return lr_at(step, self.config["learning_rate"], self.training["numb_steps"], self.lr_scale)


class Hook:
    """Does nothing; subclasses override what they need."""

    def begin(self, run: RunState) -> None:
        """Once, before the first step."""

    def fetches(self, run: RunState, step: int) -> dict:
        """Tensors to fetch along with the training step that brings the count to `step`."""
        return {}

    def after_step(self, run: RunState, step: int, feed: dict, values: dict) -> None:
        """After the step that brought the count to `step`; values: what fetches asked."""

    def end(self, run: RunState, step: int) -> None:
        """After the last step."""

    def interrupted(self, run: RunState, step: int) -> None:
        """The loop was interrupted after `step` steps."""


def _format_seconds(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _is_display_step(run: RunState, step: int) -> bool:
    return step % run.training["disp_freq"] == 0 or step == run.training["numb_steps"]


class TrainingDiverged(InputError):
    """The loss or a gradient became NaN or infinite: training stops, no checkpoint of the
    bad step is written."""


class DivergenceHook(Hook):
    """Stops the run at the first step whose loss or (averaged) gradients are not finite,
    before any later hook saves it. Runs first."""

    def fetches(self, run: RunState, step: int) -> dict:
        return {"finite": run.graph.finite}

    def after_step(self, run: RunState, step: int, feed: dict, values: dict) -> None:
        if values["finite"]:
            return
        kept = run.last_checkpoint or "none was written"
        raise TrainingDiverged(
            f"step {step}: the loss or its gradients are NaN or infinite, training stopped "
            f"(the last checkpoint: {kept}); lower learning_rate.start_lr, check the data, "
            "or continue from that checkpoint with --restart"
        )


class LearningCurveHook(Hook):
    """lcurve.out: the loss's rmse on the step's batch (after the step) and on validation
    batches, every disp_freq steps and at the end; a first row at step 0."""

    def __init__(self, train_data: DataSystems, valid_data: DataSystems | None, append: bool):
        self.train_data, self.valid_data, self.append = train_data, valid_data, append
        self.curve: LearningCurve | None = None

    def begin(self, run: RunState) -> None:
        if run.is_root:
            self.curve = LearningCurve(
                run.out_dir / run.training["disp_file"],
                run.graph.loss.metric_names(),
                self.valid_data is not None,
                self.append,
                after_step=run.start_step,
            )
        if run.start_step == 0:
            self._write(run, 0, run.graph.feed(run.first_batch))

    def after_step(self, run: RunState, step: int, feed: dict, values: dict) -> None:
        if _is_display_step(run, step):
            self._write(run, step, feed)

    def end(self, run: RunState, step: int) -> None:
        if self.curve is not None:
            self.curve.close()

    interrupted = end

    def _write(self, run: RunState, step: int, feed: dict) -> None:
        if self.curve is None:
            return
        train = run.sess.run(run.graph.metrics, feed)
        valid = None
        if self.valid_data is not None:
            valid = evaluate(run, self.valid_data, run.training["validation_data"]["numb_btch"])
        self.curve.write(step, train, valid, run.lr(step))
        if run.training["disp_training"]:  # the row on the terminal too, as DeePMD-kit does
            for kind, values in (("trn", train), ("val", valid)):
                if values is not None:
                    errors = ", ".join(f"{m} = {values[m]:.2e}" for m in self.curve.metrics)
                    run.log(f"batch {step:7d}: {kind}: {errors}, lr = {run.lr(step):.2e}")


def evaluate(run: RunState, data: DataSystems, nbatch: int) -> dict:
    """The metrics over nbatch batches of `data`: root mean square of the per-batch rmse,
    over the batches that have the metric's label (a NaN says a batch lacks it; NaN when
    none has it)."""
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for _ in range(nbatch):
        values = run.sess.run(run.graph.metrics, run.graph.feed(data.sample()))
        for key, value in values.items():
            found = bool(np.isfinite(value))
            totals[key] = totals.get(key, 0.0) + (value**2 if found else 0.0)
            counts[key] = counts.get(key, 0) + found
    return {
        key: np.sqrt(value / counts[key]) if counts[key] else np.nan
        for key, value in totals.items()
    }


class ProgressHook(Hook):
    """ "step N/M, s/batch, ETA" on the log every disp_freq steps (disp_training,
    time_training), and a last line at the end."""

    def after_step(self, run: RunState, step: int, feed: dict, values: dict) -> None:
        if not (_is_display_step(run, step) and run.training["disp_training"]):
            return
        numb_steps = run.training["numb_steps"]
        timing = ""
        if run.training["time_training"]:
            per_batch = (time.perf_counter() - run.start_time) / (step - run.start_step)
            eta = _format_seconds(per_batch * (numb_steps - step))
            timing = f", {per_batch:.4f} s/batch, ETA {eta}"
        run.log(f"step {step}/{numb_steps}{timing}")

    def end(self, run: RunState, step: int) -> None:
        prefix = run.out_dir / run.training["save_ckpt"]
        run.log(f"finished {run.training['numb_steps']} steps; checkpoint {prefix}-{step}")


class CheckpointHook(Hook):
    """A checkpoint every save_freq steps and at the end (rank 0); on interruption, one at
    the current step so that --restart continues from it."""

    def after_step(self, run: RunState, step: int, feed: dict, values: dict) -> None:
        numb_steps = run.training["numb_steps"]
        if run.is_root and (step % run.training["save_freq"] == 0 or step == numb_steps):
            self._save(run, step)

    def interrupted(self, run: RunState, step: int) -> None:
        if not run.is_root:
            return
        prefix = run.out_dir / run.training["save_ckpt"]
        done = Path(f"{prefix}-{step}.index").exists() and run.last_checkpoint == f"{prefix}-{step}"
        path = f"{prefix}-{step}" if done else self._save(run, step)
        run.log(f"stopped at step {step}; checkpoint {path}; continue with --restart {run.out_dir}")

    @staticmethod
    def _save(run: RunState, step: int) -> str:
        prefix = str(run.out_dir / run.training["save_ckpt"])
        try:
            path = run.graph.saver.save(run.sess, prefix, global_step=step)
            link_latest(Path(path), Path(prefix))
        except (OSError, tf.errors.OpError) as err:  # a full disk, no permission, ulimit -f
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise InputError(
                f"cannot write checkpoint {prefix}-{step}: {reason} (earlier checkpoints are kept)"
            ) from err
        run.last_checkpoint = path
        return path


def link_latest(checkpoint: Path, prefix: Path) -> None:
    """PREFIX.index, PREFIX.meta, PREFIX.data-* as links to the files of `checkpoint`
    (PREFIX-STEP), as DeePMD-kit makes them: `model.ckpt` names the latest checkpoint. Each
    link is replaced atomically."""
    for target in checkpoint.parent.glob(f"{checkpoint.name}.*"):
        link = prefix.parent / (prefix.name + target.name[len(checkpoint.name) :])
        temporary = link.with_name(f".{link.name}.tmp")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(target.name)
        os.replace(temporary, link)


class NeighborOverflowHook(Hook):
    """Warns once when an atom of a training batch has more neighbours of a type than sel."""

    def __init__(self) -> None:
        self.warned = False

    def fetches(self, run: RunState, step: int) -> dict:
        return {} if self.warned else {"max_count": run.graph.outputs["max_count"]}

    def after_step(self, run: RunState, step: int, feed: dict, values: dict) -> None:
        if "max_count" not in values:
            return
        sel = self._sel(run)
        largest = values["max_count"].max(axis=0)
        if np.any(largest > sel):
            self.warned = True
            warnings.warn(
                f"step {step}: up to {largest.tolist()} neighbours per type within rcut, more "
                f"than sel {list(sel)}: the farthest are dropped; raise sel",
                NeighborOverflowWarning,
                stacklevel=1,
            )

    @staticmethod
    def _sel(run: RunState) -> np.ndarray:
        # The sels of every environment matrix, in the order of the max_count columns.
        descriptor = run.config["model"]["descriptor"]
        parts = DESCRIPTORS.get(descriptor["type"]).neighbor_parts(descriptor)
        return np.concatenate([np.atleast_1d(part["sel"]) for _, part in parts])


class TableCheckHook(Hook):
    """A compressed model being fine-tuned (--init-frz-model): every check_frequency steps,
    warn when inputs of the batch lie beyond the tables."""

    def __init__(self, every: int):
        self.every = every

    def after_step(self, run: RunState, step: int, feed: dict, values: dict) -> None:
        if step % self.every:
            return
        beyond = int(run.sess.run(run.graph.outputs["table_overflow"], feed).sum())
        if beyond:
            warnings.warn(
                f"step {step}: {beyond} environment-matrix inputs of the batch lie beyond the "
                "compressed model's table (atoms closer than its training data's closest "
                "pair); the table's end value is used there",
                TableOverflowWarning,
                stacklevel=1,
            )


class TensorBoardHook(Hook):
    """training.tensorboard: the lcurve's training metrics and the learning rate as
    TensorBoard scalars every tensorboard_freq steps, in tensorboard_log_dir (relative to
    the output folder). Fetched with the step itself: no extra evaluation."""

    def begin(self, run: RunState) -> None:
        log_dir = run.out_dir / run.training["tensorboard_log_dir"]
        self.writer = v1.summary.FileWriter(str(log_dir), run.graph.graph)
        run.log(f"TensorBoard summaries in {log_dir} (tensorboard --logdir {log_dir})")

    def fetches(self, run: RunState, step: int) -> dict:
        if step % run.training["tensorboard_freq"]:
            return {}
        return {"tensorboard": {**run.graph.metrics, "lr": run.graph.lr}}

    def after_step(self, run: RunState, step: int, feed: dict, values: dict) -> None:
        if "tensorboard" not in values:
            return
        summary = v1.Summary(
            value=[
                v1.Summary.Value(tag=f"train/{name}", simple_value=float(value))
                for name, value in values["tensorboard"].items()
            ]
        )
        self.writer.add_summary(summary, step)

    def end(self, run: RunState, step: int) -> None:
        self.writer.close()

    interrupted = end


class ProfilingHook(Hook):
    """training.profiling: a TensorFlow timeline (Chrome trace format, chrome://tracing or
    Perfetto) of one training step, the second of the run (the first includes graph
    set-up), written to profiling_file (relative to the output folder)."""

    def fetches(self, run: RunState, step: int) -> dict:
        if step == run.start_step + 2:
            run.run_options = v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE)
            run.run_metadata = v1.RunMetadata()
        return {}

    def after_step(self, run: RunState, step: int, feed: dict, values: dict) -> None:
        if run.run_metadata is None:
            return
        trace = chrome_trace(run.run_metadata.step_stats)
        path = run.out_dir / run.training["profiling_file"]
        if run.is_root:
            write_atomic(path, trace)
            run.log(f"timeline of step {step} in {path}")
        run.run_options = run.run_metadata = None


def table_check_frequency(frozen_consts: dict | None, outputs: dict) -> int:
    """deepkit compress --check-frequency of a compressed --init-frz-model, else -1."""
    from deepkit.model import names

    if frozen_consts is None or "table_overflow" not in outputs:
        return -1
    settings = frozen_consts.get(names.ATTR_COMPRESS)
    return json.loads(settings.item().decode())["check_frequency"] if settings is not None else -1
