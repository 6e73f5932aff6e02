"""What a run does, by its config's task: the method's run, or a retrain from a person's edits of an earlier run;
either ends by naming the clusters (so the pages open on stored names).

Executors call `run_task` (by name, "core.tasks:run_task"), so background work of either kind goes through the same
queue, progress, cancel and catalogue. It sits above runs and curation, which it dispatches to.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from core.curation import Curation, retrain_run
from core.device import resolve_device
from core.errors import SettingsError
from core.methods import get_method
from core.progress import ProgressFn, StopFn, never_stop, no_progress
from core.runs.execute import execute_run
from core.settings import RunConfig
from core.storage import METRICS, RunDirectory


def run_task(config: RunConfig, run_dir: str | Path, progress: ProgressFn = no_progress,
             should_stop: StopFn = never_stop, **collaborators: Any) -> dict[str, Any]:
    """Run `config` in `run_dir`; returns the run's summary as `execute_run` does."""
    if config.task == "cluster":
        summary = execute_run(config, run_dir, progress, should_stop, **collaborators)
        if not get_method(config.method).whole_run:
            name_clusters(run_dir, progress)
        return summary
    if config.task == "retrain":
        if not config.source or not (Path(config.source) / METRICS).exists():
            raise SettingsError("The run to retrain from is gone or unfinished; open a finished run and retrain it.")
        progress("start", 0.0, "Learning from your edits")
        retrain_run(Curation(config.source), run_dir, device=resolve_device(config.device), progress=progress,
                    should_stop=should_stop)
        name_clusters(run_dir, progress)
        metrics = RunDirectory(run_dir).read_json(METRICS)
        return {"k": metrics["k"], **metrics["metrics"]}
    raise SettingsError(f"Unknown run task {config.task!r}.")


def name_clusters(run_dir: str | Path, progress: ProgressFn = no_progress) -> None:
    """Name a finished run's clusters now, in the background, so that Explore opens on names (and the clusters' words)
    already stored."""
    progress("naming", 1.0, "Naming the clusters")
    curation = Curation(run_dir)
    curation.current()
    curation.artifacts.store_terms()
