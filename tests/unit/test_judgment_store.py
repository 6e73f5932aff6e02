"""The judgment store: every answer recorded, nothing paid twice, person reviews beside the judge's answers, budgets."""
from __future__ import annotations

import pytest

from core.llm import (Answer, Budget, BudgetExhaustedError, CachingJudge, JudgmentStore, question_hash)
from core.llm.judges import OneByOneJudge
from core.runs.store import RunStore


class CountingJudge(OneByOneJudge):
    """A fake paid judge: choice 1 when the first choice shares the anchor's first word; each answer costs $0.01."""

    name = "fake-llm"
    prompt_version = "v1"

    def __init__(self):
        self.asked: list[tuple] = []

    def answer_triplet(self, anchor, a, b):
        self.asked.append((anchor, a, b))
        choice = 1 if a.split()[0] == anchor.split()[0] else 2
        return Answer(choice, f"Choice {choice}", tokens=50, cost=0.01, latency=0.2)

    def answer_pair(self, x, y):
        self.asked.append((x, y))
        same = x.split()[0] == y.split()[0]
        return Answer(same, "Yes" if same else "No", tokens=30, cost=0.01, latency=0.1)


TRIPLETS = [("card late", "card lost", "refund now"), ("refund please", "card gone", "refund late"),
            ("pin reset", "pin blocked", "card fee")]


@pytest.fixture
def store(tmp_path):
    return JudgmentStore(tmp_path / "catalogue.sqlite")


def test_store_shares_the_run_catalogue_file(tmp_path):
    path = tmp_path / "clusterlens.sqlite"
    RunStore(path, tmp_path / "runs")
    JudgmentStore(path).record("r1", "pair", "m", "v", ["a", "b"], Answer(True, "Yes"))
    assert RunStore(path, tmp_path / "runs").list() == []
    assert len(JudgmentStore(path).list("r1")) == 1


def test_every_answer_is_recorded_with_its_details(store):
    judge = CachingJudge(CountingJudge(), store, "run-1")
    answers = judge.answer_triplets(TRIPLETS)
    assert [a.choice for a in answers] == [1, 2, 1]
    rows = store.list("run-1")
    assert [r.texts for r in rows] == TRIPLETS
    first = rows[0]
    assert (first.kind, first.model, first.prompt_version, first.raw, first.answer) == ("triplet", "fake-llm", "v1",
                                                                                        "Choice 1", 1)
    assert (first.tokens, first.cost, first.latency, first.source, first.reused) == (50, 0.01, 0.2, "judge", False)
    assert first.question_hash == question_hash("triplet", TRIPLETS[0]) and first.created > 0
    assert store.spent("run-1") == {"queries": 3, "tokens": 150, "cost": pytest.approx(0.03)}


def test_an_identical_question_is_never_paid_twice(store):
    inner = CountingJudge()
    CachingJudge(inner, store, "run-1").answer_triplets(TRIPLETS)
    again = CachingJudge(inner, store, "run-2")
    answers = again.answer_triplets([TRIPLETS[1], ("new one", "new two", "old three")]) + \
        again.answer_triplets([TRIPLETS[1]])
    assert [a.choice for a in answers] == [2, 1, 2]
    assert len(inner.asked) == 4 and again.queries_ == 1
    assert store.spent("run-2")["queries"] == 1
    assert [r.reused for r in store.list("run-2")] == [True, False]  # the second run still lists what it used
    # the same texts in swapped choice order, a different model or prompt version are different questions
    assert store.cached_answer("fake-llm", "v1", question_hash("triplet", TRIPLETS[1])).choice == 2
    assert store.cached_answer("other-model", "v1", question_hash("triplet", TRIPLETS[1])) is None
    assert store.cached_answer("fake-llm", "v2", question_hash("triplet", TRIPLETS[1])) is None
    swapped = (TRIPLETS[1][0], TRIPLETS[1][2], TRIPLETS[1][1])
    assert store.cached_answer("fake-llm", "v1", question_hash("triplet", swapped)) is None


def test_duplicates_inside_one_batch_are_asked_once(store):
    inner = CountingJudge()
    answers = CachingJudge(inner, store, "run-1").answer_pairs([("card a", "card b"), ("card a", "card b")])
    assert [a.choice for a in answers] == [True, True] and len(inner.asked) == 1


def test_person_overrides_sit_beside_the_judge_answer(store):
    CachingJudge(CountingJudge(), store, "run-1").answer_triplets(TRIPLETS)
    rows = store.list("run-1")
    store.set_person_answer(rows[0].id, 2)   # flip
    store.set_person_answer(rows[1].id, 2)   # accept
    reviewed = store.get(rows[0].id)
    assert (reviewed.answer, reviewed.person_answer, reviewed.final, reviewed.flipped) == (1, 2, 2, True)
    assert [r.id for r in store.list("run-1", unreviewed=True)] == [rows[2].id]
    assert [r.id for r in store.list("run-1", flipped=True)] == [rows[0].id]
    assert store.agreement("run-1") == (0.5, 2)
    assert store.agreement("run-2") == (None, 0)
    store.clear_person_answer(rows[0].id)
    assert not store.get(rows[0].id).reviewed and store.get(rows[0].id).answer == 1


