"""Progress, time left and cancel: the few things every long step reports and obeys, written once.

A progress callback is `progress(stage, fraction of the whole job in [0, 1], message)`. A step that owns part of a
job reports through `within(progress, low, high)`, which maps its own 0..1 onto that share; a step that reports only
`(fraction, message)` (a training loop) gets its stage named by `as_stage`. A stop flag is any `() -> bool`;
`check_stop` turns it into RunCancelled at a safe point.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from core.errors import RunCancelled

ProgressFn = Callable[[str, float, str], None]
"""progress(stage, fraction of the whole job in [0, 1], message)."""
StepProgress = Callable[[float, str], None]
"""progress(fraction of one step done in [0, 1], message): a step that does not name its stage."""
StopFn = Callable[[], bool]
"""True once the person asked the job to stop."""


def no_progress(stage: str, fraction: float, message: str) -> None:
    """A progress callback that ignores everything (for library use without a UI)."""


def never_stop() -> bool:
    """A stop flag that never fires."""
    return False


def check_stop(should_stop: StopFn | None, message: str = "The run was cancelled.") -> None:
    """Raise RunCancelled when `should_stop()` is true; call it between units of work."""
    if should_stop is not None and should_stop():
        raise RunCancelled(message)


def between(low: float, high: float, fraction: float) -> float:
    """The point `fraction` of the way from `low` to `high` (the fraction clipped to [0, 1])."""
    return low + (high - low) * min(max(fraction, 0.0), 1.0)


def within(progress: ProgressFn, low: float, high: float) -> ProgressFn:
    """A callback that maps a step's own fraction 0..1 onto [low, high] of `progress` (clipped to that share)."""

    def report(stage: str, fraction: float, message: str) -> None:
        progress(stage, between(low, high, fraction), message)

    return report


def as_stage(progress: ProgressFn, stage: str) -> StepProgress:
    """A step's `(fraction, message)` callback that reports to `progress` as `stage`."""

    def report(fraction: float, message: str) -> None:
        progress(stage, fraction, message)

    return report


def format_duration(seconds: float) -> str:
    """A duration as people read it: "45 s", "3 min 05 s", "1 h 12 min"."""
    seconds = max(float(seconds), 0.0)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class Eta:
    """Fraction done and time left of `total` units, from the mean pace of the units done since this object began.

    `done_before` units (e.g. restored from a checkpoint) count as done but not towards the pace.
    """

    def __init__(self, total: int, done_before: int = 0) -> None:
        self.total = max(int(total), 1)
        self.done = self.first = int(done_before)
        self.started = time.perf_counter()

    def advance(self, units: int = 1) -> float:
        """Record finished units; return the fraction done."""
        self.done += units
        return min(self.done / self.total, 1.0)

    @property
    def rate(self) -> float | None:
        """Units per second so far (None before the first unit)."""
        elapsed = time.perf_counter() - self.started
        return (self.done - self.first) / elapsed if self.done > self.first and elapsed > 0 else None

    def seconds_left(self) -> float | None:
        rate = self.rate
        return None if rate is None else (self.total - self.done) / rate

    def remaining(self) -> str:
        """Time left in words ("2 min 10 s left"), or "estimating" before the first unit."""
        left = self.seconds_left()
        return "estimating time left" if left is None else f"{format_duration(left)} left"
