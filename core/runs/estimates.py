"""Duration estimates that learn the machine: a method's first guess (its formula over rates measured on a 2-core
CPU), corrected by how the method's finished runs on this machine and device compared with their own guesses.

Every run's guess is kept in the catalogue's `run_estimates` table when it is created, and its actual duration when
it finishes; the correction is the median ratio of the most recent ones, so the first finished run calibrates the
estimate and every later one refines it.
"""
from __future__ import annotations

import statistics
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from core.data.dataset import Dataset
from core.device import resolve_device
from core.methods import get_method, method_settings
from core.progress import format_duration
from core.runs.queue import RELIABLE_PROGRESS
from core.settings import RunConfig
from core.sqlite import connect

RECENT_RUNS = 20
"""How many recent finished runs of a method on a device set its correction."""
ALMOST_DONE_SECONDS = 5.0
"""Below this the time left is said in words rather than as a count that could reach zero before the run ends."""
RATIO_BOUNDS = (0.05, 20.0)
"""A run far outside these multiples of its guess (a machine asleep, a tiny test run) says nothing about the next."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS run_estimates (
    run TEXT PRIMARY KEY,
    method TEXT NOT NULL,
    device TEXT NOT NULL,
    rows INTEGER NOT NULL,
    guess REAL NOT NULL,
    actual REAL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS run_estimates_by_method ON run_estimates (method, device, created);
"""


@dataclass(frozen=True)
class Estimate:
    """How long a run should take: the first guess times the correction learned from `runs` finished runs."""

    seconds: float
    guess: float
    correction: float
    runs: int
    device: str

    def describe(self) -> str:
        """One line for the Run page, saying where the figure comes from."""
        line = f"Estimated time on {self.device}: about {format_duration(self.seconds)}"
        if not self.runs:
            return f"{line} (a first guess: no run of this method has finished on this machine yet)."
        return (f"{line} (learned from {self.runs} finished run(s) of this method here, which took "
                f"{self.correction:.1f}× the first guess).")


class EstimateLog:
    """The `run_estimates` table: each run's first guess and, once it finished, how long it took."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with closing(connect(self.path)) as db, db:
            db.executescript(_SCHEMA)

    def guessed(self, run: str, method: str, device: str, rows: int, seconds: float) -> None:
        """Keep a new run's first guess."""
        with closing(connect(self.path)) as db, db:
            db.execute("INSERT OR REPLACE INTO run_estimates (run, method, device, rows, guess, created) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (run, method, device, rows, seconds, time.time()))

    def finished(self, run: str, seconds: float) -> None:
        """Keep how long a run took (a run with no guess is ignored)."""
        with closing(connect(self.path)) as db, db:
            db.execute("UPDATE run_estimates SET actual = ? WHERE run = ?", (seconds, run))

    def correction(self, method: str, device: str) -> tuple[float, int]:
        """(median actual/guess of recent finished runs, how many) for a method on a device; (1.0, 0) before any."""
        with closing(connect(self.path)) as db:
            rows = db.execute("SELECT actual / guess FROM run_estimates WHERE method = ? AND device = ? AND actual "
                              "IS NOT NULL AND guess > 0 ORDER BY created DESC LIMIT ?",
                              (method, device, RECENT_RUNS)).fetchall()
        ratios = [ratio for (ratio,) in rows if RATIO_BOUNDS[0] <= ratio <= RATIO_BOUNDS[1]]
        return (statistics.median(ratios), len(ratios)) if ratios else (1.0, 0)

    def expected_seconds(self, run: str) -> float | None:
        """A run's expected duration: its first guess, corrected by this machine's record (None without a guess)."""
        with closing(connect(self.path)) as db:
            row = db.execute("SELECT method, device, guess FROM run_estimates WHERE run = ?", (run,)).fetchone()
        return None if row is None else self.estimate(row["method"], row["device"], row["guess"]).seconds

    def estimate(self, method: str, device: str, guess: float) -> Estimate:
        """The first guess corrected by this machine's record."""
        correction, runs = self.correction(method, device)
        return Estimate(guess * correction, guess, correction, runs, device)


def first_guess(config: RunConfig, data: Dataset) -> tuple[float, str] | None:
    """(seconds, device) the run's method guesses for `data` before it starts; None when it cannot say, or for a
    retrain from edits (not the method's own run)."""
    if config.task != "cluster":
        return None
    method = get_method(config.method)
    device = resolve_device(config.device)
    guess = method.estimate_seconds(data, method_settings(method, config.method_settings), device)
    return None if guess is None else (guess, device)


def time_left(progress: float, elapsed: float, expected: float | None) -> str:
    """A running run's time left in words: from its own pace once it is past RELIABLE_PROGRESS, else from its
    expected duration. It never says "0 s" while work remains: near the end it says so, and a run past its estimate
    says that instead."""
    if progress >= RELIABLE_PROGRESS and elapsed > 0:
        left: float | None = elapsed * (1.0 - progress) / progress
    else:
        left = None if expected is None else expected - elapsed
    if left is None:
        return "estimating the time left"
    if left >= ALMOST_DONE_SECONDS:
        return f"about {format_duration(left)} left"
    return "almost done" if progress >= 0.95 else "taking longer than estimated"
