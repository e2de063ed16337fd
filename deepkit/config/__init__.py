"""The training input: loading YAML/JSON, normalising it against the schema, its docs.

config = load_input("input.json")   # normalised dict, defaults filled, checked
print(doc_markdown())               # the reference, made from the schema
"""

from __future__ import annotations

import json
from pathlib import Path

from deepkit.config.args import REQUIRED, Arg, Group, group_markdown, normalize_group
from deepkit.config.model import MODEL
from deepkit.config.training import LEARNING_RATE_ARG, LOSS_ARG, TRAINING_ARG
from deepkit.errors import InputError
from deepkit.registry import DESCRIPTORS, FITTINGS, MODELS

ROOT = Group(
    [
        Arg(
            "model",
            "dict",
            REQUIRED,
            "The model: type_map, descriptor and fitting net",
            group=MODEL,
        ),
        LEARNING_RATE_ARG,
        LOSS_ARG,
        TRAINING_ARG,
    ],
    unsupported={"nvnmd": ""},
)


def _check_cross_keys(config: dict) -> None:
    model = config["model"]
    ntypes = len(model["type_map"])
    DESCRIPTORS.get(model["descriptor"]["type"]).check(
        model["descriptor"], ntypes, "model.descriptor"
    )
    descriptor = model["descriptor"]
    if model["type_embedding"] is not None and not DESCRIPTORS.get(
        descriptor["type"]
    ).accepts_type_embedding(descriptor):
        raise InputError(
            f"model.type_embedding: descriptor {descriptor['type']!r} takes no type embedding "
            "(se_e2_a, se_atten, se_atten_v2 and hybrids holding one of them do)"
        )
    FITTINGS.get(model["fitting_net"]["type"]).check(
        model["fitting_net"], ntypes, "model.fitting_net"
    )
    model_type = FITTINGS.get(model["fitting_net"]["type"]).model_type
    wanted = MODELS.get(model_type).default_loss
    if config["loss"]["type"] != wanted:
        raise InputError(
            f"loss.type: {config['loss']['type']!r} does not train a {model_type!r} model; "
            f"use {wanted!r}"
        )
    lr = config["learning_rate"]
    if lr["stop_lr"] > lr["start_lr"]:
        raise InputError(f"learning_rate.stop_lr: must not exceed start_lr ({lr['start_lr']})")


def normalize(raw: dict) -> dict:
    """The input with every default filled in; InputError names the first bad key."""
    config = normalize_group(raw, ROOT, "")
    _check_cross_keys(config)
    return config


def read_input(path: str | Path) -> dict:
    """Parse a YAML (.yaml/.yml) or JSON file; syntax errors name the file and line."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise InputError(f"{path}: cannot read the input file ({err.strerror})") from None
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise InputError(f"{path}{line}: YAML syntax error: {problem}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{err.lineno}: JSON syntax error: {err.msg}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of keys at the top")
    return data


def load_input(path: str | Path) -> dict:
    """read_input + normalize, with the file name in front of schema errors."""
    raw = read_input(path)
    try:
        return normalize(raw)
    except InputError as err:
        raise InputError(f"{path}: {err}") from None


def write_json(config: dict, path: str | Path) -> None:
    """Write atomically (temporary file + rename), e.g. the normalised input."""
    from deepkit.atomic_file import write_atomic

    write_atomic(path, json.dumps(config, indent=2) + "\n")


def doc_markdown() -> str:
    """The input reference in markdown, generated from the schema."""
    lines = [
        "# deepkit training input",
        "",
        "YAML or JSON with DeePMD-kit v2's keys. Keys starting with `_` are comments.",
        "",
    ]
    for arg in ROOT.args:
        lines += [f"## {arg.name}", ""]
        lines += group_markdown(Group([arg]), "")
        lines.append("")
    return "\n".join(lines)
