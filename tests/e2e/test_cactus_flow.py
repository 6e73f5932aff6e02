"""User story in a real browser: upload clustered sessions, train CACTUS briefly, cluster a new session, add it back."""
import pytest
from playwright.sync_api import expect

from core.data.groups import example_groups
from tests.e2e.widgets import new_project, open_advanced

pytestmark = pytest.mark.e2e

NEW_SESSION = "i want a refund for my order\nplease refund the duplicate payment\ni forgot my password\nreset my password"


@pytest.fixture
def sessions_csv(tmp_path):
    path = tmp_path / "sessions.csv"
    example_groups(n_groups=8, seed=3).frame.to_csv(path, index=False)
    return path


def test_analyst_trains_on_sessions_and_clusters_a_new_one(page, server, sessions_csv):
    new_project(page, server, "Sessions")
    page.get_by_role("link", name="CACTUS (groups)").click()
    expect(page.get_by_role("heading", name="CACTUS", exact=True)).to_be_visible()
    expect(page.get_by_text("No training groups yet")).to_be_visible()

    page.locator("input[type=file]").first.set_input_files(str(sessions_csv))
    page.get_by_role("button", name="Use these columns").click()
    expect(page.get_by_text("clustered groups, ")).to_be_visible()

    page.get_by_label("Epochs", exact=True).fill("1")
    open_advanced(page)
    page.get_by_label("Self-supervised steps", exact=True).fill("0")
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_text("AMI (mean over groups)")).to_be_visible(timeout=240_000)
    expect(page.get_by_text("vs untrained encoder").first).to_be_visible()

    page.get_by_label("One entity per line, a blank line between groups").fill(NEW_SESSION)
    page.get_by_role("button", name="Cluster the pasted groups").click()
    expect(page.get_by_text("pasted 1", exact=False).first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Cluster 1").first).to_be_visible()

    page.get_by_role("button", name="Add to training data").click()
    expect(page.get_by_text("Added pasted 1 (4 entities) to the training groups")).to_be_visible()
    expect(page.get_by_text("Traceback")).to_have_count(0)
