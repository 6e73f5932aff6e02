"""What every method provides to the run pipeline, and what the pipeline lends it (the run context)."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from core.data.dataset import Dataset
from core.embed.base import Embedder
from core.errors import RunCancelled

if TYPE_CHECKING:  # only an annotation; importing core.runs here would close an import cycle
    from core.runs.directory import RunDirectory

ProgressFn = Callable[[str, float, str], None]
"""progress(stage, fraction of the whole run in [0, 1], message)."""
EmbedderFactory = Callable[[str], Embedder]
"""Turns an embedder setting ("minilm", a folder, an HF id) into a (cached) Embedder."""


def no_progress(stage: str, fraction: float, message: str) -> None:
    """A progress callback that ignores everything (for library use without a UI)."""


@dataclass
class RunContext:
    """Collaborators a method gets from the runner: where to write, how to report, when to stop, which models."""

    directory: RunDirectory
    embedders: EmbedderFactory
    progress: ProgressFn = no_progress
    should_stop: Callable[[], bool] = lambda: False
    device: str = "cpu"
    span: tuple[float, float] = (0.0, 1.0)

    def report(self, stage: str, fraction: float, message: str = "") -> None:
        """Report progress within this method's share (`span`) of the whole run."""
        low, high = self.span
        self.progress(stage, low + (high - low) * min(max(fraction, 0.0), 1.0), message)

    def check_stop(self) -> None:
        """Raise RunCancelled when the user pressed Cancel; call it between units of work."""
        if self.should_stop():
            raise RunCancelled("The run was cancelled.")


@dataclass
class Representation:
    """A method's output: one vector per row, plus optional comparisons scored beside it.

    `comparisons` holds other representations of the same rows (baselines, the model before fine-tuning) that the
    pipeline clusters and scores the same way; `suggested_k` is a method's own choice of k; `details` is JSON-able
    method-specific information (loss curves, query counts) saved in metrics.json.
    """

    embeddings: np.ndarray
    comparisons: dict[str, np.ndarray] = field(default_factory=dict)
    suggested_k: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Method(Protocol):
    """A registered method: turns a Dataset into a Representation under typed settings."""

    name: ClassVar[str]
    title: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]]
    settings_type: ClassVar[type]

    def represent(self, data: Dataset, settings: Any, context: RunContext) -> Representation:
        ...


class WholeRunMethod(Protocol):
    """A method whose run is not "represent the rows, then cluster them all" (CACTUS trains on groups and clusters
    each group on its own): `execute` does the whole run in the run folder and returns the run's summary. It keeps
    `represent` for the protocol (raising a SettingsError that says where the method is used) and names its `page`."""

    page: ClassVar[str]

    def execute(self, data: Dataset, settings: Any, context: RunContext) -> dict[str, Any]:
        ...


class Stopwatch:
    """Named wall-clock timings, for the benchmark's "seconds" block."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def time(self, name: str) -> "_Lap":
        return _Lap(self, name)


class _Lap:
    def __init__(self, watch: Stopwatch, name: str) -> None:
        self.watch, self.name = watch, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.watch.seconds[self.name] = self.watch.seconds.get(self.name, 0.0) + time.perf_counter() - self.start
