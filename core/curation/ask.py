"""The person as the judge of a finished text run: the questions whose answers would most change its clustering, a few
at a time, and after each batch a quick retrain that shows where the clusters would move.

Answers go to the judgment store at once (model "person", reviewed), so a reload keeps them and a full retrain
("Retrain from my edits", or a ClusterLLM run with reviewed answers) learns from them. The quick retrain is
`PersonLoop`'s residual map on the run's frozen embeddings: seconds per batch, so the person is never kept waiting.

    asking = PersonQuestions(curation, store)
    state = asking.state()                 # the loop rebuilt from the stored answers: labels, answered, scores
    batch = asking.next_questions(state)   # (anchor, choice 1, choice 2) rows, most informative first
    asking.answer(batch, [1, 2, 0])        # 0: the person cannot tell
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.curation.session import Curation
from core.errors import SettingsError
from core.llm.store import PERSON_MODEL, JudgmentStore
from core.methods.clusterllm.person import PersonLoop
from core.metrics import score_clustering

PERSON_PROMPT = "person-v1"


@dataclass(frozen=True)
class AskedState:
    """Where the person's answers have taken the clustering: the loop, its labels, and how they differ from the run."""

    loop: PersonLoop
    labels: np.ndarray
    answered: int
    asked: int
    moved: int
    scores: dict[str, float]
    run_scores: dict[str, float]


class PersonQuestions:
    """The most informative questions about `curation`'s run for a person, their answers in `store`, and the quick
    retrain after each batch. `batch_size` questions are shown at a time."""

    def __init__(self, curation: Curation, store: JudgmentStore, *, batch_size: int = 5) -> None:
        self.curation = curation
        self.store = store
        self.batch_size = batch_size

    @property
    def run_id(self) -> str:
        return self.curation.run_dir.name

    def texts(self) -> list[str]:
        return self.curation.artifacts.data.texts()

    def answered(self) -> tuple[np.ndarray, np.ndarray]:
        """(triplets as rows, choices 1/2/0) of every question the person answered on this run, in order."""
        row_of: dict[str, int] = {}
        for row, text in enumerate(self.texts()):
            row_of.setdefault(text, row)
        triplets, choices = [], []
        for judgment in self.store.list(self.run_id, kind="triplet"):
            rows = [row_of.get(text) for text in judgment.texts]
            if judgment.model == PERSON_MODEL and None not in rows:
                triplets.append(rows)
                choices.append(int(judgment.person_answer or 0))
        return np.array(triplets, dtype=np.int64).reshape(-1, 3), np.array(choices, dtype=np.int64)

    def state(self) -> AskedState:
        """The loop rebuilt from the stored answers (retrained once when any is decided), and what it changed."""
        artifacts = self.curation.artifacts
        if artifacts.data.kind != "text":
            raise SettingsError("Answering questions fine-tunes a text embedder, and this run clusters a table.")
        current = self.curation.labels()
        k = len(np.unique(current[current >= 0]))
        loop = PersonLoop(n_clusters=k, clustering=artifacts.config.clustering, batch_size=self.batch_size).fit(
            artifacts.embeddings)
        triplets, choices = self.answered()
        if len(triplets):
            loop.add_answers(triplets, choices)
        if loop.n_answered:
            loop.retrain()
        truth = artifacts.truth
        labels = loop.labels_ if loop.n_answered else current  # before any answer, nothing has moved
        return AskedState(loop, labels, loop.n_answered, len(triplets), _moved(current, labels),
                          score_clustering(loop.space_, labels, truth), score_clustering(loop.space_, current, truth))

    def next_questions(self, state: AskedState) -> np.ndarray:
        """The next batch as (anchor, choice 1, choice 2) rows, never one asked before."""
        return state.loop.next_questions(self.batch_size)

    def answer(self, triplets: np.ndarray, choices: Sequence[int]) -> None:
        """Store the person's answers (1, 2, or 0 = cannot tell) to these questions."""
        texts = self.texts()
        triplets = np.asarray(triplets, dtype=np.int64).reshape(-1, 3)
        if len(choices) != len(triplets) or any(choice not in (0, 1, 2) for choice in choices):
            raise SettingsError("Give one answer per question: choice 1, choice 2, or cannot tell.")
        self.store.record_person_answers(self.run_id, PERSON_MODEL, PERSON_PROMPT, [
            (tuple(texts[row] for row in triplet), int(choice) or None) for triplet, choice in zip(triplets, choices)])


def _moved(before: np.ndarray, after: np.ndarray) -> int:
    """Rows whose cluster changed, with clusters matched by overlap (ids of two clusterings need not agree)."""
    from scipy.optimize import linear_sum_assignment

    a_ids, a = np.unique(before, return_inverse=True)
    b_ids, b = np.unique(after, return_inverse=True)
    overlap = np.zeros((len(a_ids), len(b_ids)), dtype=np.int64)
    np.add.at(overlap, (a, b), 1)
    rows, cols = linear_sum_assignment(-overlap)
    return int(len(before) - overlap[rows, cols].sum())

