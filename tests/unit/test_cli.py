"""The command line: a run directory from a file, one-line errors, and the benchmark's JSON shape."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture
def texts_csv(tmp_path, topic_texts):
    texts, labels = topic_texts
    path = tmp_path / "texts.csv"
    pd.DataFrame({"text": texts, "topic": labels}).to_csv(path, index=False)
    return path


def test_cluster_writes_a_run_directory(tmp_path, texts_csv):
    out = tmp_path / "run"
    result = cli("cluster", str(texts_csv), "--text-column", "text", "--label-column", "topic", "--k", "3",
                 "--out", str(out))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["k"] == 3 and summary["acc"] > 0.8
    for name in ("config.json", "status.json", "labels.npy", "embeddings.npy", "projection.npy", "metrics.json"):
        assert (out / name).exists(), name
    assert "[    embed]" in result.stderr  # progress goes to stderr
    assert "Naming the clusters" in result.stderr  # named as app runs are, before `show` or Explore opens it
    record = cli_run(out)
    assert (record.status, record.progress, record.summary["k"]) == ("done", 1.0, 3)
    assert summary["run_id"] == record.id


def cli_run(out: Path):
    """The catalogue's record of the command line run written to `out`."""
    from core.runs import default_store

    [record] = [record for record in default_store().list(owner="cli") if record.path == out.resolve()]
    return record


def test_a_failed_run_is_catalogued_with_the_progress_it_had_reached(tmp_path, texts_csv):
    out = tmp_path / "run"
    result = cli("cluster", str(texts_csv), "--text-column", "text", "--k", "100", "--reduce", "none",
                 "--out", str(out))
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith("error: With 60 rows")
    record = cli_run(out)
    assert (record.status, record.stage) == ("failed", "failed")
    assert 0.5 < record.progress < 1.0  # where clustering began (its share follows the stages' costs), not a clock
    assert record.message.startswith("With 60 rows")
    assert json.loads((out / "status.json").read_text())["progress"] == record.progress


@pytest.mark.parametrize("content, expected", [
    (b"", "is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", "does not look like text"),
    (b"text\nonly one row\n", "at least two rows"),
])
def test_bad_files_give_one_line_errors(tmp_path, content, expected):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    result = cli("cluster", str(bad), "--out", str(tmp_path / "run"))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_file_and_unknown_method(tmp_path, texts_csv):
    result = cli("cluster", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "run"))
    assert result.returncode != 0 and result.stderr.startswith("error: ")
    result = cli("cluster", str(texts_csv), "--method", "magic", "--out", str(tmp_path / "run"))
    assert "Unknown method 'magic'" in result.stderr and "Traceback" not in result.stderr


def test_bench_json_shape(tmp_path, texts_csv):
    out = tmp_path / "bench.json"
    result = cli("bench", str(texts_csv), "--text-column", "text", "--label-column", "topic", "--seeds", "1,2",
                 "--out", str(out))
    assert result.returncode == 0, result.stderr
    record = json.loads(out.read_text())
    assert {"dataset", "method", "n", "k", "metrics", "seconds"} <= set(record)
    assert set(record["metrics"]) == {"acc", "nmi", "ari", "ami", "silhouette"}
    assert all(len(pair) == 2 for pair in record["metrics"].values())
    assert set(record["seconds"]) == {"load", "embed", "cluster", "total"}
    assert record["k"] == 3 and record["metrics"]["acc"][0] > 80  # 0-100 scale
    assert "acc" in result.stdout


def test_bench_reuses_a_representation_only_for_the_same_settings(tmp_path, texts_csv):
    def bench(*extra: str) -> dict:
        out = tmp_path / "bench.json"
        result = cli("bench", str(texts_csv), "--text-column", "text", "--label-column", "topic", "--seeds", "1",
                     "--out", str(out), *extra)
        assert result.returncode == 0, result.stderr
        return json.loads(out.read_text())

    first = bench()
    reused = bench("--reuse", "--reduce", "umap")
    assert not first["representation_reused"] and reused["representation_reused"]
    assert reused["seconds"]["embed"] == first["seconds"]["embed"]  # the original timing, not the reading back
    assert reused["reduce"] == "umap"
    other = bench("--reuse", "--set", "table_representation=text")  # any other setting is another representation
    assert not other["representation_reused"]
