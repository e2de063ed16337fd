"""The training graph as a value: the model's inputs and outputs, labels, loss, learning
rate, optimiser step and savers, built in a graph of its own."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from deepkit import ops
from deepkit.loss.base import Loss, make_loss
from deepkit.model import names
from deepkit.model.base import Model
from deepkit.tfenv import tf, v1
from deepkit.train.distributed import Workers
from deepkit.train.lr import exp_learning_rate

# Optimiser slots, the step and the run's input are training state, not model weights
# (--init-model takes the weights only).
_NOT_MODEL = ("Adam", "beta", "global_step", names.TRAIN_INPUT)


@dataclass(frozen=True)
class TrainingGraph:
    """Everything the loop runs. inputs / labels / outputs: tensors by role; metrics: the
    loss's rmse tensors by lcurve name."""

    graph: Any
    model: Model
    inputs: dict
    labels: dict
    outputs: dict
    loss: Loss
    metrics: dict
    lr: Any
    global_step: Any
    train_op: Any
    finite: Any  # bool: this step's loss and (averaged) gradients are all finite
    init: Any
    broadcast: Any  # rank 0's variables to every rank; None in one process
    saver: Any  # every variable (--restart)
    model_saver: Any  # the model's variables only (--init-model)
    train_input: Any  # names.TRAIN_INPUT: the run's normalised input, in every checkpoint

    def feed(self, batch: dict) -> dict:
        """A batch of data.batching.DataSystems as a feed of inputs and labels."""
        return self.model.feed(batch, self.inputs, self.labels)


def build_training_graph(
    model: Model,
    config: dict,
    workers: Workers,
    lr_scale: float = 1.0,
    cpu_products: bool = False,
) -> TrainingGraph:
    """The graph that trains `model` with the input's learning_rate, loss and training
    sections. cpu_products: build the float64 products with deepkit's AVX2 kernels where the
    machine prefers them (ops.cpu_products; a training-time choice: frozen models are built
    again without them)."""
    training, lr_params = config["training"], config["learning_rate"]
    graph = tf.Graph()
    with graph.as_default(), ops.cpu_products(cpu_products):
        # No graph-level seed: the nets' own seeds alone draw their weights, as in DeePMD-kit
        # (training.seed draws the batches).
        inputs = model.placeholders()
        labels = model.label_placeholders()
        outputs = model.build(**inputs)
        global_step = v1.train.get_or_create_global_step()
        train_input = _train_input_variable(config)
        lr = exp_learning_rate(global_step, lr_params, training["numb_steps"], lr_scale)
        # Prefactors follow lr / start_lr: the scaled start, so they keep their range.
        loss = make_loss(config["loss"], lr_params["start_lr"] * lr_scale)
        natoms = tf.shape(inputs["atype"])[1]
        total, metrics = loss.build(lr, natoms, outputs, labels)
        optimizer = workers.optimizer(v1.train.AdamOptimizer(lr))
        grads_and_vars = optimizer.compute_gradients(total)
        train_op = optimizer.apply_gradients(grads_and_vars, global_step=global_step)
        finite = _all_finite([total, *(g for g, _ in grads_and_vars if g is not None)])
        model_vars = [v for v in v1.global_variables() if not any(s in v.name for s in _NOT_MODEL)]
        return TrainingGraph(
            graph=graph,
            model=model,
            inputs=inputs,
            labels=labels,
            outputs=outputs,
            loss=loss,
            metrics=metrics,
            lr=lr,
            global_step=global_step,
            train_op=train_op,
            finite=finite,
            init=tf.group(v1.global_variables_initializer(), train_input.initializer),
            broadcast=workers.broadcast_op(),
            saver=v1.train.Saver(
                var_list=[*v1.global_variables(), train_input],
                max_to_keep=training["max_ckpt_keep"],
            ),
            model_saver=v1.train.Saver(var_list=model_vars),
            train_input=train_input,
        )


def _all_finite(tensors: list):
    """One bool: no NaN or inf in any of the tensors. The gradients are the averaged ones
    under Horovod, so every rank reaches the same verdict at the same step."""
    values = [t.values if isinstance(t, tf.IndexedSlices) else t for t in tensors]
    flags = [tf.reduce_all(tf.math.is_finite(t)) for t in values]
    return tf.reduce_all(tf.stack(flags))


def _train_input_variable(config: dict):
    """The normalised input as a string variable, saved with every checkpoint (freeze reads
    it there, whatever the output JSON was called). Kept out of the global variables:
    Horovod broadcasts those and takes no strings, and every rank has the input anyway."""
    scope, name = names.TRAIN_INPUT.split("/")
    with v1.variable_scope(scope, reuse=v1.AUTO_REUSE):
        return v1.get_variable(
            name,
            initializer=tf.constant(json.dumps(config)),
            dtype=tf.string,
            trainable=False,
            collections=[],
        )
