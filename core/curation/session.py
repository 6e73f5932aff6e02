"""A finished run as a person curates it: the current clusters (original labels + the edit log), with names,
sizes, examples, profiles and scores, and the edits themselves (apply, undo, redo, start over from a cut).

    curation = Curation("runs/20250101-abc")
    curation.apply(Rename(3, "Card delivery"))
    curation.apply(Merge((4, 9)))
    state = curation.current()          # labels, clusters (id, name, description, size, examples), version
    curation.undo()
"""
from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from core.cluster import Clusterer, choose_k_by_silhouette
from core.curation.edits import (NOISE, Edit, EditError, EditLog, EditRecord, MarkOutliers, Merge, Move, Recut,
                                 Rename, Replayed, Split, first_free_id, match_ids, replay)
from core.curation.llm_names import LLMNamer, NamerChoice, NamerChoices, TextModel, check_namer_spec, estimate_naming
from core.curation.names import (EXAMPLE_CHARS, ClusterName, NameCache, Namer, NamingRequest, central_rows,
                                 default_namer, distinct_names, members_key, near_duplicates, shorten)
from core.embed.base import Embedder
from core.embed.registry import DEFAULT_EMBEDDER, resolve_embedder
from core.errors import ClusterLensError
from core.llm import Budget, JudgmentStore, LiteLLMJudge
from core.llm.estimate import QueryEstimate
from core.llm.store import PaidQuestions
from core.metrics import score_clustering
from core.profiles import ClusterProfile
from core.runs.artifacts import RunArtifacts, load_artifacts

OUTLIERS_NAME = "Outliers"
N_EXAMPLES = 3


def run_key(run_dir: str | Path) -> str:
    """How the edit log and the name cache know a run: its folder's absolute path."""
    return str(Path(run_dir).resolve())


@dataclass(frozen=True)
class ClusterView:
    """One current cluster as the pages and the CLI show it. `named_by` is "person" or the namer's key."""

    id: int
    name: str
    description: str
    size: int
    share: float
    examples: list[str]
    named_by: str


@dataclass
class CurrentClusters:
    """The run's current clusters: labels (one per row, -1 = outlier), one ClusterView each, and the log version
    (the sequence number of the last applied edit; 0 = the original clustering)."""

    labels: np.ndarray
    clusters: list[ClusterView]
    version: int

    def names(self) -> dict[int, str]:
        return {cluster.id: cluster.name for cluster in self.clusters}

    def to_json(self) -> dict[str, Any]:
        """The shape `python -m core show` prints."""
        return {"clusters": [{"id": c.id, "name": c.name, "description": c.description, "size": c.size,
                              "share": round(c.share, 4), "examples": c.examples, "named_by": c.named_by}
                             for c in self.clusters],
                "version": self.version, "n": int(len(self.labels)),
                "outliers": int((self.labels == NOISE).sum())}


@dataclass(frozen=True)
class RecutPreview:
    """What starting over from a cut at k would do: the clusters it makes, and what it discards."""

    k: int
    edits_discarded: int
    names_kept: dict[int, str] = field(default_factory=dict)
    names_discarded: dict[int, str] = field(default_factory=dict)
    rows_changed: int = 0

    @property
    def message(self) -> str:
        lost = ", ".join(f"“{name}”" for name in self.names_discarded.values())
        return (f"Starting over from the tree cut at {self.k} clusters replaces the effect of {self.edits_discarded} "
                f"edit(s) on the labels and changes the cluster of {self.rows_changed} row(s). "
                f"{len(self.names_kept)} of your names stay with their clusters"
                + (f"; these lose their cluster: {lost}." if lost else ".") + " Undo brings everything back.")


