"""The machinery of the input schema: keys declared once with their type, default, check
and doc; normalisation (defaults, validation, unknown keys with the closest valid one) and
the markdown reference both come from the declaration."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deepkit.errors import InputError

REQUIRED = object()


@dataclass
class Arg:
    """One key. `dtype` is a type spec such as "int", "float", "list[int]|str", "dict"; a
    dict value is described by `group` (fixed keys) or `variants` (keys chosen by a flag)."""

    name: str
    dtype: str
    default: Any = REQUIRED
    doc: str = ""
    check: Callable[[Any], str | None] | None = None  # returns what is wrong, or None
    alias: tuple[str, ...] = ()
    group: Group | None = None
    # Variants, or a function that makes them on first use (a registry's, see registry.py)
    variants: Variants | Callable[[], Variants] | None = None

    def choices(self) -> Variants | None:
        """The variants of this key, made if given as a function."""
        return self.variants() if callable(self.variants) else self.variants


@dataclass
class Group:
    """The keys of one dict; `unsupported` names DeePMD-kit keys deepkit does not have yet."""

    args: list[Arg]
    unsupported: dict[str, str] = field(default_factory=dict)


@dataclass
class Variants:
    """A dict whose keys depend on its `flag` value (e.g. descriptor "type")."""

    choices: dict[str, Group]
    default: str | None = None
    flag: str = "type"
    aliases: dict[str, str] = field(default_factory=dict)
    unsupported: tuple[str, ...] = ()
    doc: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # flag value -> why not here


def _alternatives(spec: str) -> list[str]:
    """Split "list[float|None]|str" at the top-level bars only."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(spec):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "|" and depth == 0:
            parts.append(spec[start:i])
            start = i + 1
    return [*parts, spec[start:]]


def _type_ok(value: Any, spec: str) -> bool:
    for option in _alternatives(spec):
        option = option.strip()
        if option.startswith("list[") and option.endswith("]"):
            inner = option[5:-1]
            if isinstance(value, list) and all(_type_ok(v, inner) for v in value):
                return True
        elif (
            option == "list"
            and isinstance(value, list)
            or option == "int"
            and isinstance(value, int)
            and not isinstance(value, bool)
            or option == "float"
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
            or option == "bool"
            and isinstance(value, bool)
            or option == "str"
            and isinstance(value, str)
            or option == "dict"
            and isinstance(value, dict)
            or option == "None"
            and value is None
        ):
            return True
    return False


def _as_float(value: Any, spec: str) -> Any:
    """ints given for a float key become floats (JSON writes 1 for 1.0)."""
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and "float" in spec
        and "int" not in spec
    ):
        return float(value)
    return value


def _finite(value: Any) -> bool:
    """No NaN or inf in a number or a list of them (JSON's NaN and Infinity parse)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return all(_finite(v) for v in value) if isinstance(value, list) else True


def normalize_group(raw: Any, group: Group, path: str) -> dict:
    """Validate `raw` against `group` and return it with defaults filled in."""
    if not isinstance(raw, dict):
        raise InputError(f"{path or 'input'}: expected a mapping of keys, got {type(raw).__name__}")
    names = {a.name: a for a in group.args}
    for arg in group.args:
        for alias in arg.alias:
            names.setdefault(alias, arg)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"{path}.{key}" if path else key
        if key.startswith("_"):
            continue
        if key in group.unsupported:
            raise InputError(
                f"{where}: DeePMD-kit's key {key!r} is not supported by deepkit yet"
                + (f" ({group.unsupported[key]})" if group.unsupported[key] else "")
            )
        if key not in names:
            close = difflib.get_close_matches(key, list(names), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"{where}: unknown key{hint}")
        arg = names[key]
        if arg.name in out:
            raise InputError(f"{where}: given twice (as {arg.name!r} and an alias)")
        out[arg.name] = normalize_value(value, arg, f"{path}.{arg.name}" if path else arg.name)
    for arg in group.args:
        if arg.name in out:
            continue
        where = f"{path}.{arg.name}" if path else arg.name
        if arg.default is REQUIRED:
            raise InputError(f"{where}: required key missing ({arg.doc.split('.')[0]})")
        if arg.group is not None and arg.default == {}:
            out[arg.name] = normalize_group({}, arg.group, where)
        elif arg.variants is not None and arg.default == {}:
            out[arg.name] = normalize_variant({}, arg.choices(), where)
        else:
            out[arg.name] = arg.default
    return out


def normalize_variant(raw: Any, variants: Variants, path: str) -> dict:
    """raw normalised against the variant its "type" names (or the default one)."""
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a mapping of keys, got {type(raw).__name__}")
    kind = raw.get(variants.flag, variants.default)
    if kind is None:
        raise InputError(
            f"{path}.{variants.flag}: required key missing (one of {', '.join(variants.choices)})"
        )
    if not isinstance(kind, str):
        raise InputError(
            f"{path}.{variants.flag}: expected a name (one of {', '.join(variants.choices)}), "
            f"got {kind!r}"
        )
    kind = variants.aliases.get(kind, kind)
    if kind in variants.refused:
        raise InputError(f"{path}.{variants.flag}: {variants.refused[kind]}")
    if kind in variants.unsupported:
        raise InputError(
            f"{path}.{variants.flag}: DeePMD-kit's {kind!r} is not supported by "
            f"deepkit yet (supported: {', '.join(variants.choices)})"
        )
    if kind not in variants.choices:
        close = difflib.get_close_matches(str(kind), list(variants.choices), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(
            f"{path}.{variants.flag}: unknown value {kind!r}{hint} "
            f"(one of {', '.join(variants.choices)})"
        )
    body = {k: v for k, v in raw.items() if k != variants.flag}
    return {variants.flag: kind, **normalize_group(body, variants.choices[kind], path)}


def normalize_value(value: Any, arg: Arg, path: str) -> Any:
    """One key's value checked against its Arg: type, nested group or variants (a list
    with variants: each entry against them, e.g. a hybrid descriptor's parts), check."""
    if not _type_ok(value, arg.dtype):
        raise InputError(f"{path}: expected {arg.dtype}, got {value!r}")
    value = _as_float(value, arg.dtype)
    if isinstance(value, list) and "list[float]" in arg.dtype:
        value = [float(v) for v in value]
    if not _finite(value):
        raise InputError(f"{path}: must be a finite number, got {value!r}")
    if arg.group is not None and isinstance(value, dict):
        value = normalize_group(value, arg.group, path)
    elif arg.variants is not None and isinstance(value, dict):
        value = normalize_variant(value, arg.choices(), path)
    elif arg.variants is not None and isinstance(value, list):
        value = [normalize_variant(v, arg.choices(), f"{path}[{i}]") for i, v in enumerate(value)]
    if arg.check is not None:
        problem = arg.check(value)
        if problem:
            raise InputError(f"{path}: {problem}, got {value!r}")
    return value


