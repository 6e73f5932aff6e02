"""User stories in a real browser: upload texts, run the baseline, explore, download labels; a bad file."""

import re

import pandas as pd
import pytest
from playwright.sync_api import expect

from core.data.samples import load_sample
from tests.e2e.widgets import new_project, open_tab

pytestmark = pytest.mark.e2e


@pytest.fixture
def texts_csv(tmp_path):
    frame = load_sample("support_requests").frame.groupby("topic").head(8)
    path = tmp_path / "tickets.csv"
    frame.to_csv(path, index=False)
    return path


def test_analyst_uploads_runs_explores_and_downloads(page, server, texts_csv, tmp_path):
    new_project(page, server, "Tickets")
    page.locator("input[type=file]").set_input_files(str(texts_csv))
    expect(page.get_by_text("treated as")).to_be_visible()
    expect(page.get_by_role("heading", name="tickets", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"Text lengths: median \d+ words"))).to_be_visible()  # with its histogram
    expect(page.locator(".js-plotly-plot").first).to_be_visible()

    page.get_by_role("link", name="Run").first.click()
    expect(page.get_by_role("heading", name="Run", exact=True)).to_be_visible()
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Done:")).to_be_visible(timeout=240_000)

    page.get_by_role("link", name="Explore the result").click()
    expect(page.get_by_role("heading", name="Scores", exact=True)).to_be_visible(timeout=60_000)
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="NMI")).to_be_visible()

    # A box drawn over the whole map lists the rows inside it.
    chart = page.locator(".js-plotly-plot").first
    chart.hover()
    page.locator('.modebar-btn[data-title="Box Select"]').first.click()
    box = chart.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=5)
    page.mouse.move(box["x"] + box["width"] - 5, box["y"] + box["height"] - 5, steps=5)
    page.mouse.up()
    open_tab(page, "Rows: move, mark as outliers")
    expect(page.get_by_text(re.compile(r"^\d+ selected row\(s\)$"))).to_be_visible()

    page.get_by_role("link", name="Export").first.click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Labels with names (CSV)").click()
    saved = tmp_path / "labels.csv"
    download.value.save_as(saved)
    labels = pd.read_csv(saved)
    assert list(labels.columns[:3]) == ["row", "cluster", "name"]
    assert len(labels) == len(pd.read_csv(texts_csv))
    assert labels["cluster"].nunique() >= 2 and labels["name"].notna().all()


def test_bad_file_gets_a_message_not_a_traceback(page, server, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    new_project(page, server, "Bad file")
    page.locator("input[type=file]").set_input_files(str(empty))
    expect(page.get_by_text("is empty")).to_be_visible()
    expect(page.get_by_text("Traceback")).to_have_count(0)


def test_two_tabs_do_not_share_uploads_or_runs(browser, server, texts_csv):
    first, second = browser.new_context(), browser.new_context()
    try:
        one, two = first.new_page(), second.new_page()
        new_project(one, server, "First")
        one.locator("input[type=file]").set_input_files(str(texts_csv))
        expect(one.get_by_role("heading", name="tickets", exact=True)).to_be_visible()
        new_project(two, server, "Second")
        expect(two.get_by_text("Upload a file or load a sample to begin.")).to_be_visible()
        one.reload()  # a reload keeps the tab's workspace
        expect(one.get_by_role("heading", name="tickets", exact=True)).to_be_visible()
    finally:
        first.close()
        second.close()
