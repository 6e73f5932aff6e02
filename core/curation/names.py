"""Cluster names: a short name (2-5 words) and a one-line description for every cluster, offline by default.

Texts are named by BERTopic's representation pipeline run on the run's own clusters: class-based TF-IDF picks the
words and two-word phrases that set each cluster apart, KeyBERT-inspired re-ranking keeps those closest to the
cluster's most representative texts (in the run's embedder), and maximal marginal relevance keeps them diverse.
Tables are named by the category values and high/low columns that set the cluster apart ("Biscoe, heavy body, long
flipper"). A `Namer` is anything with `key` and `name_clusters`, so an LLM namer can replace the offline ones.
Whatever the namer, `distinct_names` makes sure no two clusters of a run share a name.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core import paths
from core.data.dataset import Dataset
from core.embed.base import Embedder
from core.profiles import SUMMARY_MIN_LIFT, SUMMARY_MIN_Z, ClusterProfile, profile_clusters
from core.sqlite import connect

NOISE = -1
MAX_NAME_WORDS = 5
EXAMPLE_CHARS = 90
UNITS = {"mm", "cm", "m", "km", "g", "kg", "lb", "lbs", "s", "ms", "pct", "percent", "usd", "eur", "num", "nr"}
# Adjectives for a few common quantities ("body_mass_g" high -> "heavy body"); other columns read "high <column>".
QUANTITY_WORDS = {"mass": ("heavy", "light"), "weight": ("heavy", "light"), "length": ("long", "short"),
                  "height": ("tall", "short"), "depth": ("deep", "shallow"), "width": ("wide", "narrow"),
                  "age": ("older", "younger"), "price": ("expensive", "cheap"), "size": ("large", "small")}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS curation_names (
    run TEXT NOT NULL,
    cluster INTEGER NOT NULL,
    members TEXT NOT NULL,
    namer TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    alternatives TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (run, cluster, members, namer)
);
"""


@dataclass(frozen=True)
class ClusterName:
    """A proposed name, its one-line description, and further distinguishing terms to tell near-duplicates apart."""

    name: str
    description: str
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class NamingRequest:
    """What a namer sees: the run's data, vectors and current labels, and which clusters need a name."""

    data: Dataset
    labels: np.ndarray
    embeddings: np.ndarray
    clusters: tuple[int, ...]


class Namer(Protocol):
    """Anything that names clusters. `key` identifies the namer (and its version) in the name cache."""

    key: str

    def name_clusters(self, request: NamingRequest) -> dict[int, ClusterName]:
        """A name for each cluster in `request.clusters`."""
        ...