# Small reusable checks.
def positive(value) -> str | None:
    """Check: value > 0."""
    return None if value is None or value > 0 else "must be positive"


def non_negative(value) -> str | None:
    """Check: value >= 0."""
    return None if value is None or value >= 0 else "must be >= 0"


def one_of(*options: str) -> Callable[[Any], str | None]:
    """Check: value is one of `options`."""
    return lambda value: None if value in options else f"must be one of {', '.join(options)}"


def seed(value) -> str | None:
    """Check: a seed numpy and TensorFlow take, 0 <= value < 2**32."""
    return None if value is None or 0 <= value < 2**32 else "must be in 0 .. 2**32 - 1"


# Widest layer accepted: a square float64 matrix of it is 2 GiB (DeePMD-kit's are <= 1024).
MAX_LAYER_WIDTH = 16_384


def layer_widths(value) -> str | None:
    """Check: every width of a net's layer list is in 1 .. MAX_LAYER_WIDTH."""
    if all(0 < v <= MAX_LAYER_WIDTH for v in value):
        return None
    return f"every width must be in 1 .. {MAX_LAYER_WIDTH:,}"


# Markdown reference.
def _default_text(arg: Arg) -> str:
    if arg.default is REQUIRED:
        return "required"
    return f"default `{arg.default!r}`" if arg.default != {} else "optional"


def group_markdown(group: Group, path: str, depth: int = 0) -> list[str]:
    """Markdown lines documenting every key of `group` under `path`."""
    lines = []
    indent = "  " * depth
    for arg in group.args:
        where = f"{path}.{arg.name}" if path else arg.name
        alias = f" (alias: {', '.join(arg.alias)})" if arg.alias else ""
        lines.append(f"{indent}- `{where}` ({arg.dtype}, {_default_text(arg)}){alias}: {arg.doc}")
        if arg.group is not None:
            lines += group_markdown(arg.group, where, depth + 1)
        if arg.variants is not None:
            each = f"{where}[i]" if arg.dtype.startswith("list") else where
            lines += variants_markdown(arg.choices(), each, depth + 1)
    if group.unsupported:
        lines.append(
            f"{indent}- not supported yet: {', '.join(f'`{k}`' for k in group.unsupported)}"
        )
    return lines


def variants_markdown(variants: Variants, path: str, depth: int) -> list[str]:
    """Markdown lines documenting each variant and its keys."""
    indent = "  " * depth
    default = f", default `{variants.default}`" if variants.default else ""
    lines = [
        (
            f"{indent}- `{path}.{variants.flag}` (str{default}): one of "
            f"{', '.join(f'`{k}`' for k in variants.choices)}"
        )
    ]
    for kind, group in variants.choices.items():
        aliases = [a for a, k in variants.aliases.items() if k == kind]
        alias = f" (alias {', '.join(f'`{a}`' for a in aliases)})" if aliases else ""
        lines.append(
            f"{indent}- with `{variants.flag}: {kind}`{alias}: {variants.doc.get(kind, '')}"
        )
        lines += group_markdown(group, path, depth + 1)
    return lines
