"""The person as ClusterLLM's judge: informative questions, the quick retrain, the loop, the simulated person and the
bench-person JSON. Vectors are small seeded blobs: no model is loaded."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data.dataset import Dataset
from core.errors import SettingsError
from core.methods.clusterllm.person import (PersonLoop, adapt, answered_triplets, informative_triplets,
                                            train_adapter)
from core.methods.clusterllm.person_bench import SimulatedPerson, bench_person, format_bench_person
from core.settings import ClusteringSettings

pytest.importorskip("torch")


def blobs(n_per: int = 30, k: int = 4, d: int = 8, spread: float = 0.6, seed: int = 0):
    """k Gaussian blobs on the axes of a d-dimensional space, unit-normalised, with their labels."""
    rng = np.random.default_rng(seed)
    centres = np.eye(d)[:k] * 3
    X = np.concatenate([c + rng.normal(0, spread, (n_per, d)) for c in centres])
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32), np.repeat(np.arange(k), n_per)


def test_informative_questions_sit_on_boundaries_and_show_each_side():
    X = np.array([[0, 0], [0.2, 0], [0, 0.2], [10, 0], [10.2, 0], [10, 0.2], [4.9, 0], [5.1, 0.1], [0, -0.2],
                  [10, -0.2]], dtype=float)
    labels = np.array([0, 0, 0, 1, 1, 1, 0, 1, 0, 1])
    triplets, scores = informative_triplets(X, labels, 2, n_neighbors=2, per_pair=1, seed=0)
    assert len(triplets) == 1 and triplets[0, 0] in (6, 7)  # the boundary rows first, one question per pair
    anchor, first, second = triplets[0]
    assert {labels[first], labels[second]} == {0, 1} and anchor not in (first, second)  # one face of each side
    triplets, scores = informative_triplets(X, labels, 2, n_neighbors=2, per_pair=2, seed=0)
    assert len(triplets) == 2 and not {6, 7} <= set(triplets[:, 0])  # never two neighbouring anchors in a batch
    again, _ = informative_triplets(X, labels, 2, exclude={6, 7}, n_neighbors=2, per_pair=2, seed=0)
    assert not set(again[:, 0]) & {6, 7}
    assert (np.diff(scores) <= 0).all()


def test_answered_triplets_put_the_chosen_row_second():
    rows = answered_triplets(np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8]]), np.array([1, 0, 2]))
    np.testing.assert_array_equal(rows, [[0, 1, 2], [6, 8, 7]])


def test_the_adapter_pulls_answered_anchors_to_the_chosen_side():
    X, labels = blobs(seed=1)
    rows = np.array([[i, j, k] for i, j, k in zip(range(0, 30), range(30, 60), range(60, 90))])  # "0 is like 1"
    W = train_adapter(X, rows, epochs=40, lr=1e-2, seed=0)
    Y = adapt(X, W)
    before = (X[:30] @ X[30:60].T).mean() - (X[:30] @ X[60:90].T).mean()
    after = (Y[:30] @ Y[30:60].T).mean() - (Y[:30] @ Y[60:90].T).mean()
    assert after > before + 0.1
    np.testing.assert_array_equal(W, train_adapter(X, rows, epochs=40, lr=1e-2, seed=0))  # seeded
    assert not train_adapter(X, rows[:0]).any()  # nothing to learn: the identity map


def test_the_loop_asks_new_questions_and_retrains():
    X, labels = blobs(spread=1.0, seed=2)
    loop = PersonLoop(n_clusters=4, clustering=ClusteringSettings(reduce="none", n_init=2, seed=0),
                      batch_size=6, epochs=5).fit(X)
    person = SimulatedPerson(labels)
    for _ in range(2):
        asked = loop.next_questions()
        assert 0 < len(asked) <= 6
        loop.add_answers(asked, person.answer(asked)).retrain()
    anchors = loop.triplets_[:, 0]
    assert len(set(anchors.tolist())) == len(anchors)  # an anchor is never asked twice
    assert loop.rounds_ == 2 and loop.labels_.shape == (len(X),) and loop.embeddings_.shape == X.shape
    assert loop.n_answered == int((loop.answers_ > 0).sum())
    with pytest.raises(SettingsError):
        loop.add_answers(asked[:1], np.array([3]))
    with pytest.raises(SettingsError):
        PersonLoop(n_clusters=4, strategy="loudest").fit(X)


def test_the_simulated_person_answers_from_the_labels_and_skips_what_they_cannot_decide():
    truth = np.array([0, 0, 1, 1, 2])
    person = SimulatedPerson(truth)
    np.testing.assert_array_equal(person.answer(np.array([[0, 1, 2], [0, 2, 1], [0, 2, 4], [0, 1, 1]])), [1, 2, 0, 0])
    sloppy = SimulatedPerson(truth, error_rate=1.0)
    np.testing.assert_array_equal(sloppy.answer(np.array([[0, 1, 2], [0, 2, 4]])), [2, 0])


def test_bench_person_json_has_the_issue_keys():
    X, labels = blobs(n_per=20, spread=1.2, seed=3)
    data = Dataset(pd.DataFrame({"text": [f"row {i}" for i in range(len(X))], "label": labels}), "text",
                   {"text": "text", "label": "label"}, name="blobs")
    result = bench_person(data, X, answers=[5, 10], reduce="none", seeds=[100, 13], batch_size=4)
    assert {"dataset", "base", "answers", "seconds"} <= set(result)
    assert set(result["answers"]) == {"5", "10"}
    for row in result["answers"].values():
        assert set(row) == {"informative", "entropy", "random"}
        for metrics in row.values():
            assert set(metrics) >= {"acc", "nmi", "ari"} and len(metrics["acc"]) == 2
            assert 0 <= metrics["acc"][0] <= 100
    assert result["asked"]["10"]["informative"] >= 10
    assert "informative" in format_bench_person(result)
