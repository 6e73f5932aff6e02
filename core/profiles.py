"""What sets each cluster apart, in the data's own terms, so an analyst can name it.

Tables: the numeric columns whose cluster mean is furthest from the overall mean (in overall standard deviations)
and the category values that are over-represented in the cluster. Texts: the cluster's characteristic words by
class-based TF-IDF, as BERTopic computes them.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize

NOISE = -1
SUMMARY_NUMERIC = 2  # at most this many numeric columns in the one-line summary...
SUMMARY_CATEGORIES = 2  # ...and this many category values
SUMMARY_MIN_Z = 0.5  # a mean counts as high/low from half an overall standard deviation away
SUMMARY_MIN_LIFT = 1.2  # a value counts as typical when it is 20% more common than overall
TERMS_PER_CLUSTER = 1_000
"""Texts per cluster (a seeded sample of the bigger clusters) whose words rank its terms: the top words of 1,000 short
texts are stable, and 300 clusters of 100,000 texts stay a few MB of joined text. Table profiles need no sample:
they are one pass of group means and counts (linear in rows)."""


@dataclass
class ClusterProfile:
    """One cluster described against the whole data set.

    `numeric`: (column, cluster mean, overall mean, z) sorted by |z| descending, z in overall standard deviations.
    `categories`: (column, value, share in cluster, share overall, lift) for over-represented values (lift > 1),
    strongest first (by lift x share in cluster).
    """

    cluster: int
    size: int
    share: float
    numeric: list[tuple[str, float, float, float]] = field(default_factory=list)
    categories: list[tuple[str, object, float, float, float]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line in plain numbers, such as "bill length mm high (mean 47.5 vs 43.9 overall), island = Biscoe (96% of
        the cluster vs 49% overall)"."""
        parts = [f"{readable(column)} {'high' if z > 0 else 'low'} (mean {plain_number(inside)} vs {plain_number(overall)} "
                 "overall)" for column, inside, overall, z in self.numeric if abs(z) >= SUMMARY_MIN_Z][:SUMMARY_NUMERIC]
        parts += [f"{readable(column)} = {value} ({inside:.0%} of the cluster vs {overall:.0%} overall)"
                  for column, value, inside, overall, lift in self.categories
                  if lift >= SUMMARY_MIN_LIFT][:SUMMARY_CATEGORIES]
        return ", ".join(parts) if parts else "nothing stands out"


def readable(column: object) -> str:
    """A column name as words ("bill_length_mm" -> "bill length mm")."""
    return str(column).replace("_", " ").strip()


def plain_number(value: float) -> str:
    """A number as people write it: 4,720 · 47.5 · 0.82 · 0.0031 (never 4.72e+03)."""
    if not math.isfinite(value):
        return "n/a"
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:,.1f}"
    if size >= 0.01 or size == 0:
        return f"{value:.2f}".rstrip("0").rstrip(".") if size else "0"
    return f"{value:.2g}" if size >= 1e-4 else f"{value:.1e}"


def _numeric_profile(values: pd.DataFrame, labels: np.ndarray) -> dict[int, list[tuple[str, float, float, float]]]:
    """Per cluster, (column, cluster mean, overall mean, z) sorted by |z|; missing values are ignored."""
    overall_mean = values.mean()
    overall_std = values.std(ddof=0)
    means = values.groupby(labels).mean()
    profiles = {}
    for cluster, row in means.iterrows():
        rows = []
        for column in values.columns:
            std = overall_std[column]
            z = (row[column] - overall_mean[column]) / std if std > 0 else 0.0
            rows.append((column, float(row[column]), float(overall_mean[column]), float(z)))
        # Columns with no value in the cluster (z is nan) go last.
        profiles[cluster] = sorted(rows, key=lambda item: (math.isnan(item[3]), -abs(item[3])))
    return profiles


def _category_profile(frame: pd.DataFrame, labels: np.ndarray, columns: Sequence[str],
                      top: int) -> dict[int, list[tuple[str, object, float, float, float]]]:
    """Per cluster, the `top` over-represented values across all categorical columns; missing values are ignored."""
    found: dict[int, list[tuple[str, object, float, float, float]]] = {}
    for column in columns:
        present = frame[column].notna().to_numpy()
        counts = pd.crosstab(labels[present], frame[column].to_numpy()[present])
        overall = counts.sum(axis=0) / counts.to_numpy().sum()
        inside = counts.div(counts.sum(axis=1), axis=0)
        for cluster, shares in inside.iterrows():
            for value, share in shares.items():
                lift = share / overall[value]
                if lift > 1:
                    found.setdefault(cluster, []).append((column, value, float(share), float(overall[value]),
                                                          float(lift)))
    return {cluster: sorted(rows, key=lambda item: -item[4] * item[2])[:top] for cluster, rows in found.items()}


