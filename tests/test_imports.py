"""The architecture's rules, read from the source: which package may import which, screens
that never import each other, algorithms that never import each other, every learn loop on
the one cadence helper, and no module over 400 lines.

Imports are read with ``ast`` from every module, including those inside functions, and
relative imports are resolved, so a deferred import cannot hide a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("envs", "agents", "studies", "workbench")
"""Our packages, in the order of the arrow: each may import only those before it."""
SCRIPTS = ("benchmarks", "docs", "examples")
"""Folders of scripts (and the example plug-ins), held to the same size limit."""
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it: ``from a import b`` counts as ``a`` and
    ``a.b`` (b may be a module), relative imports are made absolute."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def violations(folders: tuple[str, ...], forbidden) -> list[tuple[str, str]]:
    """(module, import) pairs where ``forbidden(module, imported)`` holds."""
    return sorted(
        (module_name(path), imported)
        for path in modules(*folders)
        for imported in imported_modules(path)
        if forbidden(module_name(path), imported)
    )


def in_package(imported: str, *packages: str) -> bool:
    return imported.split(".")[0] in packages


ALGORITHMS = {
    f"agents.{path.stem}"
    for path in (ROOT / "agents").glob("*.py")
    if path.stem not in ("__init__", "registry", "plugin")
}
"""One algorithm per file directly in agents/ (besides the registry and the plug-in
protocol); the parts they share live in agents/common/."""


def test_the_import_reader_sees_deferred_and_relative_imports(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    folder = tmp_path / "agents" / "common"
    folder.mkdir(parents=True)
    source = folder / "part.py"
    source.write_text(
        "import numpy as np\n"
        "from . import cadence\n"
        "from ..dqn import DQN\n"
        "def f():\n"
        "    from workbench import store\n"
    )
    assert imported_modules(source) == {
        "numpy",
        "agents.common",
        "agents.common.cadence",
        "agents.dqn",
        "agents.dqn.DQN",
        "workbench",
        "workbench.store",
    }


def test_envs_import_nothing_of_ours() -> None:
    assert violations(("envs",), lambda _, i: in_package(i, "agents", "studies", "workbench")) == []


def test_agents_import_neither_studies_nor_workbench() -> None:
    assert violations(("agents",), lambda _, i: in_package(i, "studies", "workbench")) == []


def test_studies_never_import_workbench() -> None:
    assert violations(("studies",), lambda _, i: in_package(i, "workbench")) == []


def test_no_tui_screen_imports_another_screen() -> None:
    screens = "workbench.tui.screens"

    def forbidden(module: str, imported: str) -> bool:
        parts = imported.split(".")
        other = ".".join(parts[:4])  # workbench.tui.screens.NAME, whatever follows it
        return (
            module.startswith(f"{screens}.")
            and len(parts) >= 4
            and other.startswith(f"{screens}.")
            and other != module
        )

    assert violations(("workbench/tui/screens",), forbidden) == []


def test_no_algorithm_imports_another_algorithm() -> None:
    def forbidden(module: str, imported: str) -> bool:
        target = ".".join(imported.split(".")[:2])
        return module in ALGORITHMS and target in ALGORITHMS and target != module

    assert violations(("agents",), forbidden) == []


def test_the_shared_parts_import_no_algorithm() -> None:
    def forbidden(module: str, imported: str) -> bool:
        return ".".join(imported.split(".")[:2]) in ALGORITHMS

    assert violations(("agents/common",), forbidden) == []


def test_every_learn_loop_uses_the_cadence_helper() -> None:
    loops = []
    for path in modules("agents"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name == "learn":
                if any(isinstance(inner, ast.While) for inner in ast.walk(node)):
                    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                    loops.append((module_name(path), "Cadence" in names))
    assert len(loops) >= 5  # q_learning, actor_critic_loop, ppo, meta_learner, l2rl
    assert [module for module, uses in loops if not uses] == []


def too_long(folder: str) -> list[tuple[str, int]]:
    lengths = [(module_name(path), len(path.read_text().splitlines())) for path in modules(folder)]
    return [(module, lines) for module, lines in lengths if lines > MAX_LINES]


@pytest.mark.parametrize(
    "folder",
    [
        *PACKAGES,
        *SCRIPTS,
    ],
)
def test_no_module_over_400_lines(folder: str) -> None:
    assert too_long(folder) == []
