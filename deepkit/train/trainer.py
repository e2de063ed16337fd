"""The training run: data, statistics, the training graph, the loop and its hooks, restart."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from deepkit.config import write_json
from deepkit.data import DataSystems, SetCache, expand_systems
from deepkit.data.neighbor_stat import resolve_sel
from deepkit.errors import InputError
from deepkit.model import names
from deepkit.model.base import make_model
from deepkit.model.frozen import load_variables, read_constants, restore_model, train_input
from deepkit.tfenv import tf
from deepkit.train.checkpoint import checkpoint_path
from deepkit.train.distributed import Workers
from deepkit.train.graph import TrainingGraph, build_training_graph
from deepkit.train.hooks import (
    CheckpointHook,
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

v1 = tf.compat.v1

# Not taken from a frozen model by --init-frz-model: training state and data statistics.
_FROZEN_SKIP = ("Adam", "beta1_power", "beta2_power", "global_step", names.MIN_NBOR_DIST)


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
    ):
        self.config = copy.deepcopy(config)
        self.out_dir, self.log = Path(out_dir), log
        self.input_dir = input_dir
        self.threads = (intra_threads, inter_threads)
        self.training = self.config["training"]
        self.frozen: tuple[str, dict] | None = None  # --init-frz-model: (path, constants)
        self.workers = Workers(requested=False)  # one process until run() looks
        self.lr_scale = 1.0
        self.log_all_ranks = log_all_ranks  # --mpi-log workers

    # -- set-up ---------------------------------------------------------------------
    def _data(self) -> None:
        type_map = self.config["model"]["type_map"]
        cache = SetCache()
        train = self.training["training_data"]
        systems = expand_systems(train["systems"], self.input_dir)
        descriptor = self.config["model"]["descriptor"]
        if not isinstance(descriptor["sel"], list):
            descriptor["sel"] = resolve_sel(descriptor, systems, type_map)
            self.log(f"sel {descriptor['sel']} (from the training data)")
        seed = self.training["seed"]
        self.train_data = DataSystems(
            systems,
            type_map,
            train["batch_size"],
            train["sys_probs"],
            train["auto_prob"],
            seed=seed,
            rank=self.workers.rank,
            cache=cache,
        )
        valid = self.training["validation_data"]
        self.valid_data = None
        if valid is not None:
            self.valid_data = DataSystems(
                expand_systems(valid["systems"], self.input_dir),
                type_map,
                valid["batch_size"],
                valid["sys_probs"],
                valid["auto_prob"],
                seed=None if seed is None else seed + 7919,
                rank=self.workers.rank,
                cache=cache,
            )

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

    def _model(self, compute_stats: bool):
        model = make_model(self.config["model"])
        if self.frozen is not None:
            restore_model(model, self.frozen[1], self.frozen[0])
        elif compute_stats and self.workers.is_root:  # the other ranks get them by broadcast
            frames = model.data_stat_nbatch * max(self.train_data.batch_size)
            self.log(
                f"statistics from up to {frames} frames of each of "
                f"{len(self.train_data.systems)} training systems"
            )
            model.compute_statistics(self.train_data.systems, frames)
        return model

    def _hooks(self, graph: TrainingGraph, append: bool) -> list[Hook]:
        hooks: list[Hook] = []
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
            if self.workers.size == 1:
                raise
            raise InputError(f"rank {self.workers.rank} of {self.workers.size}: {err}") from None

    def _run(self, restart, init_model, init_frz_model) -> None:
        if not self.workers.is_root:
            log, rank = self.log, self.workers.rank
            self.log = (
                (lambda m: log(f"rank {rank}: {m}")) if self.log_all_ranks else (lambda m: None)
            )
        if self.workers.size > 1:
            batch = self.training["training_data"]["batch_size"]
            self.log(
                f"Horovod: {self.workers.size} ranks, each its own batches (batch_size "
                f"{batch} per rank), gradients averaged; learning rate x{self.lr_scale:g} "
                f"(scale_by_worker {self.config['learning_rate']['scale_by_worker']})"
            )
        if init_frz_model:
            self._frozen_start(init_frz_model)
        self._data()
        if self.workers.is_root:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            write_json(self.config, self.out_dir / "out.json")
        model = self._model(compute_stats=restart is None and init_model is None)
        # deepkit's AVX2 products train faster on CPUs that have them (ops.cpu_products);
        # frozen models are built again with TensorFlow's and pick theirs when loaded.
        graph = build_training_graph(
            model, self.config, self.workers, self.lr_scale, cpu_products=True
        )
        self.graph = graph
        session_config = v1.ConfigProto(
            intra_op_parallelism_threads=self.threads[0],
            inter_op_parallelism_threads=self.threads[1],
        )
        with v1.Session(graph=graph.graph, config=session_config) as sess:
            sess.run(graph.init)
            if restart:
                graph.saver.restore(sess, checkpoint_path(restart))
            elif init_model:
                graph.model_saver.restore(sess, checkpoint_path(init_model))
            elif self.frozen is not None:
                path, consts = self.frozen
                count = load_variables(sess, consts, path, skip=_FROZEN_SKIP)
                self.log(f"{count} weight arrays from {path}")
            if graph.broadcast is not None:
                sess.run(graph.broadcast)  # rank 0's statistics, weights and step everywhere
            self._loop(sess, graph, append=restart is not None)
            self._check_ranks_agree(sess)

    def _loop(self, sess, graph: TrainingGraph, append: bool) -> None:
        step = int(sess.run(graph.global_step))
        run = RunState(
            sess=sess,
            graph=graph,
            config=self.config,
            out_dir=self.out_dir,
            log=self.log,
            is_root=self.workers.is_root,
            lr_scale=self.lr_scale,
            start_step=step,
        )
        hooks = self._hooks(graph, append)
        numb_steps = self.training["numb_steps"]
        try:
            for hook in hooks:
                hook.begin(run)
            while step < numb_steps:
                feed = graph.feed(self.train_data.sample())
                fetches: dict = {}
                for hook in hooks:
                    fetches.update(hook.fetches(run, step + 1))
                _, values = sess.run(
                    [graph.train_op, fetches],
                    feed,
                    options=run.run_options,
                    run_metadata=run.run_metadata,
                )
                step += 1
                for hook in hooks:
                    hook.after_step(run, step, feed, values)
        except KeyboardInterrupt:
            for hook in hooks:
                hook.interrupted(run, step)
            raise
        for hook in hooks:
            hook.end(run, step)

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
