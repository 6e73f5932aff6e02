"""Driving Streamlit widgets from Playwright."""
from __future__ import annotations


def open_list(page, label: str, wanted=None) -> None:
    """Open the option list of a Streamlit selectbox or multiselect (a first click may only move the focus away from
    a field being edited, or land during a rerun, so the list is opened again when it did not appear)."""
    box = page.get_by_role("combobox", name=label)
    wanted = wanted or page.get_by_role("option").first
    for _ in range(3):
        box.click()
        try:
            wanted.wait_for(timeout=5_000)
            return
        except Exception:  # Playwright's TimeoutError: the list did not open; try again
            page.keyboard.press("Escape")
            settle(page)
    box.click()
    wanted.wait_for()


def choose(page, label: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox by its visible text (a rerun still under way can redraw the box and
    close its open list before the click lands, so the list is opened again when the click finds no option)."""
    wanted = page.get_by_role("option", name=option, exact=True)
    for _ in range(3):
        settle(page)
        open_list(page, label, wanted)
        try:
            wanted.click(timeout=5_000)
            return
        except Exception:  # Playwright's TimeoutError: the list closed under the click
            page.keyboard.press("Escape")
    open_list(page, label, wanted)
    wanted.click()


def open_advanced(page, title: str = "Advanced settings") -> None:
    """Unfold every settings fold with this title (their widgets are only visible, and fillable, when open)."""
    settle(page)  # a fold drawn by a rerun still under way would be replaced, closed, once it ends
    folds = page.locator("details").filter(has=page.get_by_text(title, exact=True))
    for index in range(folds.count()):
        fold = folds.nth(index)
        for _ in range(3):
            if fold.get_attribute("open") is not None:
                break
            fold.locator("summary").first.click()
            settle(page)


def new_project(page, server: str, name: str) -> None:
    """Open the start page and create a project; the app lands on its Data page."""
    from playwright.sync_api import expect

    page.goto(server)
    page.get_by_label("Project name").fill(name)
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()


def settle(page, timeout: float = 60_000) -> None:
    """Wait until the app has finished rerunning after the last change (its "Running..." status is gone)."""
    from playwright.sync_api import expect

    page.wait_for_timeout(300)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=timeout)


def open_tab(page, name: str) -> None:
    """Open a tab and wait for the rerun a keyed tab starts, so that a field typed into next is not reset by it."""
    page.get_by_role("tab", name=name).click()
    settle(page)


def fill(page, label: str, value: str) -> None:
    """Type a value into a labelled number or text field, commit it with Enter, and wait for the rerun."""
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")
    settle(page)


def pick(page, label: str, options: list[str]) -> None:
    """Pick options of a Streamlit multiselect by their visible text (the list is reopened for each)."""
    for option in options:
        wanted = page.get_by_role("option", name=option, exact=True)
        open_list(page, label, wanted)
        wanted.click()
    page.keyboard.press("Escape")
    settle(page)


TINY_CLUSTERLLM = {"Triplet questions per round": "32", "Epochs per round": "1", "Rounds": "1",
                   "Largest k the judge considers": "12"}
"""ClusterLLM settings small enough for a browser test on a 2-core machine."""


def load_support_sample(page) -> None:
    """On the Data page: load the bundled 300 support requests and wait for their preview."""
    from playwright.sync_api import expect

    open_tab(page, "Use a sample")
    choose(page, "Sample", "Customer support requests")
    page.get_by_role("button", name="Load sample").click()
    expect(page.get_by_role("heading", name="support_requests", exact=True)).to_be_visible()


def set_up_oracle_clusterllm(page) -> None:
    """On the Run page: ClusterLLM with the label column as its judge and TINY_CLUSTERLLM's settings (not started)."""
    page.get_by_role("link", name="Run").first.click()
    choose(page, "Method", "ClusterLLM (judge-guided fine-tuning + granularity)")
    choose(page, "Judge", "The label column (benchmarks only: a perfect judge)")
    open_advanced(page)
    for label, value in TINY_CLUSTERLLM.items():
        fill(page, label, value)
