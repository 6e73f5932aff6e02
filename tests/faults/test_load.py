"""Two analysts at once on a real server (scripts/load_test.py, bounded): each gets a result, and nobody sees an
error. The figures for 1, 4 and 8 analysts are in bench_results/reliability.md."""
from __future__ import annotations

import importlib.util
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "load_test.py"


spec = importlib.util.spec_from_file_location("load_test", SCRIPT)
load_test = importlib.util.module_from_spec(spec)
sys.modules["load_test"] = load_test  # its dataclasses look their module up there
spec.loader.exec_module(load_test)


def test_two_analysts_at_once_each_get_their_clusters_without_errors():
    with ThreadPoolExecutor(1) as thread:  # its own event loop: the browser tests' Playwright holds this thread's
        results = thread.submit(load_test.load_test, 2).result()
    assert results["errors"] == 0, [report["errors"] for report in results["per_analyst"]]
    assert results["results"] == 2
    for report in results["per_analyst"]:
        assert report["time_to_first_result"] >= report["steps"]["wait for the run"] > 0
    assert results["server_peak_rss_mb"] > 100  # the server itself was measured, not nothing
