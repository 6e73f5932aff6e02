"""Start page: what ClusterLens does, a new project, the project list, rename; pages without a project say so."""
from streamlit.testing.v1 import AppTest

from core import paths
from core.workspace import Workspaces
from tests.app.conftest import APP


def fresh_tab() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_tab_without_a_link_lands_on_the_start_page_and_creates_a_project():
    at = fresh_tab()
    assert at.title[0].value == "ClusterLens"
    assert any("5. Export" in md.value or "**5. Export**" in md.value for md in at.markdown)
    at.text_input[0].input("Support tickets, March")
    at.form_submit_button[0].click().run()
    assert not at.exception
    assert at.title[0].value == "Data"
    project = at.query_params["ws"]
    project = project[0] if isinstance(project, list) else project
    assert Workspaces(paths.workspaces_root()).open(project).name == "Support tickets, March"


def test_projects_are_listed_reopened_and_renamed(app, workspace):
    at = app()
    at.selectbox[0].set_value("penguins")
    at.button(key="load_sample").click().run()
    Workspaces(paths.workspaces_root()).open(workspace).rename("Birds")
    tab = fresh_tab()
    assert any("**Birds**" in md.value and "penguins · 344 rows" in md.value for md in tab.markdown)
    tab.text_input(key=f"name-{workspace}").input("Penguins of Palmer")
    tab.button(key=f"rename-{workspace}").click().run()
    assert any("**Penguins of Palmer**" in md.value for md in tab.markdown)
    tab.button(key=f"open-{workspace}").click().run()
    assert tab.title[0].value == "Data" and tab.subheader[0].value == "penguins"


def test_a_page_without_a_project_points_to_the_start_page():
    at = fresh_tab()
    at.switch_page("pages/run.py").run()
    assert any("Open a project, or create one" in info.value for info in at.info)


def test_a_password_set_by_the_operator_is_asked_before_anything_is_shown(monkeypatch, app, workspace):
    monkeypatch.setenv("CLUSTERLENS_PASSWORD", "correct horse")
    Workspaces(paths.workspaces_root()).create("Secret project")
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["ws"] = workspace  # a link is not enough
    at.run()
    assert not at.exception
    assert at.title[0].value == "ClusterLens" and not any("Secret project" in md.value for md in at.markdown)
    at.text_input[0].input("guess")
    at.form_submit_button[0].click().run()
    assert at.error and "not the password" in at.error[0].value
    assert all(title.value != "Data" for title in at.title)
    at.text_input[0].input("correct horse")
    at.form_submit_button[0].click().run()
    assert not at.exception and at.title[0].value == "Data"
