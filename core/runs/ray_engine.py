"""Runs on a Ray cluster: an executor for the run seam, and a run whose embedding and row assignment are Ray Data
pipelines. Ray is an optional install (`make ray`, requirements-ray.txt); only this module imports it.

- `RayExecutor` (CLUSTERLENS_EXECUTOR=ray) sends each catalogued run to the cluster as one Ray task running
  `run_job`, so progress, heartbeat and cancel go through the run catalogue exactly as for local runs. The workers open
  the same SQLite catalogue and run folders: the cluster's nodes run on this machine or see the ClusterLens folder on
  shared storage (SQLite locking needs a filesystem with working locks, e.g. not every NFS setup).
- `execute_run_on_ray` is `execute_run` with two collaborators swapped: texts are embedded by an actor pool (one model
  per actor, through the shared content cache, so a cancelled run resumes without re-embedding) and the rows UMAP and
  the clusterer were not fitted on are placed and assigned by parallel tasks. Fitting stays on one node, on a sample.
"""
from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from core import paths
from core.embed.base import BatchProgress, Embedder
from core.errors import ClusterLensError
from core.progress import ProgressFn, StopFn, never_stop, no_progress
from core.runs.executors import QUIET_LIBRARIES, QueueExecutor
from core.runs.execute import execute_run
from core.runs.jobs import run_job
from core.runs.store import RunStore
from core.settings import RunConfig

RAY_RUNNER = "core.runs.ray_engine:execute_run_on_ray"
EMBED_FACTORY = "core.embed.registry:resolve_embedder"


@dataclass(frozen=True)
class RaySettings:
    """How a run uses the cluster. `address`: a running cluster ("host:port"; None: $RAY_ADDRESS, else a Ray started
    inside this process). Embedding: `embed_actors` actors (one model each) of `embed_cpus` CPUs, fed `embed_batch`
    texts at a time. Assignment: blocks of `assign_batch` rows. `embedder_factory` names the function that makes an
    actor's embedder ("module:function", called as factory(spec, threads=...))."""

    address: str | None = None
    embed_actors: int = 2
    embed_cpus: int = 1
    embed_batch: int = 512
    assign_batch: int = 10_000
    embedder_factory: str = EMBED_FACTORY

    ENV: ClassVar[dict[str, str]] = {"embed_actors": "CLUSTERLENS_RAY_ACTORS", "embed_cpus": "CLUSTERLENS_RAY_CPUS",
                                     "embed_batch": "CLUSTERLENS_RAY_BATCH", "assign_batch": "CLUSTERLENS_RAY_ASSIGN"}

    @classmethod
    def from_env(cls, **overrides: Any) -> RaySettings:
        """Settings from $RAY_ADDRESS and the CLUSTERLENS_RAY_* variables, then `overrides` (None values ignored)."""
        values: dict[str, Any] = {"address": os.environ.get("RAY_ADDRESS") or None}
        for name, variable in cls.ENV.items():
            raw = os.environ.get(variable, "").strip()
            if raw:
                if not raw.isdigit() or int(raw) < 1:
                    raise ClusterLensError(f"{variable} must be a whole number of at least 1, not {raw!r}.")
                values[name] = int(raw)
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)


def connect(address: str | None = None) -> Any:
    """Connect this process to the cluster at `address` (or start a local Ray), once; workers see the repository on
    their path and this ClusterLens home. A clear error when ray is not installed."""
    try:
        import ray
    except ImportError:
        raise ClusterLensError("Ray is not installed. Install it with `make ray` (requirements-ray.txt).") from None
    if not ray.is_initialized():
        env = {**QUIET_LIBRARIES, "PYTHONPATH": str(paths.REPO_ROOT), "CLUSTERLENS_HOME": str(paths.home())}
        for name in ("CLUSTERLENS_SHARED_DATA", "CLUSTERLENS_EMBED_BACKEND"):
            if os.environ.get(name):
                env[name] = os.environ[name]
        local = {"include_dashboard": False} if address is None else {}
        ray.init(address=address, runtime_env={"env_vars": env}, logging_level="ERROR", log_to_driver=False, **local)
    return ray


def blocks(frame: Any, rows: int) -> list[Any]:
    """`frame` cut into pieces of at most `rows` rows: Ray Data makes one block of each, and an actor pool can only
    share out blocks (one DataFrame is one block, which a single actor would take whole)."""
    return [frame.iloc[start:start + rows] for start in range(0, len(frame), rows)] or [frame]


def _named(spec: str) -> Callable[..., Any]:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


class EmbedActor:
    """One embedding model in one Ray actor: a batch of (row, text) in, (row, vector, seconds, worker) out."""

    def __init__(self, spec: str, factory: str, threads: int) -> None:
        import socket

        self.embedder = _named(factory)(spec, threads=threads)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        started = time.perf_counter()
        vectors = self.embedder.encode([str(text) for text in batch["text"]])
        seconds = time.perf_counter() - started
        return {"row": batch["row"], "vector": vectors, "seconds": np.full(len(vectors), seconds / max(len(vectors), 1)),
                "worker": np.full(len(vectors), self.worker)}


