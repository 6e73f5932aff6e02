"""N analysts at once on a real app: `python scripts/load_test.py N [--out FILE.json]`.

Starts `streamlit run app.py` on a free loopback port with a ClusterLens home of its own (the runs go through the
app's default executor and worker count, as with `make run`), then drives N analysts at the same time, each in their
own Chromium context (Debian's chromium, headless): create a project, upload a small texts CSV (48 support tickets,
a different draw for each analyst), start a baseline run, wait for "Done:", open Explore and wait for the clusters.

Reported per analyst: the time to first result (from opening the app to seeing the clusters), the seconds of every
step and the longest of them, and the errors (a step that failed or timed out, an exception shown on a page). For the
server: the peak resident memory of the server and every run process it started (sampled from /proc). Loopback only;
nothing is downloaded.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROWS_PER_ANALYST = 48
STEP_SECONDS = 120.0
RUN_SECONDS = 1800.0
"""How long an analyst waits for "Done:" before counting an error (N runs share the machine's run slots)."""
MEMORY_SAMPLE_SECONDS = 0.5


@dataclass
class AnalystReport:
    """One analyst's session: seconds per step, time to first result, the longest step, errors."""

    analyst: int
    steps: dict[str, float] = field(default_factory=dict)
    time_to_first_result: float | None = None
    longest_wait: float = 0.0
    longest_step: str = ""
    errors: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` as `make run` starts it, on loopback with its own home; returns (process, url) once the
    first page has loaded."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "CLUSTERLENS_PASSWORD"}
    env["CLUSTERLENS_HOME"] = str(home)
    log = (home / "server.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                "--server.headless", "true", "--server.address", "127.0.0.1"],
                               cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                urllib.request.urlopen(url, timeout=60).read()
                return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"streamlit did not start: {(home / 'server.log').read_text()[-2000:]}")


class MemoryPeak:
    """Samples, in a thread, the summed resident memory of the server, its descendants, and any process naming the
    home folder on its command line (run workers outlive the worker that started them and leave the process tree)."""

    def __init__(self, root_pid: int, home: Path) -> None:
        self.root_pid, self.home = root_pid, str(home)
        self.peak_mb = 0.0
        self.peak_processes = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> MemoryPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._done.wait(MEMORY_SAMPLE_SECONDS):
            processes = self._processes()
            total = sum(rss for _, rss in processes.values()) / 1024
            if total > self.peak_mb:
                self.peak_mb, self.peak_processes = total, len(processes)

    def _processes(self) -> dict[int, tuple[int, int]]:
        """{pid: (parent pid, resident kB)} of the server's processes."""
        table: dict[int, tuple[int, int, str]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                status = (entry / "status").read_text()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:  # the process ended while we looked
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            rss = int(fields.get("VmRSS", "0 kB").split()[0])
            table[int(entry.name)] = (int(fields["PPid"]), rss, command)
        ours = {pid for pid, (_, _, command) in table.items() if pid == self.root_pid or self.home in command}
        grew = True
        while grew:
            grown = ours | {pid for pid, (parent, _, _) in table.items() if parent in ours}
            grew, ours = grown != ours, grown
        return {pid: table[pid][:2] for pid in ours}


def analyst_csv(folder: Path, analyst: int) -> Path:
    """A small texts CSV for one analyst: 48 support tickets drawn with the analyst's own seed."""
    from core.data.samples import load_sample

    frame = load_sample("support_requests").frame.sample(ROWS_PER_ANALYST, random_state=analyst)
    path = folder / f"tickets_{analyst}.csv"
    frame.to_csv(path, index=False)
    return path


async def analyst_session(browser: Any, url: str, csv: Path, analyst: int, started: float) -> AnalystReport:
    """One analyst: project, upload, baseline run, explore; every step timed, the first failure ends the session."""
    from playwright.async_api import expect

    report = AnalystReport(analyst)
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(STEP_SECONDS * 1000)

    async def open_project() -> None:
        await page.goto(url)
        await page.get_by_label("Project name").fill(f"Analyst {analyst}")
        await page.get_by_role("button", name="Create project").click()
        await expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()

    async def upload() -> None:
        await page.locator("input[type=file]").set_input_files(str(csv))
        await expect(page.get_by_role("heading", name=csv.stem, exact=True)).to_be_visible()

    async def start_run() -> None:
        await page.get_by_role("link", name="Run").first.click()
        await expect(page.get_by_role("heading", name="Run", exact=True)).to_be_visible()
        await page.get_by_role("button", name="Start run").click()

    async def wait_for_run() -> None:
        await expect(page.get_by_text("Done:")).to_be_visible(timeout=RUN_SECONDS * 1000)

    async def explore() -> None:
        await page.get_by_role("link", name="Explore the result").click()
        await expect(page.get_by_role("heading", name="Scores", exact=True)).to_be_visible()
        await expect(page.locator(".js-plotly-plot").first).to_be_visible()

    try:
        for name, step in (("open and create a project", open_project), ("upload a CSV", upload),
                           ("start a baseline run", start_run), ("wait for the run", wait_for_run),
                           ("open Explore", explore)):
            begun = time.monotonic()
            try:
                await step()
            except Exception as error:  # a timeout or a missing element: the analyst is stuck here
                report.errors.append(f"{name}: {type(error).__name__}: {str(error).splitlines()[0][:300]}")
                break
            finally:
                report.steps[name] = round(time.monotonic() - begun, 2)
            if await page.get_by_test_id("stException").count():
                report.errors.append(f"{name}: the page shows an exception")
        else:
            report.time_to_first_result = round(time.monotonic() - started, 2)
    finally:
        await context.close()
    report.longest_step, report.longest_wait = max(report.steps.items(), key=lambda item: item[1])
    return report


async def drive(url: str, csvs: list[Path]) -> list[AnalystReport]:
    """All analysts at once in one Chromium, a context each."""
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=STEP_SECONDS * 1000)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            started = time.monotonic()
            return list(await asyncio.gather(*(analyst_session(browser, url, csv, index, started)
                                                for index, csv in enumerate(csvs))))
        finally:
            await browser.close()


def load_test(analysts: int) -> dict[str, Any]:
    """Run the load test with `analysts` at once on a fresh server; the results as a JSON-ready dict."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError("Debian's chromium is missing: `make chromium` installs it.")
    with tempfile.TemporaryDirectory(prefix="clusterlens-load-") as folder:
        home = Path(folder) / "home"
        home.mkdir()
        csvs = [analyst_csv(Path(folder), index) for index in range(analysts)]
        server, url = start_server(home)
        try:
            with MemoryPeak(server.pid, home) as memory:
                began = time.monotonic()
                reports = asyncio.run(drive(url, csvs))
                wall = time.monotonic() - began
        finally:
            server.terminate()
            server.wait(timeout=30)
        from core.runs.executors import DEFAULT_EXECUTOR, configured_workers

        firsts = [report.time_to_first_result for report in reports if report.time_to_first_result is not None]
        return {
            "analysts": analysts,
            "executor": os.environ.get("CLUSTERLENS_EXECUTOR") or DEFAULT_EXECUTOR,
            "workers": configured_workers(),
            "cores": len(os.sched_getaffinity(0)),
            "rows_per_analyst": ROWS_PER_ANALYST,
            "wall_seconds": round(wall, 1),
            "results": len(firsts),
            "errors": sum(len(report.errors) for report in reports),
            "time_to_first_result": {"min": min(firsts, default=None), "max": max(firsts, default=None),
                                     "median": sorted(firsts)[len(firsts) // 2] if firsts else None},
            "longest_wait": max(report.longest_wait for report in reports),
            "server_peak_rss_mb": round(memory.peak_mb, 1),
            "server_peak_processes": memory.peak_processes,
            "per_analyst": [asdict(report) for report in reports],
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("analysts", type=int, help="how many analysts work at once")
    parser.add_argument("--out", type=Path, help="write the results to this JSON file")
    args = parser.parse_args(argv)
    results = load_test(args.analysts)
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0 if results["errors"] == 0 and results["results"] == args.analysts else 1


if __name__ == "__main__":
    sys.exit(main())
