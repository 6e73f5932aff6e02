"""A project as one file: export with its runs, edits, names and answers; import as a new project elsewhere; archives
that are not ours, too big, or escaping their folder are refused and leave nothing behind."""
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from core.curation import Curation, EditLog, Move, Rename
from core.data.intake import dataset_from_frame
from core.llm.judges import Answer
from core.llm.store import JudgmentStore
from core.projects import ProjectArchiveError, delete_project, export_project, import_project
from core.runs import RunStore, execute_run, prepare_run
from core.settings import ClusteringSettings, RunConfig
from core.workspace import Workspaces
from tests.conftest import BagOfWordsEmbedder
from tests.unit.test_curation import FirstWordNamer


@pytest.fixture
def home(tmp_path):
    """A catalogue, its runs and its projects, all in one temporary ClusterLens home."""
    store = RunStore(tmp_path / "catalogue.sqlite", tmp_path / "runs")
    return store, Workspaces(tmp_path / "workspaces")


def finished_project(home, topic_texts):
    """A project with a data set, one finished baseline run (current), an edit and a person's name on it."""
    store, workspaces = home
    texts, labels = topic_texts
    frame = pd.DataFrame({"text": texts, "topic": labels})
    project = workspaces.create("Support, March")
    project.save_dataset(dataset_from_frame(frame, name="topics"))
    config = RunConfig(method="baseline", dataset="topics", kind="text", roles={"text": "text", "topic": "label"},
                       clustering=ClusteringSettings(n_clusters=3, reduce="none"))
    record = store.create(owner=project.id, method="baseline", dataset="topics", kind="text")
    prepare_run(record.directory, config, frame)
    summary = execute_run(config, record.path, embedders=lambda name: BagOfWordsEmbedder())
    store.update(record.id, status="done", progress=1.0, summary=summary)
    project.set_current_run(record.id)
    curation = Curation(record.path, log=EditLog(store.db_path), namer=FirstWordNamer(),
                        embedder=BagOfWordsEmbedder())
    curation.apply(Rename(1, "Card problems"))
    curation.apply(Move((0, 1), "new"))
    answers = JudgmentStore(store.db_path)
    answers.record(record.path.name, "triplet", "oracle", "v1", texts[:3], Answer(choice=1, raw="1"))
    answers.set_person_answer(answers.list(record.path.name)[0].id, 2)
    return project, record, curation


def test_a_project_travels_as_one_file_and_keeps_its_runs_edits_and_answers(home, topic_texts, tmp_path):
    store, _ = home
    project, record, curation = finished_project(home, topic_texts)
    archive = tmp_path / "project.zip"
    assert export_project(project, store, archive) == []

    elsewhere = RunStore(tmp_path / "other.sqlite", tmp_path / "other-runs")
    imported = import_project(archive, Workspaces(tmp_path / "other-projects"), elsewhere)
    assert imported.name == "Support, March" and imported.id != project.id
    assert imported.dataset().frame.equals(project.dataset().frame)
    [copy] = elsewhere.list(imported.id)
    assert copy.id != record.id and copy.status == "done" and imported.current_run == copy.id
    assert copy.summary == store.get(record.id).summary
    again = Curation(copy.path, log=EditLog(elsewhere.db_path), namer=FirstWordNamer(), embedder=BagOfWordsEmbedder())
    np.testing.assert_array_equal(again.labels(), curation.labels())
    assert again.current().names()[1] == "Card problems"
    again.undo()  # the history came along, not only its result
    np.testing.assert_array_equal(again.labels()[:2], curation.original()[:2])
    [answer] = JudgmentStore(elsewhere.db_path).list(copy.path.name)
    assert answer.person_answer == 2  # the person's review came along with the judge's answer


def test_an_unfinished_run_is_left_out_with_a_note(home, topic_texts, tmp_path):
    store, _ = home
    project, _, _ = finished_project(home, topic_texts)
    waiting = store.create(owner=project.id, method="baseline", dataset="topics", kind="text")
    notes = export_project(project, store, tmp_path / "project.zip")
    assert notes and waiting.id in notes[0]


def zip_with(entries: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


MANIFEST = json.dumps({"format": "clusterlens-project", "version": 1, "name": "x", "runs": [
    {"id": "r1", "method": "baseline", "dataset": "d", "kind": "text"}]}).encode()


@pytest.mark.parametrize(("entries", "message"), [
    ({"notes.txt": b"hello"}, "no readable manifest"),
    ({"manifest.json": b'{"format": "other", "runs": []}'}, "not a ClusterLens project"),
    ({"manifest.json": MANIFEST, "runs/r1/../../../evil.py": b"x"}, "unexpected entry"),
    ({"manifest.json": MANIFEST, "runs/r2/labels.npy": b"x"}, "unexpected entry"),
    ({"manifest.json": MANIFEST, "project/secrets.toml": b"x"}, "unexpected entry"),
    ({"manifest.json": json.dumps({"format": "clusterlens-project", "runs": [{"id": 3}]}).encode()}, "malformed"),
])
def test_archives_that_are_not_ours_are_refused_and_leave_nothing(home, entries, message):
    store, workspaces = home
    with pytest.raises(ProjectArchiveError, match=message):
        import_project(zip_with(entries), workspaces, store)
    assert workspaces.list() == [] and store.list() == []


def test_an_archive_too_big_once_unpacked_is_refused_before_extraction(home, monkeypatch):
    store, workspaces = home
    monkeypatch.setenv("CLUSTERLENS_MAX_IMPORT_MB", "1")
    archive = zip_with({"manifest.json": MANIFEST, "runs/r1/big.bin": b"\0" * (2 * 1024 * 1024)})
    with pytest.raises(ProjectArchiveError, match="unpacks to"):
        import_project(archive, workspaces, store)
    assert workspaces.list() == []


def test_a_file_that_is_not_a_zip_gets_a_message(home):
    store, workspaces = home
    with pytest.raises(ProjectArchiveError, match="not a ClusterLens project file"):
        import_project(io.BytesIO(b"name,age\nann,3\n"), workspaces, store)


def test_deleting_a_project_deletes_its_runs_answers_reviews_and_edits(home, topic_texts):
    store, workspaces = home
    project, record, curation = finished_project(home, topic_texts)
    other, other_record, _ = finished_project(home, topic_texts)  # another project's work stays
    delete_project(project.id, workspaces, store)
    assert not workspaces.exists(project.id) and not record.path.exists() and store.list(project.id) == []
    assert JudgmentStore(store.db_path).list(record.path.name) == []
    assert EditLog(store.db_path).records(curation.run) == []
    assert workspaces.exists(other.id) and len(JudgmentStore(store.db_path).list(other_record.path.name)) == 1