class RayEmbedder:
    """An Embedder whose encode is a Ray Data pipeline over an actor pool. Learned per call: `worker_rates_`, rows
    per second of each actor while it computed (its share of the rows over its busy time)."""

    def __init__(self, spec: str, settings: RaySettings) -> None:
        self.spec = spec
        self.settings = settings
        self.name = f"ray:{spec}"
        self.worker_rates_: dict[str, float] = {}

    def encode(self, texts: list[str], progress: BatchProgress | None = None) -> np.ndarray:
        import pandas as pd

        ray = connect(self.settings.address)
        from ray.data import ActorPoolStrategy

        settings = self.settings
        rows = ray.data.from_pandas(blocks(pd.DataFrame({"row": np.arange(len(texts)), "text": list(texts)}),
                                           settings.embed_batch))
        embedded = rows.map_batches(EmbedActor, batch_size=settings.embed_batch, batch_format="numpy",
                                    compute=ActorPoolStrategy(size=settings.embed_actors),
                                    num_cpus=settings.embed_cpus,
                                    fn_constructor_kwargs={"spec": self.spec, "factory": settings.embedder_factory,
                                                           "threads": settings.embed_cpus})
        out: np.ndarray | None = None
        busy: dict[str, list[float]] = {}
        done = 0
        if progress:
            progress(0, len(texts))
        for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
            vectors = np.asarray(batch["vector"], dtype=np.float32)
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[batch["row"]] = vectors
            for worker, seconds in zip(batch["worker"], batch["seconds"]):
                tally = busy.setdefault(str(worker), [0.0, 0.0])
                tally[0] += 1
                tally[1] += float(seconds)
            done += len(vectors)
            if progress:
                progress(done, len(texts))  # may raise RunCancelled: leaving the loop stops the pipeline
        self.worker_rates_ = {worker: count / seconds for worker, (count, seconds) in busy.items() if seconds > 0}
        return out if out is not None else np.zeros((0, 0), dtype=np.float32)


class _Apply:
    """A Ray Data actor holding one fitted model's row-wise function, so the model is shipped once per actor."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        self.fn = fn

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"row": batch["row"], "out": np.asarray(self.fn(np.stack(batch["x"])))}


@dataclass
class RayRowMap:
    """A RowMap that applies a fitted model to blocks of rows on the cluster, in parallel."""

    settings: RaySettings
    calls: list[float] = field(default_factory=list)

    def __call__(self, fn: Callable[[np.ndarray], np.ndarray], X: np.ndarray) -> np.ndarray:
        import pandas as pd

        ray = connect(self.settings.address)
        from ray.data import ActorPoolStrategy

        started = time.perf_counter()
        rows = ray.data.from_pandas(blocks(pd.DataFrame({"row": np.arange(len(X)), "x": list(np.asarray(X))}),
                                           self.settings.assign_batch))
        mapped = rows.map_batches(_Apply, batch_size=self.settings.assign_batch, batch_format="numpy",
                                  compute=ActorPoolStrategy(size=self.settings.embed_actors),
                                  num_cpus=self.settings.embed_cpus, fn_constructor_kwargs={"fn": fn})
        out: np.ndarray | None = None
        for batch in mapped.iter_batches(batch_size=None, batch_format="numpy"):
            values = np.asarray(batch["out"])
            if out is None:
                out = np.empty((len(X), *values.shape[1:]), dtype=values.dtype)
            out[batch["row"]] = values
        self.calls.append(time.perf_counter() - started)
        return out if out is not None else fn(X[:0])


def execute_run_on_ray(config: RunConfig, run_dir: str | Path, progress: ProgressFn = no_progress,
                       should_stop: StopFn = never_stop, *, settings: RaySettings | None = None,
                       embedders: Callable[[str], Embedder] | None = None) -> dict[str, Any]:
    """`execute_run` with embedding by an actor pool and placement/assignment by parallel tasks on the cluster; the
    same run folder comes out. `embedders` replaces the actor pool (e.g. a run whose method embeds nothing)."""
    settings = settings or RaySettings.from_env()
    connect(settings.address)
    return execute_run(config, run_dir, progress, should_stop,
                       embedders=embedders or (lambda spec: RayEmbedder(spec, settings)),
                       row_map=RayRowMap(settings))


def _ray_job(catalogue: str, runs_root: str, run_id: str, worker: str, runner: str) -> None:
    """The task a RayExecutor submits: one `run_job` on a cluster node, reporting through the catalogue."""
    run_job(RunStore(catalogue, runs_root), run_id, worker=worker, runner=_named(runner))


class RayExecutor(QueueExecutor):
    """Sends each run to a Ray cluster as a task (`runner` named "module:function", imported on the node; by default
    the Ray pipeline run). The task asks for no CPU of its own: it spends its time waiting for the actors it starts,
    and a reserved CPU could leave them none on a small cluster."""

    kind: ClassVar[str] = "ray"

    def __init__(self, store: RunStore, *, runner: str = RAY_RUNNER, address: str | None = None,
                 workers: int | None = None, pump_seconds: float | None = 2.0) -> None:
        self.runner = runner
        self.ray = connect(address or RaySettings.from_env().address)
        self._task = self.ray.remote(num_cpus=0, max_retries=0)(_ray_job)
        super().__init__(store, workers=workers, pump_seconds=pump_seconds)

    def launch(self, run_id: str, worker: str) -> None:
        self._task.remote(str(self.store.db_path), str(self.store.runs_root), run_id, worker, self.runner)


__all__ = ["RaySettings", "RayExecutor", "RayEmbedder", "RayRowMap", "execute_run_on_ray", "connect", "RAY_RUNNER"]
