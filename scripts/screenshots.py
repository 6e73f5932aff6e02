"""Take the README's screenshots from a real server and Debian's Chromium: the start page, the Run page with its
estimate, and Explore with named clusters (the bundled support sample, a baseline run at k = 10).

    python scripts/screenshots.py [--out assets]

The server gets its own empty ClusterLens home, so the pictures show what a new analyst sees.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, free_port  # noqa: E402  (the repo's own browser settings)
from tests.e2e.widgets import fill, load_support_sample, new_project, settle  # noqa: E402


def serve(home: Path) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` on a free loopback port with `home` as its ClusterLens home."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1"], cwd=REPO, env={**os.environ, "CLUSTERLENS_HOME": str(home)},
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(180):
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("the app did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "assets")
    out = parser.parse_args().out
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory() as home:
        process, url = serve(Path(home))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(300_000)
                new_project(page, url, "Support requests, March")
                load_support_sample(page)
                page.get_by_role("link", name="Run").first.click()
                fill(page, "Number of clusters", "10")
                settle(page)
                page.screenshot(path=str(out / "screenshot-run.png"))
                page.get_by_role("button", name="Start run").click()
                expect(page.get_by_text("Done:")).to_be_visible(timeout=900_000)
                page.get_by_role("link", name="Explore the result").click()
                expect(page.get_by_text("10 clusters", exact=False).first).to_be_visible(timeout=900_000)
                settle(page)
                page.wait_for_timeout(3_000)  # the map's WebGL canvas draws after the page settles
                page.screenshot(path=str(out / "screenshot-explore.png"))
                start = browser.new_page(viewport={"width": 1400, "height": 1000})  # a tab without a link
                start.goto(url)
                expect(start.locator("strong", has_text="Support requests, March")).to_be_visible(timeout=120_000)
                expect(start.get_by_role("button", name="Open")).to_be_visible()
                settle(start)
                start.screenshot(path=str(out / "screenshot-projects.png"))
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"wrote {', '.join(f'screenshot-{name}.png' for name in ('projects', 'run', 'explore'))} to {out}")


if __name__ == "__main__":
    main()
