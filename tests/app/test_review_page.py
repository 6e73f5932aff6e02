"""Review page on a finished ClusterLLM run: the queue, answers saved at once (and kept over a reload), filters,
agreement, and a retrain on the reviewed answers."""

import numpy as np
import pandas as pd
import pytest

from core.embed.registry import resolve_embedder
from core.llm import JudgmentStore
from core.llm.review import embedding_verdicts, review_queue
from core.runs import create_run, execute_run
from core.runs.artifacts import load_artifacts
from core.settings import ClusteringSettings, RunConfig
from pages.common import run_store
from tests.app.waiting import wait_for_runs

FAST_CLUSTERLLM = {"embedder": "minilm", "judge": "oracle", "sampling": "random", "n_triplets": 30, "epochs": 1,
                   "iterations": 1, "k_max": 10}


def finished_clusterllm_run(owner: str, texts: list[str], labels: list[str], embedder):
    """A finished ClusterLLM run (oracle judge, 30 random triplets, one epoch, no UMAP), made through the library.

    The bag-of-words fake embedder cannot be fine-tuned, so this uses MiniLM: about 2 s on 60 texts once loaded.
    Random sampling is used because entropy sampling on three well-separated topics picks triplets whose
    choices share a topic, which the oracle leaves undecided.
    """
    frame = pd.DataFrame({"text": texts, "topic": labels})
    config = RunConfig(method="clusterllm", dataset="topics", kind="text", roles={"text": "text", "topic": "label"},
                       method_settings=dict(FAST_CLUSTERLLM), clustering=ClusteringSettings(reduce="none"))
    record = create_run(run_store(), config, frame, owner=owner)
    summary = execute_run(config, record.path, embedders=lambda name: embedder)
    run_store().update(record.id, status="done", summary=summary)
    return run_store().get(record.id)


@pytest.fixture(scope="module")
def minilm():
    return resolve_embedder("minilm")


