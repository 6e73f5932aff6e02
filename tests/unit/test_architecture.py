"""The shape of core: no import cycle, no arrow from a lower layer to a higher one, no Streamlit, every module
importable on its own in a fresh interpreter."""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "import_graph.py"
spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
import_graph = importlib.util.module_from_spec(spec)
sys.modules["import_graph"] = import_graph
spec.loader.exec_module(import_graph)


def test_the_checker_finds_cycles_and_upward_arrows():
    assert import_graph.find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert import_graph.find_cycle({"a": {"b"}, "b": set()}) is None
    assert import_graph.upward_arrows({"core.storage": {"core.runs.store"}, "core.runs.store": set()}) == [
        ("core.storage", "core.runs.store")]


def test_core_has_no_cycle_and_no_upward_arrow():
    graph = import_graph.build_graph()
    assert len(graph) > 50 and "core.methods.cactus.estimator" in graph
    assert import_graph.find_cycle(graph) is None
    assert import_graph.upward_arrows(graph) == []


def test_core_never_imports_streamlit():
    imports = re.compile(r"^\s*(import|from)\s+streamlit\b", re.MULTILINE)  # at any depth, lazy ones too
    offenders = [str(path) for path in import_graph.CORE.rglob("*.py") if imports.search(path.read_text())]
    assert offenders == []


def test_every_core_module_imports_alone_in_a_fresh_interpreter():
    assert import_graph.failed_fresh_imports(sorted(import_graph.build_graph())) == {}
