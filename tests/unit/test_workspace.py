"""Projects: data sets by slot, state, the project list, and damaged files read as missing with a note."""
import pytest

from core.data.samples import load_sample
from core.workspace import UNTITLED, ProjectNotFoundError, Workspaces


def test_data_sets_live_in_their_own_slots_and_survive_reopening(tmp_path):
    projects = Workspaces(tmp_path)
    project = projects.create("Support tickets")
    penguins, support = load_sample("penguins"), load_sample("support_requests")
    project.save_dataset(penguins)
    project.save_dataset(support, "groups")
    again = projects.open(project.id)
    assert again.name == "Support tickets"
    assert again.dataset().name == "penguins" and again.dataset("groups").name == "support_requests"
    assert again.dataset().frame.equals(penguins.frame) and again.dataset().roles == penguins.roles
    first = again.data_version()
    again.save_dataset(penguins)
    assert again.data_version() == first + 1 and again.data_version("groups") == 1


def test_state_and_the_project_list(tmp_path):
    projects = Workspaces(tmp_path)
    older, newer = projects.create("Older"), projects.create("")
    newer.set_current_run("20261203-101010-abcdef")
    newer.save_dataset(load_sample("penguins"))
    listed = projects.list()
    assert [info.id for info in listed] == [newer.id, older.id]
    assert listed[0].name == UNTITLED and listed[0].dataset == "penguins" and listed[0].rows == 344
    assert projects.open(newer.id).current_run == "20261203-101010-abcdef"


def test_bad_ids_and_unknown_projects_are_refused(tmp_path):
    projects = Workspaces(tmp_path)
    for bad in ("../../etc", "A" * 32, ""):
        with pytest.raises(ProjectNotFoundError):
            projects.open(bad, create=True)
    with pytest.raises(ProjectNotFoundError):
        projects.open("a" * 32)
    assert projects.open("a" * 32, create=True).dataset() is None


def test_damaged_files_read_as_missing_with_a_note(tmp_path):
    project = Workspaces(tmp_path).create("Damaged")
    project.save_dataset(load_sample("penguins"))
    project.set_current_run("run-1")
    (project.folder.path / "data-main.parquet").write_bytes(b"PAR1 truncated")
    (project.folder.path / "state.json").write_text('{"current_run": "ru')
    assert project.dataset() is None and project.current_run is None
    assert any("damaged" in note for note in project.notes)
    project.set_current_run("run-2")  # a damaged file never blocks the next write
    assert project.current_run == "run-2"
