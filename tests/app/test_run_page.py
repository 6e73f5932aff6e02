"""Run page: start a background run from the form, follow it to completion, see it in the history."""

from pages.common import run_store
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP
from tests.app.waiting import wait_for_runs


def test_without_data_points_to_data_page(app):
    at = app("pages/run.py")
    assert any("No data yet" in info.value for info in at.info)


def test_start_run_and_see_it_done(app, workspace):
    at = app()
    at.selectbox[0].set_value("support_requests")
    at.button(key="load_sample").click().run()
    at.switch_page("pages/run.py").run()
    assert at.title[0].value == "Run"
    at.text_input(key="clustering-n_clusters").input("10")
    at.button(key="start").click().run()
    assert not at.exception and not at.error
    runs = wait_for_runs(workspace)
    assert [run.status for run in runs] == ["done"], runs[0].message
    assert runs[0].summary["k"] == 10
    at.run()
    assert any("Done: 10 clusters" in success.value for success in at.success)
    history = at.dataframe[0].value
    assert history["status"].tolist() == ["done"]


def test_two_workspaces_do_not_see_each_other(app, workspace):
    test_start_run_and_see_it_done(app, workspace)
    from streamlit.testing.v1 import AppTest

    other = AppTest.from_file(APP, default_timeout=60)
    other.query_params["ws"] = "f" * 32
    other.run()
    other.switch_page("pages/run.py").run()
    assert any("No data yet" in info.value for info in other.info)
    assert run_store().list(owner="f" * 32) == []


def test_clusterllm_shows_its_questions_and_cost_before_the_run(app, monkeypatch):
    monkeypatch.delenv("CLUSTERLENS_TEST_KEY", raising=False)
    at = app()
    at.selectbox[0].set_value("support_requests")
    at.button(key="load_sample").click().run()
    at.switch_page("pages/run.py").run()
    at.selectbox(key="method").set_value("clusterllm").run()
    assert any("Up to 2,048 triplet" in info.value and "free" in info.value for info in at.info)

    at.selectbox(key="clusterllm-judge").set_value("litellm:gpt-4o-mini")
    at.number_input(key="clusterllm-n_triplets").set_value(200)
    at.text_area(key="clusterllm-pair_examples").input("Sentence 1: card lost\nSentence 2: card stolen\nAnswer: Yes")
    at.run()  # the estimate follows the settings: nothing starts, nothing is paid
    assert not at.exception
    assert any("Up to 400 triplet" in info.value and "estimated cost $" in info.value for info in at.info)
    assert run_store().list(owner=at.query_params["ws"][0]) == []


def test_streamlit_secrets_reach_the_judges_but_never_the_environment(monkeypatch):
    """A key in the environment is one litellm may send to any host: secrets stay in the provider configuration."""
    import os

    from core.llm import current_providers, use_secrets

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["OPENAI_API_KEY"] = "sk-not-a-real-key"
    at.run()
    try:
        assert not at.exception
        assert "OPENAI_API_KEY" not in os.environ
        providers = current_providers()
        assert providers.key(providers.endpoint_for("gpt-4o-mini")) == "sk-not-a-real-key"
        assert "sk-not-a-real-key" not in repr(providers)
    finally:
        use_secrets({})


def test_erasmo_settings_show_defaults_and_a_time_estimate(app):
    at = app()
    at.selectbox[0].set_value("penguins")
    at.button(key="load_sample").click().run()
    at.switch_page("pages/run.py").run()
    at.selectbox(key="method").set_value("erasmo").run()
    assert not at.exception
    assert at.number_input(key="erasmo-epochs").value > 0 and at.checkbox(key="erasmo-lora").value
    assert at.selectbox(key="erasmo-model").value == "smollm2"
    assert any(caption.value.startswith("Estimated time on cpu: about ") for caption in at.caption)


def test_a_waiting_run_shows_its_place_in_line(app, workspace):
    from core import paths
    from core.runs.executors import configured_workers
    from core.workspace import Workspaces

    store = run_store()
    busy = [store.create(owner="someone-else", method="baseline", dataset="d", kind="text")
            for _ in range(configured_workers())]
    for record in busy:  # every slot held by another person's run, so the page's executor starts nothing
        store.enqueue(record.id)
        assert store.reserve_next(f"test-{record.id}", configured_workers()) == record.id
        store.claim(record.id, f"test-{record.id}")
    waiting = store.create(owner=workspace, method="baseline", dataset="d", kind="text")
    try:
        store.enqueue(waiting.id)
        Workspaces(paths.workspaces_root()).open(workspace, create=True).set_current_run(waiting.id)
        at = app()
        at.selectbox[0].set_value("support_requests")
        at.button(key="load_sample").click().run()
        at.switch_page("pages/run.py").run()
        assert f"Next in line · {len(busy)} of {len(busy)} slot" in " ".join(caption.value for caption in at.caption)
    finally:
        store.request_cancel(waiting.id)
        for record in busy:
            store.finish(record.id, f"test-{record.id}", status="cancelled", message="test")
