"""User stories in a real browser: a project whose chosen k every page follows and that reopens from a new browser;
naming and editing clusters, undo, a reload that keeps the edits, the export, and applying the run to new data."""
import re
import time

import pandas as pd
import pytest
from playwright.sync_api import expect

from core.data.samples import load_sample
from tests.e2e.widgets import (fill, load_support_sample, new_project, open_list, open_tab, pick,
                               set_up_oracle_clusterllm, settle)

pytestmark = pytest.mark.e2e

@pytest.fixture
def tickets_csv(tmp_path):
    frame = load_sample("support_requests").frame.groupby("topic").head(8)
    path = tmp_path / "tickets.csv"
    frame.to_csv(path, index=False)
    return path


def cluster_options(page) -> list[str]:
    """The Explore page's clusters, as its cluster picker lists them ("name (id)")."""
    settle(page)
    open_list(page, "Clusters", page.get_by_role("option", name=re.compile(r"\(\d+\)$")).first)  # a cluster, drawn
    options = [text for text in page.get_by_role("option").all_inner_texts() if text != "Select all"]
    page.keyboard.press("Escape")
    return options


def test_a_chosen_k_is_followed_everywhere_and_the_project_reopens(page, browser, server, tmp_path):
    started_at = time.monotonic()
    new_project(page, server, "Support, by topic")
    load_support_sample(page)

    set_up_oracle_clusterllm(page)
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Done:")).to_be_visible(timeout=600_000)
    print(f"run done after {time.monotonic() - started_at:.0f} s")

    page.get_by_role("link", name="Granularity").first.click()
    expect(page.get_by_role("heading", name="F-β over k", exact=True)).to_be_visible(timeout=180_000)
    fill(page, "Number of clusters", "6")
    page.get_by_role("button", name="Use k = 6").click()
    expect(page.get_by_text("now the tree's cut at 6")).to_be_visible()

    page.get_by_role("link", name="Explore").first.click()
    expect(page.get_by_text("6 clusters", exact=False).first).to_be_visible(timeout=300_000)
    assert len(cluster_options(page)) == 6

    page.get_by_role("link", name="Export").first.click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Labels with names (CSV)").click()
    saved = tmp_path / "labels.csv"
    download.value.save_as(saved)
    assert pd.read_csv(saved)["cluster"].nunique() == 6
    project_id = re.search(r"ws=([0-9a-f]{32})", page.url).group(1)
    page.close()  # the tab is gone; the project is not

    second = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        again = second.new_page()
        again.set_default_timeout(60_000)
        again.goto(server)
        project = again.locator(f".st-key-project-{project_id}")
        expect(project).to_contain_text("Support, by topic")
        project.get_by_role("button", name="Open").click()
        expect(again.get_by_role("heading", name="support_requests", exact=True)).to_be_visible()
        again.get_by_role("link", name="Explore").first.click()
        expect(again.get_by_text("6 clusters", exact=False).first).to_be_visible(timeout=300_000)

        again.get_by_role("link", name="Projects").first.click()  # one file out, a new project in
        project.get_by_role("button", name="More").click()
        with again.expect_download() as download:
            again.get_by_role("button", name="Export project (.zip)").click()
        archive = tmp_path / "project.zip"
        download.value.save_as(archive)
        again.keyboard.press("Escape")
        again.get_by_text("Import a project file").click()
        again.locator("input[type=file]").set_input_files(str(archive))
        again.get_by_role("button", name="Import", exact=True).click()
        expect(again.get_by_role("heading", name="support_requests", exact=True)).to_be_visible()
        again.get_by_role("link", name="Explore").first.click()
        expect(again.get_by_text("6 clusters", exact=False).first).to_be_visible(timeout=300_000)
        again.get_by_role("link", name="Projects").first.click()
        listed = again.locator("[class*='st-key-project-']").filter(has_text="Support, by topic")
        expect(listed).to_have_count(2)  # the original and the copy
    except Exception:
        again.screenshot(path=str(tmp_path / "second-context.png"), full_page=True)
        raise
    finally:
        second.close()


def test_analyst_names_edits_undoes_and_applies_the_run_to_new_data(page, server, tickets_csv, tmp_path):
    new_project(page, server, "Tickets, curated")
    page.locator("input[type=file]").set_input_files(str(tickets_csv))
    expect(page.get_by_role("heading", name="tickets", exact=True)).to_be_visible()
    page.get_by_role("link", name="Run").first.click()
    fill(page, "Number of clusters", "5")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Done:")).to_be_visible(timeout=300_000)
    page.get_by_role("link", name="Explore the result").click()
    expect(page.get_by_text("5 clusters", exact=False).first).to_be_visible(timeout=300_000)

    first, second = cluster_options(page)[:2]
    pick(page, "Clusters", [first])
    fill(page, "Name", "Card problems")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_text(re.compile(r"^Done: Renamed cluster \d+ to “Card problems”"))).to_be_visible()

    renamed = next(option for option in cluster_options(page) if option.startswith("Card problems ("))
    pick(page, "Clusters", [renamed, second])  # an edit empties the picker: its clusters may have changed
    page.get_by_role("button", name=re.compile(r"^Merge 2 clusters")).click()
    expect(page.get_by_text(re.compile(r"^Done: Merged clusters"))).to_be_visible()
    expect(page.get_by_text("4 clusters", exact=False).first).to_be_visible()
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_text(re.compile(r"^Undo: Merged clusters"))).to_be_visible()
    expect(page.get_by_text("5 clusters", exact=False).first).to_be_visible()

    pick(page, "Clusters", [renamed])
    fill(page, "Split into (0: choose by silhouette)", "2")
    page.get_by_role("button", name=re.compile(r"^Split “")).click()
    expect(page.get_by_text(re.compile(r"^Done: Split cluster"))).to_be_visible()

    open_tab(page, "Rows: move, mark as outliers")
    fill(page, "Rows (numbers as in the `row` column, e.g. 3, 17, 40-45)", "0-3")
    expect(page.get_by_text("4 selected row(s)")).to_be_visible()
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.get_by_text(re.compile(r"^Done: Moved 4 row\(s\) to new cluster"))).to_be_visible()
    expect(page.get_by_text("7 clusters", exact=False).first).to_be_visible()

    page.reload()  # the edits live in SQLite, not in the browser session
    expect(page.get_by_text("7 clusters", exact=False).first).to_be_visible(timeout=300_000)
    assert renamed in cluster_options(page)

    page.get_by_role("link", name="Export").first.click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Labels with names (CSV)").click()
    saved = tmp_path / "labels.csv"
    download.value.save_as(saved)
    labels = pd.read_csv(saved)
    assert "Card problems" in set(labels["name"]) and labels["cluster"].nunique() == 7
    assert labels["version"].iloc[0] > 0 and labels["original_cluster"].nunique() == 5

    new_rows = tmp_path / "new.csv"
    pd.DataFrame({"text": ["my card never arrived", "where is my new card", "reset my password please"]}).to_csv(
        new_rows, index=False)
    open_tab(page, "Apply to new data")
    page.locator("input[type=file]").last.set_input_files(str(new_rows))
    page.get_by_role("button", name="Apply the run").click()
    expect(page.get_by_text(re.compile(r"^3 rows assigned"))).to_be_visible(timeout=300_000)
    expect(page.get_by_text("Traceback")).to_have_count(0)
