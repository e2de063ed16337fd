"""The package's layering: commands on top, then training and inference, models, their parts
(descriptors, fittings, losses, nets), data and configuration, ops at the bottom. A module
imports (at the top or inside a function) only from its own layer or below, and no modules
import each other in a cycle, not even inside functions."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "deepkit"

# By the first component under deepkit/ (a package or a top-level module). Leaf modules
# every layer may use: errors, tfenv, names (node names), atomic_file, progress.
LAYERS = {
    "errors": 0,
    "tfenv": 0,
    "atomic_file": 0,
    "progress": 0,
    "model.names": 0,
    "ops": 1,
    "config": 1,
    "registry": 1,
    "data": 1,
    "nn": 2,
    "descriptor": 2,
    "fit": 2,
    "loss": 2,
    "model": 3,
    "compress": 4,
    "infer": 4,
    "train": 4,
    "calculator": 5,
    "capi": 5,
    "lammps": 5,
    "cli": 5,
    "entrypoints": 5,
}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int | None:
    """None for the package itself (deepkit/__init__.py: the version and lazy re-exports)."""
    rest = module.removeprefix("deepkit").removeprefix(".")
    if not rest:
        return None
    if rest.startswith("model.names"):
        return LAYERS["model.names"]
    return LAYERS[rest.split(".")[0]]


def imports(path: pathlib.Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("deepkit")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("deepkit"):
            for alias in node.names:  # `from deepkit.model import names` imports a module
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if _is_module(submodule) else node.module)
    # deepkit/__init__.py holds the version and re-exports lazily: not a layer of its own.
    return found - {"deepkit"}


def _is_module(name: str) -> bool:
    path = ROOT.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def modules() -> dict[str, pathlib.Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def test_every_module_has_a_layer():
    for name in modules():
        if name != "deepkit":
            assert layer(name) is not None, name


def test_no_module_imports_from_a_higher_layer():
    upward = []
    for name, path in modules().items():
        own = layer(name)
        if own is None:
            continue
        for target in imports(path, top_level_only=False):
            if layer(target) is not None and layer(target) > own:
                upward.append(f"{name} (layer {own}) imports {target} (layer {layer(target)})")
    assert upward == []


def test_no_import_cycles():
    graph = {name: imports(path, top_level_only=False) for name, path in modules().items()}

    def resolve(target: str) -> str | None:
        return target if target in graph else None

    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        for target in sorted(filter(None, map(resolve, graph[name]))):
            if state.get(target) == 1:
                cycle = stack[stack.index(target) :] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*stack, target])
        state[name] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])


def test_the_layer_check_catches_an_upward_import(tmp_path):
    """The check itself: a data module importing the trainer is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from deepkit.train.trainer import Trainer\n")
    assert "deepkit.train.trainer" in imports(bad, top_level_only=False)
    assert layer("deepkit.train.trainer") > layer("deepkit.data.system")
