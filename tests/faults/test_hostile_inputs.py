"""Every file of the hostile-input corpus (tests/faults/make_corpus.py) through intake and the command line (#11
items 2 and 7): each is refused with one clear message or handled, within a memory bound, and what is handled
is read right (encodings, infinities) and exported without a formula a spreadsheet would run.
"""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.data.intake import load_dataset
from core.data.limits import PARSER_MEMORY_BYTES
from core.export import FORMULA_STARTS, labels_csv
from tests.faults.make_corpus import CASES, CORPUS, Case, write_large

REPO = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
INTAKE_RSS_BOUND = 400 * MB  # the process reading a file; pandas and pyarrow alone take ~100 MB
CHILD_RSS_BOUND = PARSER_MEMORY_BYTES + 256 * MB  # the capped reader process, its libraries' code included
CLI_RSS_BOUND = 1024 * MB  # the command line imports torch and the embedders (~400 MB) before reading anything
CLI_ARGS = ["--reduce", "none", "--k", "2"]

PROBE = """
import json, resource, sys
from core.data.intake import load_dataset
from core.errors import ClusterLensError
try:
    data = load_dataset(sys.argv[1])
    values = {str(value) for column in data.frame.columns for value in data.frame[column].dropna().head(200)}
    result = {"rows": len(data.frame), "notes": list(data.notes), "values": sorted(values),
              "columns": [str(column) for column in data.frame.columns]}
except ClusterLensError as error:
    result = {"error": type(error).__name__, "message": str(error)}
except BaseException as error:  # what this test is for: anything but a clear refusal
    result = {"crash": f"{type(error).__name__}: {str(error)[:300]}"}
# VmHWM is this process's own peak; ru_maxrss would also count the pytest process it was forked from
result["rss"] = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM"))
result["child_rss"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps(result))
"""

MEASURED = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"code": done.returncode, "stderr": done.stderr, "peak": peak}))
"""
"""Runs a command and reports its peak RSS (its children included) from a small process: a process forked from the
big pytest process would report pytest's RSS as its own peak."""

CLI_DRIVER = """
import contextlib, io, json, sys
from core.__main__ import main
for path, out in json.loads(sys.argv[1]):
    err, std = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
        code = main(["cluster", path, "--out", out, *json.loads(sys.argv[2])])
    print(json.dumps({"path": path, "code": code, "stderr": err.getvalue(), "stdout": std.getvalue()}), flush=True)
"""


@pytest.fixture(scope="module")
def large_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("large-hostile-inputs")
    write_large(folder)
    return folder


def path_of(case: Case, large_folder: Path) -> Path:
    return (large_folder if case.large else CORPUS) / case.name


