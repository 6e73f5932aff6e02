"""What a person reviews of a ClusterLLM run: the judge's answers as a queue, where the fine-tuned embedding disagrees
with them, the settings of a retrain on the reviewed answers, and the run's granularity curve.

The review page only draws these; every answer a person gives goes straight to the `JudgmentStore`.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.errors import SettingsError
from core.llm.judges import Choice
from core.llm.store import PERSON_MODEL, Judgment, JudgmentStore, Kind
from core.settings import RunConfig

SHOW = ("unreviewed", "disagreements", "flipped", "all")
"""The queue filters, in the order the page offers them."""


def flipped_choice(judgment: Judgment) -> Choice:
    """The other answer to the judge's: choice 2 for 1 (triplets), "different" for "same" (pairs)."""
    if judgment.answer is None:
        raise SettingsError("The judge did not decide this question, so there is nothing to flip: pick an answer.")
    if judgment.kind == "triplet":
        return 3 - int(judgment.answer)
    return not judgment.answer


def embedding_verdicts(judgments: Sequence[Judgment], texts: Sequence[str], embeddings: np.ndarray,
                       labels: np.ndarray) -> dict[int, Choice]:
    """What the run's (fine-tuned) embedding answers to each question, by judgment id.

    Triplets: the choice with the higher cosine to the anchor. Pairs: whether the run's clustering of those
    embeddings put both texts in the same cluster (a raw cosine has no natural yes/no threshold). None when a text
    is not in the run's data or the embedding cannot tell (equal cosines).
    """
    row_of: dict[str, int] = {}
    for row, text in enumerate(texts):
        row_of.setdefault(text, row)
    vectors = np.asarray(embeddings, dtype=np.float64)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    verdicts: dict[int, Choice] = {}
    for judgment in judgments:
        rows = [row_of.get(text) for text in judgment.texts]
        if any(row is None for row in rows):
            verdicts[judgment.id] = None
        elif judgment.kind == "triplet":
            anchor, first, second = (vectors[row] for row in rows)
            gap = float(anchor @ first - anchor @ second)
            verdicts[judgment.id] = None if gap == 0 else (1 if gap > 0 else 2)
        else:
            x, y = (int(labels[row]) for row in rows)
            verdicts[judgment.id] = x == y and x >= 0
    return verdicts


def disagrees(judgment: Judgment, verdict: Choice) -> bool:
    """True when the judge and the embedding both decided and answered differently."""
    return judgment.answer is not None and verdict is not None and judgment.answer != verdict


def review_queue(store: JudgmentStore, run: str, kind: Kind, show: str,
                 verdicts: Mapping[int, Choice] | None = None) -> list[Judgment]:
    """The run's questions of one kind in asking order, filtered by `show` (one of SHOW).

    "disagreements" needs `verdicts` (from `embedding_verdicts`).
    """
    if show not in SHOW:
        raise SettingsError(f"Unknown review filter {show!r}; use one of {', '.join(SHOW)}.")
    if show == "disagreements":
        if verdicts is None:
            raise SettingsError("The disagreement filter needs the run's embedding verdicts.")
        return [j for j in judged(store, run, kind) if disagrees(j, verdicts.get(j.id))]
    return [j for j in store.list(run, kind=kind, unreviewed=show == "unreviewed", flipped=show == "flipped")
            if j.model != PERSON_MODEL]


def judged(store: JudgmentStore, run: str, kind: Kind) -> list[Judgment]:
    """The run's questions of one kind that a judge answered (questions a person answered directly left out)."""
    return [j for j in store.list(run, kind=kind) if j.model != PERSON_MODEL]


def item_at(queue: Sequence[Judgment], cursor: int | None) -> Judgment | None:
    """The question to show: the first at or after the cursor (a judgment id), wrapping to the start; None if empty.

    After an answer or a skip the cursor moves to `id + 1`, so the queue advances even when the answered question
    leaves the filtered queue (as it does under "unreviewed").
    """
    if not queue:
        return None
    if cursor is not None:
        for judgment in queue:
            if judgment.id >= cursor:
                return judgment
    return queue[0]


def review_counts(store: JudgmentStore, run: str, kind: Kind) -> dict[str, Any]:
    """How far the review of one kind of question has come: total, reviewed, flipped and the agreement rate."""
    judgments = judged(store, run, kind)
    reviewed = [j for j in judgments if j.reviewed]
    rate = sum(not j.flipped for j in reviewed) / len(reviewed) if reviewed else None
    return {"total": len(judgments), "reviewed": len(reviewed), "flipped": sum(j.flipped for j in judgments),
            "agreement": rate}


def retrain_config(config: RunConfig) -> RunConfig:
    """The same run again, but answering every question a person reviewed with the person's answer."""
    if config.method != "clusterllm":
        raise SettingsError(f"Only ClusterLLM runs can be retrained on reviewed answers; this is a {config.method} "
                            "run.")
    return dataclasses.replace(config, method_settings={**config.method_settings, "reviewed_answers": True})


def granularity_curve(details: Mapping[str, Any]) -> dict[int, float]:
    """The run's F-beta curve over k ({k: F-beta}, k ascending); empty when the judge decided no pair."""
    curve = details.get("k_curve") or {}
    return {int(k): float(f) for k, f in sorted(curve.items(), key=lambda item: int(item[0])) if f is not None}


def cluster_sizes(labels: np.ndarray) -> dict[int, int]:
    """Rows per cluster, largest first."""
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return {int(values[i]): int(counts[i]) for i in order}
