"""CACTUS page: example groups, a short background training, scores, clustering pasted groups, adding one back."""

from core import paths
from core.workspace import Workspaces
from tests.app.waiting import wait_for_runs

PASTED = ("i want a refund for my order\nplease refund the duplicate payment\n"
          "i forgot my password\nreset my password please")


def groups_of(workspace: str):
    """The project's CACTUS groups table, as saved (the main data set is a separate slot)."""
    return Workspaces(paths.workspaces_root()).open(workspace).dataset("groups")


def test_without_groups_the_page_says_what_to_do(app):
    at = app("pages/cactus.py")
    assert at.title[0].value == "CACTUS"
    assert any("No training groups yet" in info.value for info in at.info)


def test_train_score_cluster_new_groups_and_add_a_correction(app, workspace):
    at = app("pages/cactus.py")
    at.button(key="cactus-example").click().run()
    assert any("40** clustered groups" in md.value for md in at.markdown), [md.value for md in at.markdown]
    at.number_input(key="cactus-epochs").set_value(1)
    at.number_input(key="cactus-pretrain_steps").set_value(2)
    at.selectbox(key="cactus-attention").set_value("sia")
    at.form_submit_button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    runs = wait_for_runs(workspace, method="cactus", timeout=300.0)
    assert [run.status for run in runs] == ["done"], runs[0].message
    assert runs[0].summary["groups"] == 32

    at.run()
    assert any("AMI (mean over groups)" in metric.label for metric in at.metric)
    comparison = at.dataframe[-1].value
    assert comparison["attention"].tolist() == ["sia"] and comparison["untrained AMI"].notna().all()

    at.text_area(key="cactus-paste").input(PASTED)
    at.button(key="cactus-predict-paste").click().run()
    assert not at.exception and not at.error
    assert any("**pasted 1** · 4 entities" in md.value for md in at.markdown)

    rows_before = len(groups_of(workspace).frame)
    at.button(key="cactus-add").click().run()
    assert any("Added pasted 1 (4 entities)" in success.value for success in at.success)
    assert len(groups_of(workspace).frame) == rows_before + 4
    assert any("41** clustered groups" in md.value for md in at.markdown)  # the count follows at once


def test_before_any_training_there_is_nothing_to_cluster_with(app, workspace):
    at = app("pages/cactus.py")
    at.button(key="cactus-example").click().run()
    assert not at.exception
    assert any("progress shows here" in caption.value for caption in at.caption)
    assert not [button for button in at.button if button.key == "cactus-predict-paste"]


def test_example_groups_leave_the_main_data_set_alone(app, workspace):
    at = app()
    at.selectbox[0].set_value("penguins")
    at.button(key="load_sample").click().run()
    at.switch_page("pages/cactus.py").run()
    at.button(key="cactus-example").click().run()
    assert any("40** clustered groups" in md.value for md in at.markdown)
    main = Workspaces(paths.workspaces_root()).open(workspace).dataset()
    assert main.name == "penguins"
    at.switch_page("pages/data.py").run()
    assert at.subheader[0].value == "penguins"


def test_training_shows_a_duration_estimate_before_it_starts(app):
    at = app("pages/cactus.py")
    at.button(key="cactus-example").click().run()
    assert not at.exception
    assert any("Estimated time on" in caption.value and "first guess" in caption.value for caption in at.caption)
