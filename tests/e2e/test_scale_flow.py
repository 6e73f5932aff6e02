"""User story at scale in a real browser: upload a generated 20,000-row texts file, run the default baseline on all of
it, and open Explore within a stated time budget (issue #13). The measured times are printed; the scale figures
proper (per stage) come from `scripts/scale_bench.py`. `CLUSTERLENS_SCALE_ROWS=100000 pytest
tests/e2e/test_scale_flow.py -s` runs the same story at another size (the budgets grow with it)."""
import os
import re
import time

import pytest
from playwright.sync_api import expect

from core.data.benchmarks import shared_data_dir
from core.data.scale import scale_corpus
from tests.e2e.widgets import new_project, open_tab

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not shared_data_dir().is_dir(), reason="shared benchmark data not present")]

ROWS = int(os.environ.get("CLUSTERLENS_SCALE_ROWS", 20_000))
RUN_BUDGET_SECONDS = 1_200 * max(1, ROWS // 20_000)
"""The whole baseline run on a 2-core machine (278 s measured at 20,000 rows, load average 6; generous for a loaded CI
machine)."""
EXPLORE_BUDGET_SECONDS = 60
"""From the click on "Explore the result" to the scores and the map drawn: 21 s measured at 20,000 rows at load
average 6 on 2 cores (three benchmarks beside it); the budget leaves room for a loaded CI machine. The issue's 5 s
target is at 100,000 rows on a quiet machine (README, Scale: 3.8 s)."""


def test_a_20000_row_file_runs_and_explore_opens_within_budget(page, server, tmp_path):
    path = tmp_path / "tickets_many.csv"
    scale_corpus(ROWS).to_csv(path, index=False)
    new_project(page, server, f"{ROWS:,} rows")
    uploaded = time.monotonic()
    page.locator("input[type=file]").set_input_files(str(path))
    expect(page.get_by_role("heading", name="tickets_many", exact=True)).to_be_visible(timeout=120_000)
    upload_seconds = time.monotonic() - uploaded

    page.get_by_role("link", name="Run").first.click()
    expect(page.get_by_text(f"{ROWS:,} rows").first).to_be_visible()
    started = time.monotonic()
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Done:")).to_be_visible(timeout=RUN_BUDGET_SECONDS * 1000)
    run_seconds = time.monotonic() - started

    clicked = time.monotonic()
    page.get_by_role("link", name="Explore the result").click()
    expect(page.get_by_role("heading", name="Scores", exact=True)).to_be_visible(
        timeout=EXPLORE_BUDGET_SECONDS * 1000)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=EXPLORE_BUDGET_SECONDS * 1000)
    explore_seconds = time.monotonic() - clicked
    print(f"{ROWS:,} rows: upload and preview {upload_seconds:.1f} s, run {run_seconds:.0f} s, Explore drawn "
          f"{explore_seconds:.1f} s after the click")
    assert explore_seconds <= EXPLORE_BUDGET_SECONDS
    expect(page.get_by_test_id("stMetric").filter(has_text="NMI")).to_be_visible()

    # A box over the whole map selects (nearly) every row, whether the map drew it or only a sample.
    chart = page.locator(".js-plotly-plot").first
    chart.hover()
    page.locator('.modebar-btn[data-title="Box Select"]').first.click()
    box = chart.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=5)
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] - 2, steps=5)
    page.mouse.up()
    open_tab(page, "Rows: move, mark as outliers")
    selected = page.get_by_text(re.compile(r"^[\d,]+ selected row\(s\)$"))
    expect(selected).to_be_visible()
    assert int(selected.inner_text().split()[0].replace(",", "")) >= 0.95 * ROWS  # the view clips 1% of the map