def test_the_corpus_is_what_its_generator_makes():
    committed = {path.name for path in CORPUS.iterdir()}
    assert committed == {case.name for case in CASES if not case.large}
    assert len(CASES) >= 25 and len({case.name for case in CASES}) == len(CASES)
    assert max(path.stat().st_size for path in CORPUS.iterdir()) < 300 * 1024


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_intake_refuses_with_one_clear_message_or_reads_it_right(case: Case, large_folder: Path):
    done = subprocess.run([sys.executable, "-c", PROBE, str(path_of(case, large_folder))], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "crash" not in result, result["crash"]
    assert result["rss"] < INTAKE_RSS_BOUND, f"read with {result['rss'] / MB:.0f} MB"
    assert result["child_rss"] < CHILD_RSS_BOUND, f"the reader child took {result['child_rss'] / MB:.0f} MB"
    if case.refused:
        assert result.get("error") == "IntakeError", result
        message = result["message"]
        assert case.refused in message and "\n" not in message and len(message) < 500
        assert case.name in message or Path(case.name).stem in message  # it names the file
        return
    assert "error" not in result, result["message"]
    if case.rows is not None:
        assert result["rows"] == case.rows
    if case.note is not None:
        assert any(case.note in note for note in result["notes"]), result["notes"]
    if case.value is not None:
        assert case.value in result["values"] or case.value in result["columns"]


@pytest.fixture(scope="module")
def cli_results(large_folder, tmp_path_factory) -> dict[str, dict]:
    """Every case through the command line's main(), in one process so that torch is imported once."""
    out = tmp_path_factory.mktemp("cli-runs")
    jobs = [[str(path_of(case, large_folder)), str(out / case.name)] for case in CASES]
    done = subprocess.run([sys.executable, "-c", CLI_DRIVER, json.dumps(jobs), json.dumps(CLI_ARGS)], cwd=REPO,
                          capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {Path(result["path"]).name: result for result in results}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_command_line_fails_with_one_error_line_or_clusters(case: Case, cli_results: dict[str, dict]):
    result = cli_results[case.name]
    errors = [line for line in result["stderr"].splitlines() if line.startswith(("error", "internal error"))]
    if case.refused:
        assert result["code"] == 2, result["stderr"][-1000:]
        assert len(errors) == 1 and errors[0].startswith("error: ") and case.refused in errors[0]
        assert "Traceback" not in result["stderr"]
    else:
        assert result["code"] == 0 and not errors, result["stderr"][-1000:]
        assert json.loads(result["stdout"].strip().splitlines()[-1])["k"] == 2


def run_cli_measured(path: Path, out: Path) -> tuple[int, str, int]:
    """`python -m core cluster` as a user runs it: (exit status, stderr, peak RSS in bytes, its children included)."""
    command = [sys.executable, "-m", "core", "cluster", str(path), "--out", str(out), *CLI_ARGS]
    done = subprocess.run([sys.executable, "-c", MEASURED, *command], cwd=REPO, capture_output=True, text=True,
                          timeout=1800)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["code"], result["stderr"], result["peak"]


@pytest.mark.parametrize("name, refused", [("sparse_cell_8000x8000.xlsx", True), ("nan_inf.csv", False)])
def test_the_real_command_line_stays_within_its_memory_bound(tmp_path, name, refused):
    code, stderr, peak = run_cli_measured(CORPUS / name, tmp_path / "run")
    assert peak < CLI_RSS_BOUND, f"{peak / MB:.0f} MB"
    if refused:
        assert code == 2 and len(stderr.strip().splitlines()) == 1 and stderr.startswith("error: ")
    else:
        assert code == 0, stderr[-1000:]


def test_mixed_encodings_keep_every_utf8_line_intact():
    data = load_dataset(CORPUS / "mixed_utf8_and_windows_1252.csv")
    texts = data.frame["text"].tolist()
    assert "café crème au lait" in texts and "señor García llegó tarde" in texts
    assert not any("Ã" in text for text in texts)


def test_infinities_are_missing_values_and_the_features_are_finite():
    from core.embed.tabular import table_features

    data = load_dataset(CORPUS / "nan_inf.csv")
    assert data.frame["x"].isna().sum() == 6 and np.isfinite(data.frame["x"].dropna()).all()
    features = table_features(data.frame, data.columns_with("numeric"), data.columns_with("categorical"))
    assert np.isfinite(features).all()


def looks_like_a_formula(cell: str) -> bool:
    """What a spreadsheet would run: a formula start (after any spaces) that is not just a number."""
    if not cell.lstrip(" ").startswith(FORMULA_STARTS):
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


def test_every_exported_cell_and_column_name_is_defused():
    data = load_dataset(CORPUS / "csv_injection.csv")
    rows = list(csv.reader(io.StringIO(labels_csv(data.frame, np.arange(len(data.frame)) % 2).decode("utf-8"))))
    header, cells = rows[0], [cell for row in rows[1:] for cell in row]
    assert len(header) == 1 + len(data.frame.columns) and len(rows) == 1 + len(data.frame)
    assert [name for name in header if looks_like_a_formula(name)] == []
    assert [cell for cell in cells if looks_like_a_formula(cell)] == []
    assert sum(cell.startswith("'") for cell in cells) == data.frame.size  # every payload kept, behind a quote