def central_rows(embeddings: np.ndarray, labels: np.ndarray, cluster: int, n: int = 3) -> np.ndarray:
    """The `n` rows of a cluster closest (by cosine) to its mean vector: what the cluster is typically about."""
    rows = np.flatnonzero(labels == cluster)
    if cluster == NOISE or len(rows) <= n:
        return rows[:n]
    vectors = embeddings[rows].astype(np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = vectors @ vectors.mean(axis=0)
    return rows[np.argsort(-similarity, kind="stable")[:n]]


def shorten(text: str, limit: int = EXAMPLE_CHARS) -> str:
    """One line of at most `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def compose_name(terms: Sequence[str], max_words: int = MAX_NAME_WORDS) -> str:
    """A 2-5 word name from ranked terms: the first phrase; a single word grows into the first phrase holding it
    ("card" -> "card delivery"), else takes the next term beside it ("refund, order")."""
    if not terms:
        return ""
    name = terms[0]
    if len(name.split()) == 1:
        longer = next((t for t in terms[1:4] if name.lower() in t.lower().split() and len(t.split()) > 1), None)
        other = next((t for t in terms[1:] if name.lower() not in t.lower().split()), None)
        name = longer or (f"{name}, {other}" if other else name)
    name = " ".join(name.split()[:max_words])
    return name[:1].upper() + name[1:]


class KeywordNamer:
    """Offline names for texts: BERTopic's c-TF-IDF terms re-ranked KeyBERT-style and by MMR, plus central texts.

    The embedder is the run's (injected, never downloaded); `diversity` is MMR's weight on novelty (0..1).
    """

    key = "keywords-v1"

    def __init__(self, embedder: Embedder, *, n_terms: int = 8, diversity: float = 0.3,
                 ngram_range: tuple[int, int] = (1, 2)) -> None:
        self.embedder = embedder
        self.n_terms = n_terms
        self.diversity = diversity
        self.ngram_range = ngram_range

    def name_clusters(self, request: NamingRequest) -> dict[int, ClusterName]:
        texts = request.data.texts()
        terms = self.terms(texts, request.labels, request.embeddings)
        names = {}
        for cluster in request.clusters:
            ranked = terms.get(cluster, [])
            rows = central_rows(request.embeddings, request.labels, cluster, 1)
            example = f"e.g. “{shorten(texts[rows[0]])}”" if len(rows) else ""
            size = int((request.labels == cluster).sum())
            about = ", ".join(ranked[:3]) if ranked else "no distinctive words"
            name = compose_name(ranked) or shorten(texts[rows[0]], 40) if len(rows) else f"Cluster {cluster}"
            names[cluster] = ClusterName(name, f"{size} texts about {about}; {example}".rstrip("; "),
                                         tuple(ranked))
        return names

    def terms(self, texts: list[str], labels: np.ndarray, embeddings: np.ndarray) -> dict[int, list[str]]:
        """Ranked distinguishing terms of every cluster (noise included as a class of its own, never named)."""
        from bertopic import BERTopic
        from bertopic.backend import BaseEmbedder
        from bertopic.cluster import BaseCluster
        from bertopic.dimensionality import BaseDimensionalityReduction
        from bertopic.representation import KeyBERTInspired, MaximalMarginalRelevance
        from sklearn.feature_extraction.text import CountVectorizer

        embedder = self.embedder

        class Backend(BaseEmbedder):
            """The run's embedder as BERTopic's backend (for the candidate words and representative texts)."""

            def embed(self, documents: Sequence[str], verbose: bool = False) -> np.ndarray:
                return np.asarray(embedder.encode([str(d) for d in documents]), dtype=np.float32)

        labels = np.asarray(labels)
        if len(np.unique(labels)) < 2:  # c-TF-IDF needs something to contrast with
            return {int(labels[0]): []} if len(labels) else {}
        model = BERTopic(embedding_model=Backend(), umap_model=BaseDimensionalityReduction(),
                         hdbscan_model=BaseCluster(), top_n_words=self.n_terms * 2,
                         vectorizer_model=CountVectorizer(stop_words="english", ngram_range=self.ngram_range),
                         representation_model=[KeyBERTInspired(top_n_words=self.n_terms * 2, random_state=0),
                                               MaximalMarginalRelevance(diversity=self.diversity,
                                                                        top_n_words=self.n_terms)])
        model.fit(texts, embeddings=np.asarray(embeddings, dtype=np.float32), y=labels)
        topic_of = dict(zip(labels.tolist(), model.topics_))
        # BERTopic joins a cluster's texts into one document, so a phrase may straddle two texts ("card card").
        return {int(cluster): [term for term, _ in model.get_topic(topic) or []
                               if term and len(set(term.split())) == len(term.split())]
                for cluster, topic in topic_of.items()}


def column_words(column: str) -> list[str]:
    """A column name as words, units dropped: "flipper_length_mm" -> ["flipper", "length"]."""
    words = [w for w in re.split(r"[_\W]+|(?<=[a-z])(?=[A-Z])", str(column)) if w]
    kept = [w.lower() for w in words if w.lower() not in UNITS]
    return kept or [w.lower() for w in words]


def numeric_phrase(column: str, z: float) -> str:
    """ "heavy body" for body_mass_g above the mean, "low horsepower" for Horsepower below it."""
    words = column_words(column)
    for index, word in enumerate(words):
        if word in QUANTITY_WORDS:
            adjective = QUANTITY_WORDS[word][0 if z > 0 else 1]
            rest = words[:index] + words[index + 1:]
            return " ".join([adjective, *rest])
    return " ".join(["high" if z > 0 else "low", *words])


class ProfileNamer:
    """Offline names for tables: the over-represented category values and the high/low columns of each cluster."""

    key = "profile-v1"

    def name_clusters(self, request: NamingRequest) -> dict[int, ClusterName]:
        data = request.data
        profiles = {p.cluster: p for p in profile_clusters(data.frame, request.labels, data.columns_with("numeric"),
                                                           data.columns_with("categorical"))}
        return {cluster: self._name(profiles[cluster]) for cluster in request.clusters if cluster in profiles}

    @staticmethod
    def _name(profile: ClusterProfile) -> ClusterName:
        terms = [str(value) for _, value, share, _, lift in profile.categories
                 if lift >= SUMMARY_MIN_LIFT and share >= 0.5]
        terms += [numeric_phrase(column, z) for column, _, _, z in profile.numeric if abs(z) >= SUMMARY_MIN_Z]
        words: list[str] = []
        parts: list[str] = []
        for term in terms:
            if len(words) + len(term.split()) > MAX_NAME_WORDS:
                break
            parts.append(term)
            words.extend(term.split())
        name = ", ".join(parts) if parts else "Typical rows"
        return ClusterName(name[:1].upper() + name[1:], f"{profile.size} rows: {profile.summary}", tuple(terms))


def default_namer(kind: str, embedder: Embedder | None) -> Namer:
    """The offline namer for a data kind: keywords for texts (needs the run's embedder), profiles for tables."""
    if kind == "text":
        if embedder is None:
            raise ValueError("Naming texts needs the run's embedder.")
        return KeywordNamer(embedder)
    return ProfileNamer()


def _words(name: str) -> frozenset[str]:
    return frozenset(w.rstrip("s") for w in re.findall(r"\w+", name.lower()))


def near_duplicates(a: str, b: str) -> bool:
    """Whether two names would read as the same: equal words (plurals aside), or one's words inside the other's."""
    x, y = _words(a), _words(b)
    return bool(x) and bool(y) and (x <= y or y <= x)


def distinct_names(proposed: Mapping[int, ClusterName], fixed: Mapping[int, str]) -> dict[int, str]:
    """Names for the proposed clusters, none equal or near-equal to a fixed (person's) name or to each other.

    Clusters are settled in the order given; a clash gets the first alternative term that adds a word the other name
    lacks ("Card delivery" and "Card delivery (tracking)"), else a number.
    """
    taken = dict(fixed)
    settled: dict[int, str] = {}
    for cluster, proposal in proposed.items():
        name = proposal.name
        clashes = [other for other in taken.values() if near_duplicates(name, other)]
        if clashes:
            extra = next((term for term in proposal.alternatives
                          if not any(_words(term) <= _words(other) for other in clashes)
                          and not _words(term) <= _words(name)), None)
            candidate = f"{name} ({extra})" if extra else name
            number = 2
            while any(candidate.lower() == other.lower() or (candidate == name and near_duplicates(candidate, other))
                      for other in taken.values()):
                candidate = f"{name} #{number}"
                number += 1
            name = candidate
        taken[cluster] = settled[cluster] = name
    return settled


def members_key(rows: np.ndarray) -> str:
    """A short content key of a cluster's rows (a name is reused only for exactly the same rows)."""
    return hashlib.sha1(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()[:16]


class NameCache:
    """Generated names by (run, cluster, its rows, namer) in the catalogue's `curation_names` table, so a cluster
    an edit did not touch keeps its name and only touched clusters are named again."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.catalogue_path()
        with closing(connect(self.path)) as db, db:
            db.executescript(_SCHEMA)

    def get(self, run: str, keys: Mapping[int, str], namer: str) -> dict[int, tuple[ClusterName, float]]:
        """Stored names for clusters whose rows are unchanged, with when each was made."""
        found: dict[int, tuple[ClusterName, float]] = {}
        with closing(connect(self.path)) as db:
            for cluster, members in keys.items():
                row = db.execute("SELECT name, description, alternatives, created FROM curation_names WHERE run = ? "
                                 "AND cluster = ? AND members = ? AND namer = ?",
                                 (run, cluster, members, namer)).fetchone()
                if row is not None:
                    found[cluster] = (ClusterName(row["name"], row["description"],
                                                  tuple(json.loads(row["alternatives"]))), row["created"])
        return found

    def put(self, run: str, names: Mapping[int, tuple[str, ClusterName]], namer: str) -> float:
        """Store {cluster: (members key, name)}; returns the time stamp they were stored under."""
        now = time.time()
        rows: list[tuple[Any, ...]] = [(run, cluster, members, namer, name.name, name.description,
                                        json.dumps(list(name.alternatives)), now)
                                       for cluster, (members, name) in names.items()]
        with closing(connect(self.path)) as db, db:
            db.executemany("INSERT OR REPLACE INTO curation_names VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return now
