"""The training loop: data, statistics, graph, Adam, lcurve, checkpoints, restart."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np

from deepkit.compress import TableOverflowWarning
from deepkit.config import write_json
from deepkit.data import DataSystems, SetCache, expand_systems
from deepkit.descriptor.env_mat import NeighborOverflowWarning
from deepkit.errors import InputError
from deepkit.model.ener_model import EnergyModel
from deepkit.neighbor_stat import resolve_sel
from deepkit.tfenv import tf
from deepkit.train.distributed import Workers
from deepkit.train.lcurve import LearningCurve
from deepkit.train.loss import EnergyLoss, label_placeholders
from deepkit.train.lr import exp_learning_rate, lr_at

v1 = tf.compat.v1


def _format_seconds(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class Trainer:
    """Trains the model an input describes. Files go to out_dir: out.json (the normalised
    input, sel resolved), lcurve.out, checkpoints (save_ckpt-STEP.*, `checkpoint`).

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
        self.config, self.out_dir, self.log = config, Path(out_dir), log
        self.input_dir = input_dir
        self.threads = (intra_threads, inter_threads)
        self.training = config["training"]
        self.frozen: tuple[str, dict] | None = None  # --init-frz-model: (path, constants)
        self.workers = Workers(requested=False)  # one process until run() looks
        self.lr_scale = 1.0
        self.log_all_ranks = log_all_ranks  # --mpi-log workers

    # -- set-up ---------------------------------------------------------------------
    def _data(self):
        type_map = self.config["model"]["type_map"]
        cache = SetCache()
        train = self.training["training_data"]
        systems = expand_systems(train["systems"], self.input_dir)
        descriptor = self.config["model"]["descriptor"]
        if not isinstance(descriptor["sel"], list):
            descriptor["sel"] = resolve_sel(descriptor, systems, type_map)
            self.log(f"sel {self.config['model']['descriptor']['sel']} (from the training data)")
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
        from deepkit.model.frozen import read_constants, train_input

        self.frozen = (path, read_constants(path))
        frozen_model = train_input(self.frozen[1], path)["model"]
        if frozen_model["type_map"] != self.config["model"]["type_map"]:
            raise InputError(
                f"{path}: type_map {frozen_model['type_map']} differs from the input's "
                f"{self.config['model']['type_map']}"
            )
        self.config["model"]["descriptor"] = frozen_model["descriptor"]

    def _graph(self, compute_stats: bool):
        self.model = EnergyModel(self.config["model"])
        if self.frozen is not None:
            from deepkit.model.frozen import restore_model

            restore_model(self.model, self.frozen[1], self.frozen[0])
        elif compute_stats and self.workers.is_root:  # the other ranks get them by broadcast
            frames = self.model.data_stat_nbatch * max(self.train_data.batch_size)
            self.log(
                f"statistics from up to {frames} frames of each of "
                f"{len(self.train_data.systems)} training systems"
            )
            self.model.compute_statistics(self.train_data.systems, frames)
        self.graph = tf.Graph()
        with self.graph.as_default():
            seed = self.training["seed"]
            if seed is not None:
                v1.set_random_seed(seed)
            self.inputs = self.model.placeholders()
            self.labels = label_placeholders()
            self.outputs = self.model.build(**self.inputs)
            self.global_step = v1.train.get_or_create_global_step()
            lr_params = self.config["learning_rate"]
            self.lr = exp_learning_rate(
                self.global_step, lr_params, self.training["numb_steps"], self.lr_scale
            )
            # Prefactors follow lr / start_lr: the scaled start, so they keep their range.
            self.loss = EnergyLoss(self.config["loss"], lr_params["start_lr"] * self.lr_scale)
            natoms = tf.shape(self.inputs["atype"])[1]
            loss, self.metrics = self.loss.build(self.lr, natoms, self.outputs, self.labels)
            optimizer = self.workers.optimizer(v1.train.AdamOptimizer(self.lr))
            self.train_op = optimizer.minimize(loss, global_step=self.global_step)
            self.init = v1.global_variables_initializer()
            self.broadcast = self.workers.broadcast_op()
            self.saver = v1.train.Saver(max_to_keep=self.training["max_ckpt_keep"])
            model_vars = [
                v
                for v in v1.global_variables()
                if "Adam" not in v.name and "beta" not in v.name and "global_step" not in v.name
            ]
            self.model_saver = v1.train.Saver(var_list=model_vars)

    def _feed(self, batch: dict) -> dict:
        nframes, natoms = batch["coord"].shape[:2]
        feed = {
            self.inputs["coord"]: batch["coord"].reshape(nframes, -1),
            self.inputs["atype"]: np.broadcast_to(batch["atype"], (nframes, natoms)),
            self.inputs["box"]: batch["box"],
        }
        for key in ("fparam", "aparam"):
            if key in self.inputs:
                if key not in batch:
                    raise InputError(
                        f"{batch['path']}: no {key}.npy, but the model's fitting net uses {key}"
                    )
                feed[self.inputs[key]] = batch[key].reshape(nframes, -1)
        shapes = {
            "energy": (nframes,),
            "force": (nframes, natoms * 3),
            "virial": (nframes, 9),
            "atom_ener": (nframes, natoms),
        }
        for key, shape in shapes.items():
            feed[self.labels[key]] = batch[key].reshape(shape) if key in batch else np.zeros(shape)
            feed[self.labels[f"find_{key}"]] = batch[f"find_{key}"]
        return feed

    # -- running ------------------------------------------------------------------------
    def run(
        self,
        restart: str | None = None,
        init_model: str | None = None,
        init_frz_model: str | None = None,
    ) -> None:
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
        self._graph(compute_stats=restart is None and init_model is None)
        config = v1.ConfigProto(
            intra_op_parallelism_threads=self.threads[0],
            inter_op_parallelism_threads=self.threads[1],
        )
        with v1.Session(graph=self.graph, config=config) as sess:
            sess.run(self.init)
            if restart:
                self.saver.restore(sess, checkpoint_path(restart))
            elif init_model:
                self.model_saver.restore(sess, checkpoint_path(init_model))
            elif self.frozen is not None:
                from deepkit.model import names
                from deepkit.model.frozen import load_variables

                path, consts = self.frozen
                skip = ("Adam", "beta1_power", "beta2_power", "global_step", names.MIN_NBOR_DIST)
                count = load_variables(sess, consts, path, skip=skip)
                self.log(f"{count} weight arrays from {path}")
            if self.broadcast is not None:
                sess.run(self.broadcast)  # rank 0's statistics, weights and step everywhere
            self._loop(sess, append=restart is not None)
            self._check_ranks_agree(sess)

    def _evaluate(self, sess, data: DataSystems, nbatch: int) -> dict:
        totals: dict[str, float] = {}
        for _ in range(nbatch):
            values = sess.run(self.metrics, self._feed(data.sample()))
            for key, value in values.items():
                totals[key] = totals.get(key, 0.0) + value**2
        return {key: np.sqrt(value / nbatch) for key, value in totals.items()}

    def _loop(self, sess, append: bool) -> None:
        numb_steps, disp_freq = self.training["numb_steps"], self.training["disp_freq"]
        save_freq = self.training["save_freq"]
        ckpt_prefix = str(self.out_dir / self.training["save_ckpt"])
        metrics = ["rmse"] + [f"rmse_{s}" for s, _ in EnergyLoss.TERMS if self.loss.used(s)]
        root = self.workers.is_root
        lcurve = (
            LearningCurve(
                self.out_dir / self.training["disp_file"],
                metrics,
                self.valid_data is not None,
                append,
            )
            if root
            else None
        )
        nvalid = self.training["validation_data"]["numb_btch"] if self.valid_data else 0
        sel = self.config["model"]["descriptor"]["sel"]
        step = int(sess.run(self.global_step))
        start_step, start_time, warned = step, time.perf_counter(), False
        lr_params = self.config["learning_rate"]
        check_every = self._table_check_frequency()

        def display(batch_feed):
            if not root:
                return
            train = sess.run(self.metrics, batch_feed)
            valid = self._evaluate(sess, self.valid_data, nvalid) if self.valid_data else None
            lcurve.write(step, train, valid, lr_at(step, lr_params, numb_steps, self.lr_scale))

        try:
            if step == 0:
                display(self._feed(self.train_data.sample()))
            while step < numb_steps:
                feed = self._feed(self.train_data.sample())
                _, max_count = sess.run([self.train_op, self.outputs["max_count"]], feed)
                step += 1
                if check_every > 0 and step % check_every == 0:
                    self._check_table(sess, feed, step)
                if not warned and np.any(max_count.max(axis=0) > sel):
                    warned = True
                    warnings.warn(
                        f"step {step}: up to {max_count.max(axis=0).tolist()} neighbours "
                        f"per type within rcut, more than sel {sel}: the farthest are "
                        "dropped; raise sel",
                        NeighborOverflowWarning,
                        stacklevel=1,
                    )
                if step % disp_freq == 0 or step == numb_steps:
                    display(feed)
                    if self.training["disp_training"]:
                        elapsed = time.perf_counter() - start_time
                        per_batch = elapsed / (step - start_step)
                        timing = (
                            f", {per_batch:.4f} s/batch, ETA "
                            f"{_format_seconds(per_batch * (numb_steps - step))}"
                            if self.training["time_training"]
                            else ""
                        )
                        self.log(f"step {step}/{numb_steps}{timing}")
                if root and (step % save_freq == 0 or step == numb_steps):
                    self.saver.save(sess, ckpt_prefix, global_step=step)
        except KeyboardInterrupt:
            if root:
                path = self.saver.save(sess, ckpt_prefix, global_step=step)
                self.log(
                    f"interrupted at step {step}; saved {path}; continue with --restart "
                    f"{self.out_dir}"
                )
                lcurve.close()
            raise
        if root:
            lcurve.close()
        self.log(f"finished {numb_steps} steps; checkpoint {ckpt_prefix}-{numb_steps}")

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

    def _table_check_frequency(self) -> int:
        """deepkit compress --check-frequency of a compressed --init-frz-model, else -1."""
        from deepkit.model import names

        if self.frozen is None or "table_overflow" not in self.outputs:
            return -1
        settings = self.frozen[1].get(names.ATTR_COMPRESS)
        return (
            json.loads(settings.item().decode())["check_frequency"] if settings is not None else -1
        )

    def _check_table(self, sess, feed, step: int) -> None:
        beyond = int(sess.run(self.outputs["table_overflow"], feed).sum())
        if beyond:
            warnings.warn(
                f"step {step}: {beyond} environment-matrix inputs of the batch lie beyond the "
                "compressed model's table (atoms closer than its training data's closest "
                "pair); the table's end value is used there",
                TableOverflowWarning,
                stacklevel=1,
            )


def checkpoint_path(spec: str) -> str:
    """A checkpoint prefix, or a directory whose latest checkpoint is taken."""
    path = Path(spec)
    if path.is_dir():
        latest = tf.train.latest_checkpoint(str(path))
        if latest is None:
            raise InputError(f"{path}: no checkpoint in this directory")
        return latest
    if not Path(f"{spec}.index").exists():
        raise InputError(f"{spec}: no such checkpoint (expected {spec}.index)")
    return spec
