"""The Method contract: what a method declares and provides, with an explicit default for every capability.

A method is one of two shapes, declared by `whole_run`:
- a *row* method (`whole_run = False`) turns the rows of one data set into vectors (`represent`); the shared tail
  (reduce, cluster, score, tree, map) does the rest, in a run and in the benchmark alike;
- a *whole-run* method (`whole_run = True`, e.g. CACTUS: it trains on many small groups and clusters each on its own)
  does its whole run in `execute` and has its own benchmark entry, `bench`.
`view` names the screen that shows its runs ("explore", or "groups" for a method with its own page); the app maps
views to pages, the library never names a page file. Nothing is discovered with hasattr: what a method does not
override answers with the default below.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from core.data.dataset import Dataset
from core.embed.base import Embedder
from core.errors import SettingsError
from core.llm.store import JudgmentStore
from core.progress import ProgressFn, StopFn, between, check_stop, never_stop, no_progress
from core.storage import RunDirectory

if TYPE_CHECKING:  # annotations only: the estimate types live with the judges
    from core.llm.estimate import QueryEstimate

EmbedderFactory = Callable[[str], Embedder]
"""Turns an embedder setting ("minilm", a folder, an HF id) into a (cached) Embedder."""
View = Literal["explore", "groups"]


@dataclass
class RunContext:
    """Collaborators a method gets from the runner: where to write, how to report, when to stop, which models,
    where judges' answers are kept (`judgments`), and the range of k the analyst allows (`k_range`: a method that
    chooses k itself searches no further)."""

    directory: RunDirectory
    embedders: EmbedderFactory
    progress: ProgressFn = no_progress
    should_stop: StopFn = never_stop
    device: str = "cpu"
    span: tuple[float, float] = (0.0, 1.0)
    judgments: JudgmentStore | None = None
    k_range: tuple[int, int] | None = None

    def report(self, stage: str, fraction: float, message: str = "") -> None:
        """Report progress within this method's share (`span`) of the whole run."""
        self.progress(stage, between(*self.span, fraction), message)

    def check_stop(self) -> None:
        """Raise RunCancelled when the user pressed Cancel; call it between units of work."""
        check_stop(self.should_stop)

    def within(self, low: float, high: float) -> "RunContext":
        """The same context with its progress share narrowed to [low, high] of the current span."""
        return replace(self, span=(between(*self.span, low), between(*self.span, high)))

    def embed_texts(self, texts: list[str], embedder: str) -> np.ndarray:
        """Embed texts with the (cached) embedder named in a setting, reporting progress and obeying Cancel."""
        self.report("embed", 0.0, f"Loading {embedder}")
        model = self.embedders(embedder)
        report = self.embedding_progress("embed")

        def on_batch(done: int, total: int) -> None:
            self.check_stop()
            report(done, total)

        return model.encode(texts, progress=on_batch)

    def embedding_progress(self, stage: str, unit: str = "texts") -> Callable[[int, int], None]:
        """An embedding pass's progress(done, total) callback, reported as `stage` within this context's share."""

        def report(done: int, total: int) -> None:
            self.report(stage, done / max(total, 1), f"Embedded {done:,}/{total:,} {unit}")

        return report


@dataclass
class Representation:
    """A row method's output: one vector per row, plus optional comparisons scored beside it.

    `comparisons` holds other representations of the same rows (baselines, the model before fine-tuning) that the
    pipeline clusters and scores the same way; `suggested_k` is a method's own choice of k and `k_scores` its score
    for every k it considered (so a k outside the analyst's range can give way to its best k inside it); `details`
    is JSON-able method-specific information (loss curves, query counts) saved in metrics.json.
    """

    embeddings: np.ndarray
    comparisons: dict[str, np.ndarray] = field(default_factory=dict)
    suggested_k: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    k_scores: dict[int, float] | None = None


class Method:
    """Base class of every method. Subclasses set `name`, `label` (a short name for messages and menus), `title`,
    `kinds` and `settings_type`, and override what they can do."""

    name: ClassVar[str]
    label: ClassVar[str]
    title: ClassVar[str]
    summary: ClassVar[str] = ""
    kinds: ClassVar[tuple[str, ...]]
    settings_type: ClassVar[type]
    whole_run: ClassVar[bool] = False
    view: ClassVar[View] = "explore"
    comparison_titles: ClassVar[dict[str, str]] = {}

    def represent(self, data: Dataset, settings: Any, context: RunContext) -> Representation:
        """One vector per row (row methods). A whole-run method says where it is used instead."""
        raise SettingsError(f"{self.label} does not cluster one set of rows: use the {self.label} page, or its "
                            f"benchmark (python -m core bench ... --method {self.name}).")

    def execute(self, data: Dataset, settings: Any, context: RunContext) -> dict[str, Any]:
        """The whole run in `context.directory`, returning the run's summary (whole-run methods only)."""
        raise SettingsError(f"{self.label} clusters the rows of one data set; it has no run of its own shape.")

    def bench(self, options: Any, progress: ProgressFn = no_progress) -> dict[str, Any]:
        """A whole-run method's own benchmark (row methods use the shared one in core.bench)."""
        raise SettingsError(f"{self.label} is benchmarked by the shared row benchmark.")

    def bench_fields(self, representation: Representation, comparisons: dict[str, Any],
                     k_true: int) -> dict[str, Any]:
        """Keys this method adds to the row benchmark's JSON (none by default)."""
        return {}

    def format_bench(self, result: dict[str, Any]) -> str | None:
        """A whole-run method's benchmark result as a printed table (None: the shared row table)."""
        return None

    def bench_datasets(self) -> Sequence[str]:
        """Named benchmarks only this method's `bench` can run (none by default)."""
        return ()

    def estimate_seconds(self, data: Dataset, settings: Any, device: str) -> float | None:
        """Roughly how long a run takes on `device`, before it starts (None: no estimate)."""
        return None

    def estimate_questions(self, data: Dataset, settings: Any) -> QueryEstimate | None:
        """How many questions a run may put to a judge and what they cost (None: it asks none)."""
        return None
