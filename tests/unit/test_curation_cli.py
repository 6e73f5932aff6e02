"""The curation command line, in the shapes scripts and automated checks read: edit, show, name, assign, export and
bench-edits."""
import json
import shutil

import pandas as pd
import pytest

from tests.faults.fake_llm import FakeLLM
from tests.unit.test_cli import cli


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """A run of the 60 topic texts made by `python -m core cluster` (the default embedder, k = 3)."""
    from tests.conftest import topic_texts

    texts, labels = topic_texts.__wrapped__()
    folder = tmp_path_factory.mktemp("cli-curation")
    path = folder / "texts.csv"
    pd.DataFrame({"text": texts, "topic": labels}).to_csv(path, index=False)
    result = cli("cluster", str(path), "--text-column", "text", "--label-column", "topic", "--k", "3",
                 "--reduce", "none", "--out", str(folder / "run"))
    assert result.returncode == 0, result.stderr
    return folder / "run"


def show(run) -> dict:
    result = cli("show", str(run))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def edit(run, *args: str) -> dict:
    result = cli("edit", str(run), *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_show_and_edit_shapes(cli_run):
    shown = show(cli_run)
    assert set(shown) >= {"clusters", "version"} and shown["version"] == 0
    clusters = shown["clusters"]
    assert len(clusters) == 3 and len({c["name"] for c in clusters}) == 3
    for cluster in clusters:
        assert set(cluster) >= {"id", "name", "description", "size", "examples"}
        assert len(cluster["examples"]) == 3 and 1 <= len(cluster["name"].replace(",", " ").split()) <= 5

    assert edit(cli_run, "rename", "0", "My first theme")["version"] == 1
    assert edit(cli_run, "merge", "1", "2")["edit"]["kind"] == "merge"
    sizes = {c["id"]: c["size"] for c in show(cli_run)["clusters"]}
    assert set(sizes) == {0, 1} and sizes[1] == 40
    split = edit(cli_run, "split", "1", "--k", "2")
    assert split["edit"]["kind"] == "split" and "new: 3" in split["edit"]["summary"]
    moved = edit(cli_run, "move", "--rows", "0,1", "--to", "new")
    assert moved["version"] == 4
    undone = edit(cli_run, "undo")
    assert undone["edit"]["state"] == "undone" and undone["version"] == 3
    assert edit(cli_run, "redo")["version"] == 4
    final = show(cli_run)
    assert final["version"] == 4 and {c["name"] for c in final["clusters"]} >= {"My first theme"}

    bad = cli("edit", str(cli_run), "merge", "0", "77")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "no cluster 77" in bad.stderr


def test_assign_writes_the_labels_csv_with_new_rows(cli_run, tmp_path):
    new = tmp_path / "new.csv"
    pd.DataFrame({"text": ["where is my new card", "reset my password please", "=HYPERLINK(\"x\")",
                           "zebra giraffe elephant safari lion"]}).to_csv(new, index=False)
    out = tmp_path / "labels.csv"
    result = cli("assign", str(cli_run), str(new), "--out", str(out))
    assert result.returncode == 0, result.stderr
    labels = pd.read_csv(out)
    assert list(labels.columns) == ["row", "cluster", "name", "confidence", "new", "text"]
    assert labels["new"].tolist()[-1] and not labels["new"].tolist()[0]
    assert labels["text"][2].startswith("'=")  # defused for spreadsheets
    assert json.loads(result.stdout)["rows"] == 4


def test_export_csv_and_html(cli_run, tmp_path):
    result = cli("export", str(cli_run), "--csv", str(tmp_path / "labels.csv"), "--html", str(tmp_path / "map.html"))
    assert result.returncode == 0, result.stderr
    labels = pd.read_csv(tmp_path / "labels.csv")
    assert list(labels.columns[:5]) == ["row", "cluster", "name", "original_cluster", "version"]
    assert "<script src=\"http" not in (tmp_path / "map.html").read_text()


def test_bench_edits_json_shape(tmp_path, topic_texts):
    texts, topics = topic_texts
    path = tmp_path / "texts.csv"  # the third repeat of each text carries a label of its own: something to fix
    labels = [f"{topic}-late" if text.endswith("!!!") else topic for text, topic in zip(texts, topics)]
    pd.DataFrame({"text": texts, "topic": labels}).to_csv(path, index=False)
    out = tmp_path / "edits.json"
    result = cli("bench-edits", str(path), "--text-column", "text", "--label-column", "topic", "--edits", "1,2",
                 "--seeds", "1", "--epochs", "1", "--compare-at", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    record = json.loads(out.read_text())
    assert {"dataset", "base", "edits", "seconds"} <= set(record)
    assert set(record["edits"]) == {"1", "2"}
    for entry in record["edits"].values():
        assert {"labels_only", "retrained"} <= set(entry)
        assert set(entry["retrained"]) == {"acc", "nmi", "ari", "ami", "silhouette"}
    assert record["edits"]["2"]["triplets"]["same_actions"]["retrained"]["acc"][0] <= 100
    assert 0 <= record["base"]["acc"][0] <= 100 and "ACC" in result.stdout


def test_name_command_with_a_local_openai_compatible_server(cli_run, monkeypatch, tmp_path):
    # A copy under a name of its own: the namer chosen here is this run's alone, and the answer store knows a run by
    # its folder's name (as the app's run ids are), so other tests' folders called "run" must not share its budget.
    run = tmp_path / "llm-named-run"
    shutil.copytree(cli_run, run)
    with FakeLLM([("ok", "Name: Billing help\nDescription: Invoices.")]) as server:
        monkeypatch.setenv("CLUSTERLENS_LLM_ENDPOINTS", json.dumps(
            [{"name": "local", "api_base": server.url, "key_name": None, "models": ["openai/*"]}]))
        estimate = json.loads(cli("name", str(run), "--namer", "litellm:openai/local-model", "--estimate").stdout)
        assert estimate["estimate"]["questions"] == 4 and not server.requests
        result = cli("name", str(run), "--namer", "litellm:openai/local-model", "--api-base", "local",
                     "--max-queries", "10")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert set(shown) >= {"clusters", "version", "namer", "problem", "spent"} and shown["problem"] is None
    names = [c["name"] for c in shown["clusters"]]
    assert len(set(names)) == len(names) == 3 and all(n.startswith("Billing help") for n in names)
    assert shown["spent"]["queries"] == len(server.requests) == 4  # three names, one distinct pass (unreadable)
    assert server.requests[0]["auth"] in ("", "Bearer no-key")  # an endpoint without a key gets none