def test_a_retrain_prefers_the_person_answers(store):
    inner = CountingJudge()
    CachingJudge(inner, store, "run-1").answer_triplets(TRIPLETS)
    store.set_person_answer(store.list("run-1")[0].id, 2)
    retrain = CachingJudge(inner, store, "run-2", prefer_person=True)
    answers = retrain.answer_triplets(TRIPLETS)
    assert [(a.choice, a.source) for a in answers] == [(2, "person"), (2, "judge"), (1, "judge")]
    assert len(inner.asked) == 3  # nothing asked again
    plain = CachingJudge(inner, store, "run-3").answer_triplets(TRIPLETS[:1])
    assert plain[0].choice == 1  # without prefer_person the judge's own answer is reused


def test_budget_stops_cleanly_and_keeps_what_was_answered(store):
    inner = CountingJudge()
    capped = CachingJudge(inner, store, "run-1", budget=Budget(max_queries=2), chunk_size=1)
    with pytest.raises(BudgetExhaustedError, match="paid for 2 questions .*, 1 are left unasked"):
        capped.answer_triplets(TRIPLETS)
    assert len(store.list("run-1")) == 2
    rerun = CachingJudge(inner, store, "run-1", budget=Budget(max_queries=2))
    with pytest.raises(BudgetExhaustedError):  # the budget is the run's, over all its attempts
        rerun.answer_triplets(TRIPLETS)
    assert len(inner.asked) == 2
    resumed = CachingJudge(inner, store, "run-1", budget=Budget(max_queries=3))
    assert [a.choice for a in resumed.answer_triplets(TRIPLETS)] == [1, 2, 1]
    assert resumed.queries_ == 1 and len(inner.asked) == 3


def test_cost_budget(store):
    capped = CachingJudge(CountingJudge(), store, "run-1", budget=Budget(max_cost=0.015), chunk_size=1)
    with pytest.raises(BudgetExhaustedError, match=r"\$0.015"):
        capped.answer_pairs([("a x", "a y"), ("b x", "c y"), ("d x", "d y")])
    assert capped.queries_ == 2 and len(store.list("run-1")) == 2


def test_oracle_answers_under_one_label_column_are_not_reused_under_another(store):
    """The same texts labelled by intent and by domain are different oracles: the store must keep them apart."""
    from core.llm import OracleJudge

    texts = ["lost card", "card stolen", "card arrived late"]
    intents, domains = ["lost", "stolen", "delivery"], ["cards", "cards", "cards"]
    by_intent = CachingJudge(OracleJudge(texts, intents), store, "intent-run").answer_pairs([(texts[0], texts[1])])
    by_domain = CachingJudge(OracleJudge(texts, domains), store, "domain-run").answer_pairs([(texts[0], texts[1])])
    assert by_intent[0].choice is False and by_domain[0].choice is True
    assert store.spent("domain-run")["queries"] == 1  # asked, not read back from the intent run
    relabelled = OracleJudge(texts, domains)
    assert relabelled.prompt_version == OracleJudge(list(texts), list(domains)).prompt_version
    assert relabelled.prompt_version != OracleJudge(texts, intents).prompt_version


def test_a_catalogue_from_before_counts_attempts_and_stops_serving_unreadable_llm_replies(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript("""CREATE TABLE judgments (id INTEGER PRIMARY KEY AUTOINCREMENT, run TEXT NOT NULL,
            kind TEXT NOT NULL, prompt_version TEXT NOT NULL, model TEXT NOT NULL, question_hash TEXT NOT NULL,
            texts TEXT NOT NULL, raw TEXT NOT NULL, answer TEXT NOT NULL, tokens INTEGER NOT NULL DEFAULT 0,
            cost REAL NOT NULL DEFAULT 0, latency REAL NOT NULL DEFAULT 0, source TEXT NOT NULL,
            reused INTEGER NOT NULL DEFAULT 0, person_answer TEXT, created REAL NOT NULL, updated REAL NOT NULL,
            UNIQUE (run, kind, model, prompt_version, question_hash));""")
        for model, raw in (("gpt-4o-mini", "Maybe?"), ("oracle", "undecidable")):
            db.execute("INSERT INTO judgments (run, kind, prompt_version, model, question_hash, texts, raw, answer, "
                       "source, created, updated) VALUES ('r', 'pair', 'v', ?, 'h', '[]', ?, 'null', 'judge', 0, 0)",
                       (model, raw))
    store = JudgmentStore(path)
    assert store.cached_answer("gpt-4o-mini", "v", "h") is None  # asked again
    assert store.cached_answer("oracle", "v", "h").raw == "undecidable"  # the oracle's own verdict stands
    assert store.spent("r")["queries"] == 2