def profile_clusters(frame: pd.DataFrame, labels: np.ndarray, numeric: list[str], categorical: list[str], *,
                     top_categories: int = 3) -> list[ClusterProfile]:
    """A profile per cluster, in label order with noise (-1) last."""
    labels = np.asarray(labels)
    if len(labels) != len(frame):
        raise ValueError(f"The frame has {len(frame)} rows but there are {len(labels)} labels.")
    values = frame[numeric].apply(pd.to_numeric, errors="coerce") if numeric else pd.DataFrame(index=frame.index)
    numbers = _numeric_profile(values.reset_index(drop=True), labels) if numeric else {}
    categories = _category_profile(frame.reset_index(drop=True), labels, categorical, top_categories)
    clusters, sizes = np.unique(labels, return_counts=True)
    order = sorted(range(len(clusters)), key=lambda i: (clusters[i] == NOISE, clusters[i]))
    return [ClusterProfile(cluster=int(clusters[i]), size=int(sizes[i]), share=float(sizes[i] / len(labels)),
                           numeric=numbers.get(clusters[i], []), categories=categories.get(clusters[i], []))
            for i in order]


def profiles_frame(profiles: list[ClusterProfile]) -> pd.DataFrame:
    """One row per cluster for display: cluster, size, share, summary."""
    return pd.DataFrame([{"cluster": p.cluster, "size": p.size, "share": round(p.share, 3), "summary": p.summary}
                         for p in profiles], columns=["cluster", "size", "share", "summary"])


def top_terms(texts: Sequence[str], labels: np.ndarray, n_terms: int = 8, *,
              per_cluster: int | None = TERMS_PER_CLUSTER, seed: int = 0) -> dict[int, list[str]]:
    """The `n_terms` most characteristic words of each cluster by c-TF-IDF (BERTopic's class-based TF-IDF).

    The documents of a cluster (at most `per_cluster` of them, a seeded sample) are joined into one; a word's weight
    is its share of the cluster's words times log(1 + average words per cluster / the word's count over all
    clusters). Noise (-1) is a cluster here too.
    """
    labels = np.asarray(labels)
    if len(labels) != len(texts):
        raise ValueError(f"There are {len(texts)} texts but {len(labels)} labels.")
    rows = np.arange(len(labels))
    if per_cluster is not None:
        shuffled = np.random.default_rng(seed).permutation(len(labels))
        place_in_cluster = pd.Series(shuffled).groupby(labels[shuffled]).cumcount().to_numpy()
        rows = np.sort(shuffled[place_in_cluster < per_cluster])
    joined = pd.Series([str(texts[i]) for i in rows]).groupby(labels[rows]).agg(" ".join)
    clusters = joined.index.to_numpy()
    vectorizer = CountVectorizer(stop_words="english")
    try:
        counts = vectorizer.fit_transform(joined.tolist())
    except ValueError:  # no word left after removing stop words
        return {int(cluster): [] for cluster in clusters}
    words = vectorizer.get_feature_names_out()
    per_word = np.asarray(counts.sum(axis=0)).ravel()
    average_words = counts.sum() / len(clusters)
    weights = normalize(counts, norm="l1", axis=1).toarray() * np.log(1 + average_words / per_word)
    terms = {}
    for row, cluster in enumerate(clusters):
        ranked = np.argsort(-weights[row], kind="stable")[:n_terms]
        terms[int(cluster)] = [str(words[i]) for i in ranked if weights[row, i] > 0]
    return terms


LONG_TEXT_WORDS = 190
"""Words beyond which a text is longer than MiniLM reads (256 word pieces, about 190 English words); the rest of it
does not reach the embedding."""


def text_lengths(texts: Sequence[str]) -> np.ndarray:
    """Words per text (split on white space): the Data page's length profile."""
    return np.fromiter((len(str(text).split()) for text in texts), dtype=np.int64, count=len(texts))
