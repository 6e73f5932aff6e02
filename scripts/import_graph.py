"""Print the import graph of `core/` and check its shape: no cycle, and no arrow from a lower layer to a higher one.

    python scripts/import_graph.py            # the graph by layer, then "no cycle, no upward arrow" or the faults
    python scripts/import_graph.py --modules  # every module's imports of core modules
    python scripts/import_graph.py --fresh    # also import every module alone in a fresh interpreter

Every import counts, at module level or inside a function (a lazy import is still a dependency), except those
under `if TYPE_CHECKING:`, which only annotations see. Exit status 1 when the shape is broken.
"""
from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "core"
# Layers from the bottom up: a module may import its own layer and those below it, never one above.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("errors", "paths", "sqlite", "device", "progress", "settings", "storage")),
    ("data", ("data",)),
    ("embed", ("embed",)),
    ("cluster and metrics", ("cluster", "metrics", "profiles", "pipeline")),
    ("judges and training", ("llm", "train")),
    ("methods", ("methods",)),
    ("curation and runs", ("curation", "runs", "export", "workspace", "projects")),
    ("tasks, bench and CLI", ("tasks", "bench", "__main__")),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    """The layer index of a core module ("core" itself, the package's __init__, sits at the bottom)."""
    parts = module.split(".")
    if len(parts) == 1:
        return 0
    for index, (_, tops) in enumerate(LAYERS):
        if parts[1] in tops:
            return index
    raise SystemExit(f"{module} belongs to no layer: add core/{parts[1]} to LAYERS in {Path(__file__).name}")


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The core modules `path` imports (resolved to the longest existing module name), TYPE_CHECKING blocks aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for inner in node.body for child in ast.walk(inner))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name.split(".")[0] != "core":
                continue
            while name not in modules and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in modules:
                found.add(name)
    return found


def build_graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in CORE.rglob("*.py")}
    modules = set(files)
    graph = {}
    for module, path in files.items():
        # A module's own parent packages run first on import; they are not dependencies of its code.
        parents = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
        graph[module] = imports_of(path, modules) - {module} - parents
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def upward_arrows(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((source, target) for source, targets in graph.items() for target in targets
                  if layer_of(target) > layer_of(source))


def failed_fresh_imports(modules: list[str], workers: int = 2) -> dict[str, str]:
    """Import each module alone in a new interpreter (an import cycle fails only from some entry points); returns
    {module: last line of the error} for those that fail."""

    def attempt(module: str) -> tuple[str, str | None]:
        result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=CORE.parent, capture_output=True,
                                text=True)
        return module, (result.stderr.strip().splitlines() or ["failed"])[-1] if result.returncode else None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return {module: error for module, error in pool.map(attempt, modules) if error}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", action="store_true", help="list every module's imports")
    parser.add_argument("--fresh", action="store_true", help="import every module alone in a fresh interpreter")
    args = parser.parse_args()
    graph = build_graph()
    for index, (title, _) in enumerate(LAYERS):
        members = sorted(module for module in graph if layer_of(module) == index and module != "core")
        packages = sorted({".".join(module.split(".")[:2]) for module in members})
        below = sorted({".".join(target.split(".")[:2]) for module in members for target in graph[module]
                        if layer_of(target) < index})
        print(f"{index} {title}: {', '.join(packages)}")
        print(f"    uses: {', '.join(below) or '(nothing below)'}")
        if args.modules:
            for module in members:
                print(f"      {module} -> {', '.join(sorted(graph[module])) or '-'}")
    cycle = find_cycle(graph)
    upward = upward_arrows(graph)
    for source, target in upward:
        print(f"UPWARD ARROW: {source} ({LAYERS[layer_of(source)][0]}) imports {target} "
              f"({LAYERS[layer_of(target)][0]})")
    if cycle:
        print("CYCLE: " + " -> ".join(cycle))
    failed = failed_fresh_imports(sorted(graph)) if args.fresh else {}
    for module, error in failed.items():
        print(f"IMPORT FAILS: python -c 'import {module}': {error}")
    if not cycle and not upward:
        print(f"{len(graph)} modules: no cycle, no upward arrow"
              + ("; each imports alone in a fresh interpreter." if args.fresh and not failed else "."))
    return 1 if cycle or upward or failed else 0


if __name__ == "__main__":
    sys.exit(main())
