"""Input keys of `learning_rate`, `loss` and `training` (DeePMD-kit v2 names)."""

from __future__ import annotations

from deepkit.config.args import REQUIRED, Arg, Group, Variants, one_of, positive, seed
from deepkit.registry import LOSSES


def _auto_prob(value) -> str | None:
    if value in ("prob_uniform", "prob_sys_size") or value.startswith("prob_sys_size;"):
        return None
    return "must be prob_uniform, prob_sys_size or prob_sys_size;start:stop:weight;..."


def _batch_size(value) -> str | None:
    if isinstance(value, int):
        return None if value > 0 else "must be positive"
    if isinstance(value, list):
        return None if all(v > 0 for v in value) else "every entry must be positive"
    if value == "auto" or (value.startswith("auto:") and value[5:].isdigit()):
        return None
    return 'must be an int, a list of ints, "auto" or "auto:N"'


LR_EXP = Group(
    [
        Arg("start_lr", "float", 1e-3, "Learning rate at step 0", check=positive),
        Arg("stop_lr", "float", 1e-8, "Learning rate reached at numb_steps", check=positive),
        Arg("decay_steps", "int", 5000, "Steps between decays", check=positive),
        Arg(
            "scale_by_worker",
            "str",
            "linear",
            "Scaling of the learning rate with the number of data-parallel workers",
            check=one_of("linear", "sqrt", "none"),
        ),
    ],
    unsupported={"decay_rate": "deepkit derives it from stop_lr"},
)
LEARNING_RATE = Variants(
    {"exp": LR_EXP}, default="exp", doc={"exp": "start_lr * decay_rate^(step / decay_steps)"}
)


LOSS = LOSSES.variants(default="ener", unsupported=("dos", "ener_spin"))


def _data(validation: bool) -> Group:
    args = [
        Arg(
            "systems",
            "str|list[str]",
            REQUIRED,
            "Systems: directories (searched recursively), "
            "globs, HDF5 files or file.h5#/group, or files ASE reads",
        ),
        Arg(
            "batch_size",
            "int|list[int]|str",
            "auto",
            "Frames per batch: an int, one per "
            "system, 'auto' (at least 32 atoms) or 'auto:N' (at least N atoms)",
            check=_batch_size,
        ),
        Arg(
            "auto_prob",
            "str",
            "prob_sys_size",
            "How systems are drawn: prob_uniform, "
            "prob_sys_size, or prob_sys_size;start:stop:weight;...",
            alias=("auto_prob_style",),
            check=_auto_prob,
        ),
        Arg(
            "sys_probs",
            "list[float]|None",
            None,
            "Explicit system probabilities (win over auto_prob)",
            alias=("sys_weights",),
        ),
    ]
    if validation:
        args.append(Arg("numb_btch", "int", 1, "Batches per validation", check=positive))
    return Group(args, unsupported={"rglob_patterns": ""})


TRAINING = Group(
    [
        Arg("training_data", "dict", REQUIRED, "Training data", group=_data(False)),
        Arg("validation_data", "dict|None", None, "Validation data", group=_data(True)),
        Arg("numb_steps", "int", REQUIRED, "Training steps", alias=("stop_batch",), check=positive),
        Arg("seed", "int|None", None, "Random seed of batch sampling", check=seed),
        Arg("disp_file", "str", "lcurve.out", "Learning-curve file"),
        Arg("disp_freq", "int", 1000, "Steps between lcurve rows", check=positive),
        Arg("save_freq", "int", 1000, "Steps between checkpoints", check=positive),
        Arg("save_ckpt", "str", "model.ckpt", "Checkpoint file prefix"),
        Arg("max_ckpt_keep", "int", 5, "Checkpoints kept", check=positive),
        Arg("disp_training", "bool", True, "Print progress while training"),
        Arg("time_training", "bool", True, "Print the time per batch"),
        Arg(
            "profiling",
            "bool",
            False,
            "Write a TensorFlow timeline (Chrome trace format) of the run's second step",
        ),
        Arg(
            "profiling_file",
            "str",
            "timeline.json",
            "Where the timeline goes, relative to the output folder",
        ),
        Arg(
            "tensorboard",
            "bool",
            False,
            "Write the training rmse columns of lcurve.out and the learning rate as "
            "TensorBoard scalars",
        ),
        Arg(
            "tensorboard_log_dir",
            "str",
            "log",
            "TensorBoard log folder, relative to the output folder",
        ),
        Arg("tensorboard_freq", "int", 1, "Steps between TensorBoard scalars", check=positive),
        Arg(
            "distributed",
            "bool|None",
            None,
            "Force (true) or forbid (false) Horovod; default: detected from the launcher",
        ),
    ],
    unsupported={
        "mixed_precision": "",
        "enable_profiler": "",
        "data_dict": "multi-task",
        "model_prob": "multi-task",
        "numb_test": "",
        "change_bias_after_training": "",
        "opt_type": "",
        "gradient_max_norm": "",
        "warmup_steps": "",
    },
)


LEARNING_RATE_ARG = Arg(
    "learning_rate", "dict", {}, "The learning-rate schedule", variants=LEARNING_RATE
)
LOSS_ARG = Arg("loss", "dict", {}, "The loss", variants=LOSS)
TRAINING_ARG = Arg("training", "dict", REQUIRED, "Training settings", group=TRAINING)
