"""The training run: data, statistics, the training graph, the loop and its hooks, restart."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np

from deepkit.config import write_json
from deepkit.data import DataSystems, SetCache, expand_systems
from deepkit.data.batching import batch_error, latest_batch
from deepkit.data.neighbor_stat import neighbor_stat, sel_from_counts
from deepkit.errors import InputError, RankError, Stopped
from deepkit.model import names
from deepkit.model.base import make_model
from deepkit.model.frozen import load_variables, read_constants, restore_model, train_input
from deepkit.ops import frame_message
from deepkit.registry import DESCRIPTORS
from deepkit.tfenv import tf, v1
from deepkit.train.checkpoint import checkpoint_path, checkpoints_by_step, remove_leftovers
from deepkit.train.distributed import Workers
from deepkit.train.graph import TrainingGraph, build_training_graph
from deepkit.train.hooks import (
    CheckpointHook,
    DivergenceHook,
    Hook,
    LearningCurveHook,
    NeighborOverflowHook,
    ProfilingHook,
    ProgressHook,
    RunState,
    TableCheckHook,
    TensorBoardHook,
    table_check_frequency,
)
from deepkit.train.lr import schedule_message
from deepkit.train.signals import StopRequest

# Not taken from a frozen model by --init-frz-model: training state and data statistics.
_FROZEN_SKIP = (
    "Adam",
    "beta1_power",
    "beta2_power",
    "global_step",
    names.MIN_NBOR_DIST,
    names.TRAIN_INPUT,
)


class Trainer:
    """Trains the model an input describes. Files go to out_dir: out.json (the normalised
    input, sel resolved), lcurve.out, checkpoints (save_ckpt-STEP.*, `checkpoint`).

    The config given is never changed: what the run resolves (sel "auto", the descriptor
    of --init-frz-model) goes into a copy, `self.config`, which out.json records.

    Under a Horovod launcher (deepkit.train.distributed) every process runs this: each
    draws its own batches, gradients are averaged, rank 0 computes the statistics, its
    variables are broadcast at the start, and only rank 0 writes files and logs."""

    def __init__(
        self,
        config: dict,
        out_dir: Path,
        input_dir: Path | None = None,
        intra_threads: int = 0,
        inter_threads: int = 0,
        log=print,
        log_all_ranks: bool = False,
        out_json: str = "out.json",
        force: bool = False,
        skip_neighbor_stat: bool = False,
    ):
        self.config = copy.deepcopy(config)
        self.out_dir, self.log = Path(out_dir), log
        self.out_json = out_json  # name of the normalised input written to out_dir
        self.force = force  # a fresh run may overwrite a previous one in out_dir
        self.skip_neighbor_stat = skip_neighbor_stat
        self.min_nbor_dist = -1.0  # from the neighbour scan; <= 0: unknown
        self.input_dir = input_dir
        self.threads = (intra_threads, inter_threads)
        self.training = self.config["training"]
        self.frozen: tuple[str, dict] | None = None  # --init-frz-model: (path, constants)
        self.workers = Workers(requested=False)  # one process until run() looks
        self.lr_scale = 1.0
        self.log_all_ranks = log_all_ranks  # --mpi-log workers
        self.restarted_from: str | None = None  # the checkpoint --restart continued

    # -- set-up ---------------------------------------------------------------------
    def _data(self, fresh: bool) -> None:
        type_map = self.config["model"]["type_map"]
        cache = SetCache()
        train, valid = self.training["training_data"], self.training["validation_data"]
        systems = expand_systems(train["systems"], self.input_dir)
        valid_systems = None if valid is None else expand_systems(valid["systems"], self.input_dir)
        self._neighbor_scan(systems, need_min_dist=fresh and self.frozen is None)
        self.train_data = DataSystems(
            systems,
            type_map,
            train["batch_size"],
            train["sys_probs"],
            train["auto_prob"],
            seed=self.training["seed"],
            rank=self.workers.rank,
            cache=cache,
        )
        self.valid_data = None
        if valid is not None:
            self.valid_data = DataSystems(
                valid_systems,
                type_map,
                valid["batch_size"],
                valid["sys_probs"],
                valid["auto_prob"],
                cache=cache,
                rng=self.train_data.rng,  # DeePMD-kit's one generator for both
            )

    def _neighbor_scan(self, systems, need_min_dist: bool) -> None:
        """One pass over the training data for sel "auto" and the closest pair distance
        (kept with the model for compression), unless --skip-neighbor-stat."""
        descriptor = self.config["model"]["descriptor"]
        parts = DESCRIPTORS.get(descriptor["type"]).neighbor_parts(descriptor)
        auto = [(path, part) for path, part in parts if isinstance(part["sel"], str)]
        if self.skip_neighbor_stat:
            if auto:
                path, part = auto[0]
                raise InputError(
                    f"model.descriptor{path}.sel: {part['sel']!r} needs the neighbour "
                    "statistics of the training data: drop --skip-neighbor-stat or give sel"
                )
            return
        if not (auto or need_min_dist):
            return
        # One pass per cut-off that needs counts (a hybrid's parts may differ); the
        # closest pair comes from any of them.
        # A type-blind part (se_atten) counts neighbours of any type in one block.
        keys = {(part["rcut"], _type_blind(part)) for _, part in auto} or {
            (max(p["rcut"] for _, p in parts), False)
        }
        type_map = self.config["model"]["type_map"]
        stats = {key: neighbor_stat(systems, type_map, *key) for key in sorted(keys)}
        min_dist = min(found for _, found in stats.values())
        self.min_nbor_dist = min_dist if np.isfinite(min_dist) else -1.0
        for path, part in auto:
            counts = stats[(part["rcut"], _type_blind(part))][0]
            part["sel"] = sel_from_counts(part["sel"], counts)
            self.log(f"sel{path} {part['sel']} (from the training data)")

    def _frozen_start(self, path: str) -> None:
        """--init-frz-model: the frozen model's descriptor (and tables) replace the input's;
        its statistics and weights are used."""
        self.frozen = (path, read_constants(path))
        frozen_model = train_input(self.frozen[1], path)["model"]
        if frozen_model["type_map"] != self.config["model"]["type_map"]:
            raise InputError(
                f"{path}: type_map {frozen_model['type_map']} differs from the input's "
                f"{self.config['model']['type_map']}"
            )
        self.config["model"]["descriptor"] = frozen_model["descriptor"]

    def _model(self, fresh: bool):
        """The model with its statistics: a fresh start takes them, as DeePMD-kit does,
        from its statistics pass over the training stream (data_stat_nbatch batches of
        each system in turn, drawn on every rank so the streams stay DeePMD-kit's), then
        the stream skips the data loader's probe draw; the same training.seed then gives
        DeePMD-kit's statistics and batches."""
        model = make_model(self.config["model"])
        draws = self.train_data.stat_draws(model.data_stat_nbatch) if fresh else None
        if self.frozen is not None:
            restore_model(model, self.frozen[1], self.frozen[0])
        elif fresh and self.workers.is_root:  # the other ranks get them by broadcast
            self.log(
                f"statistics from {model.data_stat_nbatch} batches of each of "
                f"{len(self.train_data.systems)} training systems"
            )
            model.compute_statistics(self.train_data.systems, draws)
            model.min_nbor_dist = self.min_nbor_dist
        self.train_data.skip()
        return model

    def _hooks(self, graph: TrainingGraph, append: bool) -> list[Hook]:
        hooks: list[Hook] = [DivergenceHook()]  # first: a bad step reaches no other hook
        check_every = table_check_frequency(
            None if self.frozen is None else self.frozen[1], graph.outputs
        )
        if check_every > 0:
            hooks.append(TableCheckHook(check_every))
        hooks += [
            NeighborOverflowHook(),
            LearningCurveHook(self.train_data, self.valid_data, append),
            ProgressHook(),
            CheckpointHook(),
        ]
        if self.training["tensorboard"] and self.workers.is_root:
            hooks.append(TensorBoardHook())
        if self.training["profiling"]:
            hooks.append(ProfilingHook())
        return hooks

    # -- running ------------------------------------------------------------------------
    def run(
        self,
        restart: str | None = None,
        init_model: str | None = None,
        init_frz_model: str | None = None,
    ) -> None:
        """Train from scratch, or continue (restart), or start from weights (init_model:
        a checkpoint; init_frz_model: a frozen model)."""
        self.workers = Workers(self.training["distributed"])
        self.lr_scale = self.workers.lr_scale(self.config["learning_rate"]["scale_by_worker"])
        try:
            self._run(restart, init_model, init_frz_model)
        except InputError as err:
            if self.workers.size == 1 or isinstance(err, RankError):
                raise
            raise InputError(f"rank {self.workers.rank} of {self.workers.size}: {err}") from None

    def _run(self, restart, init_model, init_frz_model) -> None:
        try:
            graph = self._prepare(restart, init_model, init_frz_model)
        except InputError as err:
            self.workers.agree(str(err))  # with other ranks: all stop, rank 0 says why
            raise
        session_config = v1.ConfigProto(
            intra_op_parallelism_threads=self.threads[0],
            inter_op_parallelism_threads=self.threads[1],
        )
        with v1.Session(graph=graph.graph, config=session_config) as sess:
            try:
                self._start_values(sess, graph, restart, init_model)
            except InputError as err:
                self.workers.agree(str(err))
                raise
            self.workers.agree(None)
            if graph.broadcast is not None:
                sess.run(graph.broadcast)  # rank 0's statistics, weights and step everywhere
            self._loop(sess, graph, append=restart is not None)
            self._check_ranks_agree(sess)

    def _prepare(self, restart, init_model, init_frz_model) -> TrainingGraph:
        """Everything before the session: folder, data, statistics, the training graph."""
        if not self.workers.is_root:
            log, rank = self.log, self.workers.rank
            self.log = (
                (lambda m: log(f"rank {rank}: {m}")) if self.log_all_ranks else (lambda m: None)
            )
        if self.workers.size > 1:
            batch = self.training["training_data"]["batch_size"]
            self.log(
                f"Horovod: {self.workers.size} ranks over {self.workers.transport}, each its "
                f"own batches (batch_size "
                f"{batch} per rank), gradients averaged; learning rate x{self.lr_scale:g} "
                f"(scale_by_worker {self.config['learning_rate']['scale_by_worker']})"
            )
        if restart is None and self.workers.is_root:
            self._check_fresh_folder()
        if init_frz_model:
            self._frozen_start(init_frz_model)
        fresh = restart is None and init_model is None
        self._data(fresh)
        if self.workers.is_root:
            self.log(systems_table("training", self.train_data))
            if self.valid_data is not None:
                self.log(systems_table("validation", self.valid_data))
            self._check_writable()
            write_json(self.config, self.out_dir / self.out_json)
        model = self._model(fresh)
        # deepkit's AVX2 products train faster on CPUs that have them (ops.cpu_products);
        # frozen models are built again with TensorFlow's and pick theirs when loaded.
        graph = build_training_graph(
            model, self.config, self.workers, self.lr_scale, cpu_products=True
        )
        self.graph = graph
        return graph

    def _start_values(self, sess, graph: TrainingGraph, restart, init_model) -> None:
        """Initial values: fresh, or from a checkpoint or a frozen model (before the
        broadcast of rank 0's)."""
        sess.run(graph.init)
        if restart:
            path = checkpoint_path(restart)
            _restore(graph.saver, sess, path)
            sess.run(graph.train_input.initializer)  # this run's input, not the saved one
            self.restarted_from = path
            if self.workers.is_root:
                self._tidy_after_kill(graph)
            self.log(f"restart from {path} at step {int(sess.run(graph.global_step))}")
        elif init_model:
            path = checkpoint_path(init_model)
            _restore(graph.model_saver, sess, path)
            self.log(f"weights from {path}; training starts at step 0")
        elif self.frozen is not None:
            path, consts = self.frozen
            count = load_variables(sess, consts, path, skip=_FROZEN_SKIP)
            self.log(f"{count} weight arrays from {path}")

    def _tidy_after_kill(self, graph: TrainingGraph) -> None:
        """A restart: what killed saves left goes, and max_ckpt_keep counts the checkpoints
        already in the folder (a new Saver knows only its own)."""
        prefix = self.out_dir / self.training["save_ckpt"]
        removed = remove_leftovers(prefix.parent, prefix.name)
        if removed:
            self.log(f"removed what an interrupted save left: {', '.join(sorted(removed))}")
        graph.saver.recover_last_checkpoints(checkpoints_by_step(prefix.parent, prefix.name))

    def _check_writable(self) -> None:
        """The output folder and the checkpoints' folder take files, checked before any
        work (a full or read-only disk would otherwise show at the first save)."""
        prefix = self.out_dir / self.training["save_ckpt"]
        for folder, key in ((self.out_dir, "-o"), (prefix.parent, "training.save_ckpt")):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryFile(dir=folder):
                    pass
            except OSError as err:
                raise InputError(f"{key}: cannot write in {folder} ({err.strerror})") from None

    def _check_fresh_folder(self) -> None:
        """A fresh run does not write into a previous run's folder unless --force."""
        if self.force or not self.out_dir.is_dir():
            return
        prefix = self.training["save_ckpt"]
        old = [
            p.name
            for p in sorted(self.out_dir.iterdir())
            if p.name in ("checkpoint", self.training["disp_file"])
            or (p.name.startswith(f"{prefix}-") and p.name.endswith(".index"))
        ]
        if old:
            raise InputError(
                f"{self.out_dir}: holds a previous run ({', '.join(old[:3])}); continue it with "
                "--restart, write elsewhere with -o, or overwrite it with --force"
            )

    def _loop(self, sess, graph: TrainingGraph, append: bool) -> None:
        step = int(sess.run(graph.global_step))
        if self.workers.is_root:
            self.log(
                schedule_message(
                    self.config["learning_rate"], self.training["numb_steps"], step, self.lr_scale
                )
            )
        run = RunState(
            sess=sess,
            graph=graph,
            config=self.config,
            out_dir=self.out_dir,
            log=self.log,
            is_root=self.workers.is_root,
            lr_scale=self.lr_scale,
            start_step=step,
            last_checkpoint=self.restarted_from,
        )
        hooks = self._hooks(graph, append)
        numb_steps = self.training["numb_steps"]
        # Under Horovod only rank 0 saves: the other ranks end on a signal as before.
        with StopRequest(enabled=self.workers.is_root) as stop:
            try:
                # The first batch makes the step-0 row and the first step, as in DeePMD-kit
                run.first_batch = batch = self.train_data.sample()
                for hook in hooks:
                    hook.begin(run)
                while step < numb_steps and not stop.requested:
                    feed = graph.feed(batch)
                    fetches: dict = {}
                    for hook in hooks:
                        fetches.update(hook.fetches(run, step + 1))
                    try:
                        _, values = sess.run(
                            [graph.train_op, fetches],
                            feed,
                            options=run.run_options,
                            run_metadata=run.run_metadata,
                        )
                    except Exception:
                        if not stop.requested:  # e.g. the other ranks, stopped, left the step
                            raise
                        break
                    step += 1
                    if step < numb_steps:  # before the step's validation: DeePMD-kit's order
                        batch = self.train_data.sample()
                    for hook in hooks:
                        hook.after_step(run, step, feed, values)
            except KeyboardInterrupt:
                self._interrupted(sess, graph, run, hooks)
                raise
            except tf.errors.InvalidArgumentError as err:  # bad data: overlapping atoms, a box
                batch = latest_batch(self.train_data, self.valid_data)
                raise InputError(batch_error(batch, frame_message(err))) from None
            if stop.requested:
                step = self._interrupted(sess, graph, run, hooks)
                raise Stopped(f"stopped by {stop.signal_name} at step {step}", stop.signal_name)
        for hook in hooks:
            hook.end(run, step)

    @staticmethod
    def _interrupted(sess, graph: TrainingGraph, run: RunState, hooks: list[Hook]) -> int:
        """The interrupted hooks at the session's step (a Ctrl-C inside a step may come
        after its update), which is returned."""
        step = int(sess.run(graph.global_step))
        for hook in hooks:
            hook.interrupted(run, step)
        return step

    def _check_ranks_agree(self, sess) -> None:
        """Data parallelism keeps one model: every rank's weights must be rank 0's."""
        if self.workers.size == 1:
            return
        values = np.concatenate([w.ravel() for w in sess.run(v1.trainable_variables())])
        # Position-weighted: weights swapped between arrays would change it too.
        fingerprint = float(values @ np.cos(np.arange(values.size)))
        every = self.workers.allgather_scalar(fingerprint)
        if any(value != every[0] for value in every):
            raise InputError(f"the ranks' weights differ after training: fingerprints {every}")
        self.log(
            f"weights identical on all {self.workers.size} ranks (fingerprint {every[0]:.12g})"
        )


def _restore(saver, sess, path: str) -> None:
    """saver.restore, with TensorFlow's errors (another model's checkpoint, a damaged file)
    as one line."""
    try:
        saver.restore(sess, path)
    except (tf.errors.OpError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"{path}: cannot restore this checkpoint ({reason})") from None


def systems_table(kind: str, data: DataSystems) -> str:
    """DeePMD-kit's table of the systems a run reads: natoms, batch size, batches, probability
    and periodicity of each."""
    width = max(38, *(len(s.path) for s in data.systems))
    lines = [
        f"{kind} data with {len(data.systems)} system(s):",
        f"{'system':>{width}} {'natoms':>8} {'bch_sz':>8} {'n_bch':>8} {'prob':>8} {'pbc':>4}",
    ]
    for system, batch, nbatch, prob in zip(
        data.systems, data.batch_size, data.nbatches, data.probs, strict=True
    ):
        pbc = "F" if system.nopbc else "T"
        lines.append(
            f"{system.path:>{width}} {system.natoms:>8} {batch:>8} {nbatch:>8} {prob:>8.3f} {pbc:>4}"
        )
    return "\n".join(lines)


def _type_blind(part: dict) -> bool:
    """Whether a descriptor part's slots take neighbours of any type (one sel entry)."""
    return DESCRIPTORS.get(part["type"]).type_blind
