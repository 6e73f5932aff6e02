"""The fair queue as pure functions over catalogue rows: which waiting run starts next, where a run stands in line,
and about how long it will wait. The catalogue (store.py) holds the rows; nothing here touches SQLite."""
from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.progress import format_duration

RELIABLE_PROGRESS = 0.05
"""Below this fraction a run's own pace says little about its time left; its method's typical duration is used."""


class QueuedRun(Protocol):
    """What the queue reads of a run (a RunRecord has it all)."""

    id: str
    owner: str
    method: str
    created: float
    queued: float | None
    started: float | None
    progress: float


def fair_order(waiting: Iterable[QueuedRun], busy: Counter[str]) -> list[QueuedRun]:
    """Waiting runs in the order they will start: each next one is the run whose owner then holds the fewest slots
    (counting the runs started before it), the longest-waiting first among equals, so that one person's queue of long
    runs cannot starve another person's single run."""
    left = sorted(waiting, key=lambda run: (run.queued or run.created, run.id))
    held = Counter(busy)
    order: list[QueuedRun] = []
    while left:
        run = min(left, key=lambda candidate: held[candidate.owner])  # min keeps the oldest among equals
        left.remove(run)
        held[run.owner] += 1
        order.append(run)
    return order


def typical_seconds(durations: Sequence[float]) -> float | None:
    """A method's typical run time: the median of its recent finished runs (None before the first one)."""
    return statistics.median(durations) if durations else None


def seconds_left(run: QueuedRun, typical: float | None, now: float) -> float | None:
    """A busy run's time left: from its own pace once it has made some progress, else from its method's typical
    duration; None when neither is known."""
    elapsed = max(now - run.started, 0.0) if run.started else 0.0
    if run.progress >= RELIABLE_PROGRESS and elapsed > 0:
        return elapsed * (1.0 - run.progress) / run.progress
    return None if typical is None else max(typical - elapsed, 0.0)


def estimate_wait(busy: Sequence[float | None], ahead: Sequence[float | None], workers: int) -> float | None:
    """Seconds until a slot is free for a run, given the time left of the busy runs and the typical duration of the
    runs ahead of it in line, on `workers` slots; None when any of these is unknown."""
    if None in busy or None in ahead:
        return None
    ends = sorted(float(seconds) for seconds in busy)
    slots = ends[len(ends) - workers:] if len(ends) >= workers else [0.0] * (workers - len(ends)) + ends
    for duration in ahead:
        slots[slots.index(min(slots))] += float(duration)
    return min(slots)


@dataclass(frozen=True)
class QueuePosition:
    """Where a waiting run stands: `place` 1 starts next (0: it is starting now), `busy` runs hold the `workers`
    slots, and `wait_seconds` is the estimated wait (None when the runs ahead have no history to go by)."""

    place: int
    busy: int
    workers: int
    wait_seconds: float | None

    def describe(self) -> str:
        """One line for the person waiting."""
        if self.place == 0:
            return "Starting now."
        line = "Next in line" if self.place == 1 else f"{self.place - 1} run{'s' if self.place > 2 else ''} ahead"
        line += f" · {self.busy} of {self.workers} slot{'s' if self.workers > 1 else ''} busy"
        if self.wait_seconds is not None:
            line += f" · starts in about {format_duration(self.wait_seconds)}"
        return line