class Curation:
    """A run's curation: reads the run folder once, and the edit log and name cache from the catalogue.

    `namer` defaults to the one chosen for the run (`choose_namer`; offline for the data's kind until a person
    chooses an LLM); `text_models(model, api_base)` makes the LLM for a litellm model string; `embedder` (texts)
    defaults to the run's embedder, and it is only loaded when a cluster needs a new name. When the chosen LLM namer
    fails (provider down, budget spent, no key), the run goes back to offline names and `naming_problem` says why.
    """

    def __init__(self, run_dir: str | Path, *, log: EditLog | None = None, names: NameCache | None = None,
                 namer: Namer | None = None, embedder: Embedder | None = None,
                 embedders: Callable[[str], Embedder] | None = None,
                 text_models: Callable[[str, str | None], TextModel] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.run = run_key(run_dir)
        self.log = log or EditLog()
        self.names = names or NameCache(self.log.path)
        self.choices = NamerChoices(self.log.path)
        self._namer = namer
        self._embedder = embedder
        self._embedders = embedders or (lambda spec: resolve_embedder(spec))
        self._text_models = text_models or (lambda model, api_base: LiteLLMJudge(model, api_base=api_base,
                                                                                 max_tokens=160, timeout=60.0))
        self.naming_problem: str | None = None
        self._kept: dict[str, tuple[bytes, Any]] = {}
        self._keeping = threading.Lock()  # one Curation serves every tab of a server: compute each result once

    @cached_property
    def artifacts(self) -> RunArtifacts:
        return load_artifacts(self.run_dir)

    @property
    def namer(self) -> Namer:
        """The namer of new names: the injected one, else the run's chosen one (built on first use)."""
        if self._namer is None:
            choice = self.namer_choice()
            self._namer = self.offline_namer if choice.offline else LLMNamer(
                self._text_models(choice.spec.partition(":")[2], choice.api_base), self.offline_namer,
                PaidQuestions(JudgmentStore(self.log.path), self.run_dir.name,
                              budget=Budget(choice.max_queries, choice.max_cost)))
        return self._namer

    @cached_property
    def offline_namer(self) -> Namer:
        kind = self.artifacts.data.kind
        return default_namer(kind, self.embedder if kind == "text" else None)

    def namer_choice(self) -> NamerChoice:
        """The namer the person chose for this run (offline until they choose an LLM)."""
        return self.choices.get(self.run)

    def choose_namer(self, choice: NamerChoice) -> None:
        """Name this run's clusters with `choice` from now on; names a person gave stay as they are."""
        self.choices.set(self.run, NamerChoice(check_namer_spec(choice.spec), choice.max_cost, choice.max_queries,
                                               choice.api_base or None))
        self._namer = None
        self.naming_problem = None

    def naming_estimate(self, spec: str) -> QueryEstimate:
        """What naming every current cluster with `spec` may ask and cost, before anything is paid."""
        labels = self.labels()
        clusters = len([c for c in np.unique(labels) if c != NOISE])
        texts = self.artifacts.hover_texts(max_chars=200)
        mean_chars = sum(map(len, texts)) / max(len(texts), 1)
        return estimate_naming(check_namer_spec(spec), clusters, mean_chars)

    @property
    def embedder(self) -> Embedder:
        """The run's base embedder (for naming texts); a fine-tuned run's model folder when it has one."""
        if self._embedder is None:
            self._embedder = self._embedders(self.embedder_spec())
        return self._embedder

    def embedder_spec(self) -> str:
        """The embedder setting of the run, or its fine-tuned model folder."""
        tuned = self.run_dir / "finetuned-model"
        if tuned.is_dir():
            return str(tuned)
        return str(self.artifacts.config.method_settings.get("embedder", DEFAULT_EMBEDDER))

    # --- reading -------------------------------------------------------------------------------------------
    def records(self) -> list[EditRecord]:
        return self.log.records(self.run)

    def history(self) -> list[EditRecord]:
        """The edits in order with their state (done, undone; dropped ones left out)."""
        return [record for record in self.records() if record.state != "dropped"]

    def original(self) -> np.ndarray:
        """The run's own labels, before any edit."""
        return self.artifacts.labels.copy()

    def replayed(self) -> Replayed:
        return replay(self.artifacts.labels, self.records())

    def labels(self) -> np.ndarray:
        """The current labels: the original plus every applied edit (-1 = outlier)."""
        return self.replayed().labels

    def current(self) -> CurrentClusters:
        """Current labels with a name, description, size and three central examples per cluster."""
        state = self.replayed()
        labels = state.labels
        names = self._names(labels, state.names)
        examples = self._per_labels("examples", labels, lambda: self._examples(labels))
        clusters = []
        ids, sizes = np.unique(labels, return_counts=True)
        for cluster, size in sorted(zip(ids.tolist(), sizes.tolist()), key=lambda item: (item[0] == NOISE, item[0])):
            name, description, source = names[cluster]
            clusters.append(ClusterView(int(cluster), name, description, int(size), size / len(labels),
                                        examples[cluster], source))
        return CurrentClusters(labels, clusters, state.version)

    def _examples(self, labels: np.ndarray) -> dict[int, list[str]]:
        """The N_EXAMPLES central texts (or rows) of each cluster, shortened."""
        hover = self.artifacts.hover_texts(max_chars=200)
        return {int(cluster): [shorten(hover[row], 200)
                               for row in central_rows(self.artifacts.embeddings, labels, cluster, N_EXAMPLES)]
                for cluster in np.unique(labels)}

    def _names(self, labels: np.ndarray, person: dict[int, tuple[str, str | None]]) -> dict[int, tuple[str, str, str]]:
        """(name, description, who named it) of each current cluster: the person's names, then generated ones."""
        clusters = [int(c) for c in np.unique(labels) if c != NOISE]
        keys = {c: members_key(np.flatnonzero(labels == c)) for c in clusters}
        wanted = {c: keys[c] for c in clusters if c not in person}
        generated: dict[int, tuple[ClusterName, float, str]] = {}
        if wanted:
            try:
                generated = self._generated(labels, wanted, self.namer)
            except ClusterLensError as error:
                if self._namer is self.offline_namer or self.namer_choice().offline:
                    raise
                self.naming_problem = (f"The LLM namer stopped: {error} The clusters have their offline names again; "
                                       "every name it gave is kept and comes back at no cost if you choose it again.")
                self.choices.set(self.run, NamerChoice())
                self._namer = self.offline_namer
                generated = self._generated(labels, wanted, self.offline_namer)
        order = sorted(generated, key=lambda c: (generated[c][1], c))  # older names win a clash
        unique = distinct_names({c: generated[c][0] for c in order}, {c: n for c, (n, _) in person.items()})
        result: dict[int, tuple[str, str, str]] = {NOISE: (OUTLIERS_NAME, "Rows marked as belonging to no cluster.",
                                                           "person")}
        hover = self.artifacts.hover_texts(max_chars=EXAMPLE_CHARS)
        for cluster, (name, description) in person.items():
            example = hover[central_rows(self.artifacts.embeddings, labels, cluster, 1)[0]]
            size = int((labels == cluster).sum())
            result[cluster] = (name, description or f"{size} rows you named; e.g. “{example}”", "person")
        for cluster in order:
            result[cluster] = (unique[cluster], generated[cluster][0].description, generated[cluster][2])
        return result

    def _generated(self, labels: np.ndarray, wanted: dict[int, str],
                   namer: Namer) -> dict[int, tuple[ClusterName, float, str]]:
        """(name, when made, namer key) of the `wanted` clusters {cluster: members key}: stored ones, the rest made
        by `namer` now and stored."""
        found = self.names.get(self.run, wanted, namer.key)
        missing = tuple(c for c in wanted if c not in found)
        if missing:
            fresh = namer.name_clusters(NamingRequest(self.artifacts.data, labels, self.artifacts.embeddings, missing))
            stamp = self.names.put(self.run, {c: (wanted[c], fresh[c]) for c in missing}, namer.key)
            found.update({c: (fresh[c], stamp) for c in missing})
        return {c: (name, stamp, namer.key) for c, (name, stamp) in found.items()}

    def sizes(self) -> dict[int, int]:
        ids, counts = np.unique(self.labels(), return_counts=True)
        return dict(zip(ids.tolist(), counts.tolist()))

    def profiles(self) -> list[ClusterProfile]:
        """What sets each current cluster apart, in the table's columns (tables; texts get `terms`)."""
        labels = self.labels()
        return self._per_labels("profiles", labels, lambda: self.artifacts.profiles(labels))

    def terms(self) -> dict[int, list[str]]:
        """Characteristic words of each current cluster (texts)."""
        labels = self.labels()
        return self._per_labels("terms", labels, lambda: self.artifacts.terms(labels))

    def scores(self) -> dict[str, float]:
        """Internal scores of the current labels in the run's clustering space, external ones when labels exist;
        kept until the labels change (Explore asks on every rerun, and at 20,000 rows they take seconds). While the
        labels are the run's own, the scores the run stored for them are used (the same function on the same space)."""
        labels = self.labels()

        def computed() -> dict[str, float]:
            stored = self.artifacts.scores.get("metrics") or {}
            unedited = np.array_equal(labels, self.artifacts.labels) and {"silhouette", "davies_bouldin"} <= set(stored)
            scores = dict(stored) if unedited else score_clustering(self.artifacts.space, labels, self.artifacts.truth)
            return {name: math.nan if value is None else value for name, value in scores.items()}

        return dict(self._per_labels("scores", labels, computed))

    def _per_labels(self, what: str, labels: np.ndarray, compute: Callable[[], Any]) -> Any:
        """`compute()`'s result for `what`, kept until the current labels change: Explore asks on every rerun, and at
        100,000 rows scores and terms take a second or more each."""
        key = hashlib.blake2b(labels.tobytes(), digest_size=16).digest()
        with self._keeping:
            kept = self._kept.get(what)
            if kept is None or kept[0] != key:
                kept = self._kept[what] = (key, compute())
        return kept[1]

    # --- editing -------------------------------------------------------------------------------------------
    def apply(self, edit: Edit) -> EditRecord:
        """Check an edit against the current clusters and store it in the log (`current()` then shows its effect)."""
        kind, payload, summary = self._resolve(edit, self.replayed())
        return self.log.append(self.run, kind, payload, summary)

    def undo(self) -> EditRecord:
        """Take back the last applied edit; returns it."""
        return self.log.undo(self.run)

    def redo(self) -> EditRecord:
        """Re-apply the last undone edit; returns it."""
        return self.log.redo(self.run)

    def recut_preview(self, k: int) -> RecutPreview:
        """What `apply(Recut(k))` would keep and discard, to show before the person confirms."""
        state = self.replayed()
        labels = self._recut_labels(k, state)
        present = set(np.unique(labels).tolist())
        done = sum(record.state == "done" and record.kind != "rename" for record in self.records())
        return RecutPreview(k, done, {c: n for c, (n, _) in state.names.items() if c in present},
                            {c: n for c, (n, _) in state.names.items() if c not in present},
                            int((labels != state.labels).sum()))

    def _recut_labels(self, k: int, state: Replayed) -> np.ndarray:
        return match_ids(state.labels, self.artifacts.tree.cut(k), first_free_id(self.artifacts.labels,
                                                                                 self.records()))

    def _resolve(self, edit: Edit, state: Replayed) -> tuple[str, dict[str, Any], str]:
        """(kind, payload with explicit row assignments, one-line summary) of an edit; EditError when it is wrong."""
        labels = state.labels
        present = set(np.unique(labels[labels != NOISE]).tolist())

        def check(cluster: int) -> int:
            if int(cluster) not in present:
                raise EditError(f"There is no cluster {cluster} now. Current clusters: "
                                f"{', '.join(map(str, sorted(present)))}; `show` lists them.")
            return int(cluster)

        fresh = first_free_id(self.artifacts.labels, self.records())
        if isinstance(edit, Rename):
            cluster, name = check(edit.cluster), " ".join(edit.name.split())
            if not name:
                raise EditError("A cluster's name cannot be empty. Type a few words.")
            for other, (taken, _) in state.names.items():  # generated names give way to a person's
                if other != cluster and taken.lower() == name.lower():
                    raise EditError(f"Cluster {other} is already called “{taken}”. Pick another name, or merge the "
                                    f"two clusters.")
            return "rename", {"cluster": cluster, "name": name, "description": edit.description}, \
                f"Renamed cluster {cluster} to “{name}”"
        if isinstance(edit, Merge):
            clusters = [check(c) for c in dict.fromkeys(int(c) for c in edit.clusters)]
            if len(clusters) < 2:
                raise EditError("A merge needs at least two different clusters.")
            rows = np.flatnonzero(np.isin(labels, clusters[1:]))
            return "merge", {"clusters": clusters, "assign": [[clusters[0], rows.tolist()]]}, \
                f"Merged clusters {', '.join(map(str, clusters[1:]))} into {clusters[0]}"
        if isinstance(edit, Split):
            cluster = check(edit.cluster)
            rows = np.flatnonzero(labels == cluster)
            parts = self._split_rows(rows, edit)
            sizes = np.bincount(parts)
            keep = int(np.argmax(sizes))
            others = [p for p in range(len(sizes)) if p != keep]
            assign = [[fresh + i, rows[parts == p].tolist()] for i, p in enumerate(others)]
            made = ", ".join(str(fresh + i) for i in range(len(others)))
            return "split", {"cluster": cluster, "k": len(sizes), "assign": assign}, \
                f"Split cluster {cluster} into {len(sizes)} (new: {made})"
        if isinstance(edit, Move):
            rows = self._rows(edit.rows, len(labels))
            target = fresh if edit.to == "new" else check(int(edit.to))
            sources = sorted(set(labels[rows].tolist()))
            return "move", {"rows": rows.tolist(), "from": sources, "to": target, "new": edit.to == "new",
                            "assign": [[target, rows.tolist()]]}, \
                f"Moved {len(rows)} row(s) to {'new cluster ' if edit.to == 'new' else 'cluster '}{target}"
        if isinstance(edit, MarkOutliers):
            rows = self._rows(edit.rows, len(labels))
            return "outliers", {"rows": rows.tolist(), "from": sorted(set(labels[rows].tolist())),
                                "assign": [[NOISE, rows.tolist()]]}, f"Marked {len(rows)} row(s) as outliers"
        if isinstance(edit, Recut):
            preview = self.recut_preview(edit.k)
            labels_at = self._recut_labels(edit.k, state)
            return "recut", {"k": edit.k, "discarded_edits": preview.edits_discarded,
                             "names_discarded": preview.names_discarded,
                             "assign": [[int(c), np.flatnonzero(labels_at == c).tolist()]
                                        for c in np.unique(labels_at)]}, \
                f"Started over from the tree cut at {edit.k} clusters"
        raise EditError(f"Unknown edit {edit!r}.")

    @staticmethod
    def _rows(rows: tuple[int, ...], n: int) -> np.ndarray:
        picked = np.unique(np.asarray(rows, dtype=np.int64))
        if len(picked) == 0:
            raise EditError("Select at least one row.")
        if picked.min() < 0 or picked.max() >= n:
            wrong = int(picked.max() if picked.max() >= n else picked.min())
            raise EditError(f"Rows are numbered 0 to {n - 1}; {wrong} is not a row of this run.")
        return picked

    def _split_rows(self, rows: np.ndarray, edit: Split) -> np.ndarray:
        """Parts 0..k-1 of a cluster's rows by k-means in the run's clustering space (k by silhouette if unset)."""
        space = self.artifacts.space[rows]
        seed = self.artifacts.config.clustering.seed
        if edit.k is not None:
            if not 2 <= edit.k <= len(rows):
                raise EditError(f"This cluster has {len(rows)} rows, so it can be split into 2 to {len(rows)} parts, "
                                f"not {edit.k}.")
            k = edit.k
        else:
            if len(rows) < 4:
                raise EditError(f"This cluster has {len(rows)} rows: too few to choose a split; give --k 2.")
            k, _ = choose_k_by_silhouette(space, (2, min(edit.max_k, len(rows) - 1)), seed=seed)
        return Clusterer("kmeans", k, seed=seed).fit(space).labels_


def similar_names(names: dict[int, str]) -> list[tuple[int, int]]:
    """Pairs of clusters whose names read alike (a check for the pages and tests)."""
    items = sorted(names.items())
    return [(a, b) for i, (a, x) in enumerate(items) for b, y in items[i + 1:] if near_duplicates(x, y)]
