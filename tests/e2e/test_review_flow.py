"""User story in a real browser: run ClusterLLM with the oracle judge on the support sample, flip one of the judge's
answers on the Review page, find it still flipped after a reload, retrain, and see the new run on the Run page."""
import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.widgets import choose, load_support_sample, new_project, set_up_oracle_clusterllm

pytestmark = pytest.mark.e2e

def test_analyst_reviews_the_judge_and_retrains(page, server):
    started_at = time.monotonic()
    new_project(page, server, "Support review")
    load_support_sample(page)

    set_up_oracle_clusterllm(page)
    choose(page, "Reduce before clustering", "none")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Done:")).to_be_visible(timeout=300_000)
    print(f"first run done after {time.monotonic() - started_at:.0f} s")

    page.get_by_role("link", name="Review").first.click()
    expect(page.get_by_role("heading", name="Review", exact=True)).to_be_visible()
    page.get_by_text("Pairs (same category?)").click()
    expect(page.get_by_text("Same category?", exact=True)).to_be_visible()
    question = page.get_by_text(re.compile(r"^Question 1 of \d+ · #\d+"))
    expect(question).to_be_visible()
    judgment = re.search(r"#(\d+)", question.inner_text()).group(1)
    expect(page.get_by_role("button", name="Flip")).to_be_visible()
    page.get_by_role("heading", name="Review", exact=True).click()  # focus the page, not the radio
    page.keyboard.press("f")  # the Flip button's shortcut
    expect(page.get_by_test_id("stMetric").filter(has_text="Flipped")).to_contain_text("1")

    page.reload()  # the answer is in SQLite, not in the browser session
    expect(page.get_by_role("heading", name="Review", exact=True)).to_be_visible()
    page.get_by_text("Pairs (same category?)").click()
    page.get_by_role("radio", name="Flipped").check(force=True)
    flipped = page.get_by_text(re.compile(rf"^Question 1 of 1 · #{judgment} "))
    expect(flipped).to_contain_text("you answered")
    expect(page.get_by_test_id("stMetric").filter(has_text="Judge agrees with you")).to_contain_text("0%")

    page.get_by_role("button", name="Retrain with reviewed answers").click()
    started = page.get_by_text(re.compile(r"Started run \S+ with your answers"))
    expect(started).to_be_visible()
    child = re.search(r"Started run (\S+) with", started.inner_text()).group(1)

    page.get_by_role("link", name="Run").first.click()
    expect(page.get_by_text(f"{child} · clusterllm · support_requests")).to_be_visible()
    expect(page.get_by_text("Done:")).to_be_visible(timeout=300_000)


def test_a_person_answers_the_most_useful_questions_and_retrains(page, server):
    """The person as the judge: a baseline run, one batch of the most useful questions answered in the browser, the
    answers still there after a reload, then a retrain of the embedder from them that finishes on the Run page."""
    new_project(page, server, "Person as judge")
    load_support_sample(page)
    page.get_by_role("link", name="Run").first.click()
    expect(page.get_by_role("heading", name="Run", exact=True)).to_be_visible()
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Done:")).to_be_visible(timeout=300_000)

    page.get_by_role("link", name="Review").first.click()
    page.get_by_role("radio", name="Answer the most useful questions yourself").click()  # a segmented control
    expect(page.get_by_text(re.compile(r"^Question 1 of \d+"))).to_be_visible(timeout=120_000)
    answers = page.get_by_test_id("stMetric").filter(has_text="Your answers")
    expect(answers).to_contain_text("0")
    batch = int(re.search(r"of (\d+)", page.get_by_text(re.compile(r"^Question 1 of \d+")).inner_text()).group(1))
    for index in range(batch):
        page.get_by_role("radio", name="Choice 1").nth(index).check(force=True)
    page.get_by_role("button", name="Save my answers and update the clusters").click()
    expect(answers).to_contain_text(str(batch), timeout=120_000)

    page.reload()  # the answers are in SQLite, not in the browser session
    page.get_by_role("radio", name="Answer the most useful questions yourself").click()  # a segmented control
    expect(answers).to_contain_text(str(batch), timeout=120_000)
    page.get_by_role("button", name="Retrain the embedder").click()
    started = page.get_by_text(re.compile(r"Started run \S+; follow it on the Run page"))
    expect(started).to_be_visible()
    child = re.search(r"Started run (\S+);", started.inner_text()).group(1)

    page.get_by_role("link", name="Run").first.click()
    expect(page.get_by_text(re.compile(rf"{re.escape(child)} · "))).to_be_visible()
    expect(page.get_by_text("Done:")).to_be_visible(timeout=300_000)