@pytest.fixture
def finished_run(workspace, topic_texts, minilm):
    return finished_clusterllm_run(workspace, *topic_texts, minilm)


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def shown_question(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Question "))


def test_review_without_clusterllm_runs(app):
    at = app("pages/review.py")
    assert any("No finished ClusterLLM run" in info.value for info in at.info)


def test_queue_shows_the_triplets_and_an_undecided_one_gets_the_persons_choice(app, finished_run):
    at = app("pages/review.py")
    store = JudgmentStore()
    triplets = store.list(finished_run.id, kind="triplet")
    assert metric(at, "Questions") == "30" and metric(at, "Reviewed") == "0"
    first = triplets[0]
    assert shown_question(at).startswith(f"Question 1 of 30 · #{first.id}")
    assert [t.value for t in at.text][:3] == list(first.texts)  # anchor, choice 1, choice 2
    assert first.answer is None  # the oracle cannot decide this one: the person picks
    assert any("nothing to accept or flip (keys A and F do nothing here)" in caption.value for caption in at.caption)
    at.button(key="review-first").click().run()
    assert not at.exception
    assert store.get(first.id).person_answer == 1
    assert shown_question(at).startswith(f"Question 1 of 29 · #{triplets[1].id}")  # the queue moved on
    at.button(key="review-skip").click().run()
    assert shown_question(at).startswith(f"Question 2 of 29 · #{triplets[2].id}")


def test_a_flip_is_saved_at_once_and_survives_a_reload(app, finished_run):
    at = app("pages/review.py")
    at.radio(key="review-kind").set_value("pair").run()
    store = JudgmentStore()
    pair = store.list(finished_run.id, kind="pair")[0]
    assert pair.answer is not None and shown_question(at).startswith(f"Question 1 of {metric(at, 'Questions')} · "
                                                                     f"#{pair.id}")
    at.button(key="review-flip").click().run()
    assert store.get(pair.id).person_answer == (not pair.answer)

    fresh = app("pages/review.py")  # a new session on the same workspace: what a reload gives
    fresh.radio(key="review-kind").set_value("pair").run()
    fresh.radio(key="review-show").set_value("flipped").run()
    assert metric(fresh, "Flipped") == "1" and metric(fresh, "Judge agrees with you") == "0%"
    assert shown_question(fresh).startswith(f"Question 1 of 1 · #{pair.id}")
    assert "you answered" in shown_question(fresh)
    fresh.button(key="review-clear").click().run()  # undo: unreviewed again
    assert not store.get(pair.id).reviewed
    assert any("No pair question" in s.value for s in fresh.success)


def test_filters_and_agreement(app, finished_run):
    at = app("pages/review.py")
    at.radio(key="review-kind").set_value("pair").run()
    store = JudgmentStore()
    pairs = store.list(finished_run.id, kind="pair")
    at.button(key="review-accept").click().run()
    at.button(key="review-accept").click().run()
    at.button(key="review-flip").click().run()
    assert [store.get(p.id).person_answer for p in pairs[:3]] == [pairs[0].answer, pairs[1].answer,
                                                                  not pairs[2].answer]
    assert metric(at, "Reviewed") == "3" and metric(at, "Judge agrees with you") == "67%"
    assert shown_question(at).startswith(f"Question 1 of {len(pairs) - 3} · #{pairs[3].id}")  # unreviewed only

    at.radio(key="review-show").set_value("flipped").run()
    assert shown_question(at).startswith(f"Question 1 of 1 · #{pairs[2].id}")

    at.radio(key="review-show").set_value("all").run()  # the cursor stays where the review got to
    assert shown_question(at).startswith(f"Question 4 of {len(pairs)} · #{pairs[3].id}")


def test_disagreement_filter_lists_where_the_embedding_answers_otherwise(app, finished_run):
    # Fine-tuning on a perfect oracle leaves no disagreement; scrambling the rows makes the embedding disagree.
    directory = finished_run.directory
    order = np.random.default_rng(0).permutation(60)
    for name in ("embeddings.npy", "labels.npy"):
        directory.save_array(name, directory.load_array(name)[order])
    store = JudgmentStore()
    run = load_artifacts(finished_run.path)
    triplets = store.list(finished_run.id, kind="triplet")
    disagreements = review_queue(store, finished_run.id, "triplet", "disagreements",
                                 embedding_verdicts(triplets, run.data.texts(), run.embeddings, run.labels))
    assert 0 < len(disagreements) < sum(t.answer is not None for t in triplets)

    at = app("pages/review.py")
    at.radio(key="review-show").set_value("disagreements").run()
    assert shown_question(at).startswith(f"Question 1 of {len(disagreements)} · #{disagreements[0].id}")
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert any("judge" in b for b in badges) and any("embedding" in b for b in badges)
    assert not any("judge" in b and "embedding" in b for b in badges)  # never on the same choice


def test_retrain_starts_a_child_run_that_uses_the_reviewed_answers(app, finished_run, workspace):
    at = app("pages/review.py")
    assert at.button(key="retrain").disabled  # nothing reviewed yet
    store = JudgmentStore()
    decided = next(t for t in store.list(finished_run.id, kind="triplet") if t.answer is not None)
    at.radio(key="review-show").set_value("all").run()
    while not shown_question(at).endswith(f"#{decided.id} · judge **oracle** answered choice {decided.answer}"):
        at.button(key="review-skip").click().run()
    at.button(key="review-flip").click().run()
    at.button(key="retrain").click().run()
    assert not at.exception and not at.error

    children = [r for r in run_store().list(owner=workspace) if r.parent == finished_run.id]
    assert len(children) == 1
    child = children[0]
    config = RunConfig.from_dict(child.directory.read_json("config.json"))
    assert config.method_settings == {**FAST_CLUSTERLLM, "reviewed_answers": True}
    assert config.clustering == ClusteringSettings(reduce="none")
    wait_for_runs(workspace, timeout=180.0)  # the retrain is the workspace's only unfinished run
    assert run_store().get(child.id).status == "done", run_store().get(child.id).message
    used = {j.texts: j for j in store.list(child.id, kind="triplet")}[decided.texts]
    assert used.source == "person" and used.answer == 3 - decided.answer
    at.run()
    retrained = at.dataframe[0].value
    assert retrained["run"].tolist() == [child.id] and retrained["status"].tolist() == ["done"]


def test_a_person_answers_the_most_useful_questions_and_retrains_from_them(app, workspace, topic_texts, minilm):
    """Any text run (here the baseline): a batch of questions, answers saved and kept over a reload, the clusters
    updated from them, and a full retrain started from the answers alone."""
    texts, labels = topic_texts
    frame = pd.DataFrame({"text": texts, "topic": labels})
    config = RunConfig(method="baseline", dataset="topics", kind="text", roles={"text": "text", "topic": "label"},
                       method_settings={"embedder": "minilm"}, clustering=ClusteringSettings(n_clusters=3,
                                                                                             reduce="none"))
    record = create_run(run_store(), config, frame, owner=workspace)
    run_store().update(record.id, status="done", summary=execute_run(config, record.path,
                                                                      embedders=lambda name: minilm))
    at = app("pages/review.py")
    at.segmented_control(key="review-mode").set_value("person").run()
    assert not at.exception and metric(at, "Your answers") == "0"
    topic_of = dict(zip(texts, labels))
    cards = [c for c in at.text]  # anchor, choice 1, choice 2 per question
    questions = [tuple(card.value for card in cards[i:i + 3]) for i in range(0, len(cards), 3)]
    assert len(questions) == 5
    for index, (anchor, first, second) in enumerate(questions):
        same = [topic_of[first] == topic_of[anchor], topic_of[second] == topic_of[anchor]]
        at.radio(key=f"ask-{record.id}-0-{index}").set_value(1 if same == [True, False] else
                                                           2 if same == [False, True] else 0)
    at.button(key="ask-save").click().run()
    decided = sum(1 for q in questions if (topic_of[q[1]] == topic_of[q[0]]) != (topic_of[q[2]] == topic_of[q[0]]))
    assert not at.exception and metric(at, "Your answers") == str(decided) and decided > 0
    stored = [j for j in JudgmentStore().list(record.id, kind="triplet") if j.model == "person"]
    assert len(stored) == 5 and all(j.reviewed for j in stored)
    assert review_queue(JudgmentStore(), record.id, "triplet", "all") == []  # not in the judge's queue

    reloaded = app("pages/review.py")
    reloaded.segmented_control(key="review-mode").set_value("person").run()
    assert metric(reloaded, "Your answers") == str(decided)
    assert [c.value for c in reloaded.text][:3] != list(questions[0])  # the next batch, not the answered one
    reloaded.button(key="ask-retrain").click().run()
    child = [run for run in wait_for_runs(workspace) if run.parent == record.id]
    assert len(child) == 1 and child[0].status == "done", child
