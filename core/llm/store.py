"""Every question put to a judge and every answer, in the run catalogue's SQLite file (table `judgments`).

An identical question (same kind and texts) to the same model under the same prompt version is answered from here,
never paid for twice; except when the reply could not be read (`unparsed`): it is kept for review but never served,
so the question is asked again, and each row counts the `attempts` paid for it. A person's review is stored beside
the judge's answer and never overwrites it.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core import paths
from core.errors import ClusterLensError
from core.llm.judges import Answer, Choice, Judge, JudgeUnavailableError, Pair, Triplet
from core.progress import StopFn, check_stop, never_stop
from core.sqlite import connect

Kind = Literal["triplet", "pair", "name"]
"""Triplet and pair questions of the judges; "name" questions of the LLM namer (core.curation.llm_names)."""

PERSON_MODEL = "person"
"""The model of questions a person answered directly, with no judge before them (core.curation.ask)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS judgments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run TEXT NOT NULL,
    kind TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    model TEXT NOT NULL,
    question_hash TEXT NOT NULL,
    texts TEXT NOT NULL,
    raw TEXT NOT NULL,
    answer TEXT NOT NULL,
    tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    latency REAL NOT NULL DEFAULT 0,
    source TEXT NOT NULL,
    reused INTEGER NOT NULL DEFAULT 0,
    person_answer TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    unparsed INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    UNIQUE (run, kind, model, prompt_version, question_hash)
);
CREATE INDEX IF NOT EXISTS judgments_by_question ON judgments (question_hash, model, prompt_version);
CREATE INDEX IF NOT EXISTS judgments_by_run ON judgments (run, kind);
"""
_ADDED_COLUMNS = {"attempts": "INTEGER NOT NULL DEFAULT 1", "unparsed": "INTEGER NOT NULL DEFAULT 0"}
"""Columns a catalogue written before they existed is given when opened."""


def question_hash(kind: Kind, texts: Sequence[str]) -> str:
    """Content key of a question: its kind and its texts in order (choice order matters for triplets)."""
    return hashlib.sha256(json.dumps([kind, *texts], ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Judgment:
    """A stored question with the judge's answer and, once reviewed, the person's."""

    id: int
    run: str
    kind: str
    prompt_version: str
    model: str
    question_hash: str
    texts: tuple[str, ...]
    raw: str
    answer: Choice
    tokens: int
    cost: float
    latency: float
    source: str
    reused: bool
    reviewed: bool
    person_answer: Choice
    created: float
    updated: float

    @property
    def final(self) -> Choice:
        """The answer to train on: the person's when reviewed, else the judge's."""
        return self.person_answer if self.reviewed else self.answer

    @property
    def flipped(self) -> bool:
        return self.reviewed and self.person_answer != self.answer


class BudgetExhaustedError(ClusterLensError):
    """The query or cost cap was reached; every answer obtained so far is saved and will not be paid again."""


@dataclass(frozen=True)
class Budget:
    """Caps on what one run may pay its judge for, over all its attempts: queries and their cost in USD (None = no
    cap)."""

    max_queries: int | None = None
    max_cost: float | None = None


class JudgmentStore:
    """The `judgments` table. Opens a short connection per call, so it is safe across threads and processes."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.catalogue_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)
            columns = {row["name"] for row in db.execute("PRAGMA table_info(judgments)")}
            for column, definition in _ADDED_COLUMNS.items():
                if column not in columns:
                    db.execute(f"ALTER TABLE judgments ADD COLUMN {column} {definition}")
            if "unparsed" not in columns:  # undecided answers of LLM judges were unreadable replies
                db.execute("UPDATE judgments SET unparsed = 1 WHERE answer = 'null' AND source = 'judge' AND "
                           "model NOT LIKE 'embedding:%' AND model != 'oracle'")

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path)

    def record_many(self, run: str, kind: Kind, model: str, prompt_version: str,
                    items: Sequence[tuple[Sequence[str], Answer, bool]]) -> None:
        """Store (texts, answer, reused) rows for a run.

        A reused answer never replaces a row the run holds. A fresh (paid) answer to a question the run already holds
        (asked again because its reply could not be read) replaces its answer and adds its tokens, cost and one
        attempt.
        """
        now = time.time()
        rows = [(run, kind, prompt_version, model, question_hash(kind, texts), json.dumps(list(texts)), answer.raw,
                 json.dumps(answer.choice), answer.tokens, answer.cost, answer.latency, answer.source, int(reused),
                 int(answer.unparsed), now, now) for texts, answer, reused in items]
        insert = ("INSERT INTO judgments (run, kind, prompt_version, model, question_hash, texts, raw, answer, tokens, "
                  "cost, latency, source, reused, unparsed, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
        with closing(self._connect()) as db, db:
            db.executemany(insert.replace("INSERT", "INSERT OR IGNORE", 1), [row for row in rows if row[12]])
            db.executemany(
                insert + " ON CONFLICT (run, kind, model, prompt_version, question_hash) DO UPDATE SET "
                "raw = excluded.raw, answer = excluded.answer, latency = excluded.latency, source = excluded.source, "
                "unparsed = excluded.unparsed, "
                "tokens = excluded.tokens + CASE WHEN reused THEN 0 ELSE tokens END, "
                "cost = excluded.cost + CASE WHEN reused THEN 0 ELSE cost END, "
                "attempts = 1 + CASE WHEN reused THEN 0 ELSE attempts END, reused = 0, updated = excluded.updated",
                [row for row in rows if not row[12]])

    def record(self, run: str, kind: Kind, model: str, prompt_version: str, texts: Sequence[str],
               answer: Answer) -> None:
        """Store one freshly paid answer."""
        self.record_many(run, kind, model, prompt_version, [(texts, answer, False)])

    def record_person_answers(self, run: str, model: str, prompt_version: str,
                              items: Sequence[tuple[Sequence[str], Choice]]) -> None:
        """Store questions a person answered directly (no judge before them): each row is reviewed, with the
        person's answer as both answers, so a retrain reads it as a reviewed one. A question asked again keeps the
        latest answer."""
        now = time.time()
        rows = [(run, "triplet", prompt_version, model, question_hash("triplet", texts), json.dumps(list(texts)),
                 "person answer", json.dumps(choice), "person", json.dumps(choice), now, now)
                for texts, choice in items]
        with closing(self._connect()) as db, db:
            db.executemany(
                "INSERT INTO judgments (run, kind, prompt_version, model, question_hash, texts, raw, answer, source, "
                "person_answer, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (run, kind, model, prompt_version, question_hash) DO UPDATE SET "
                "answer = excluded.answer, person_answer = excluded.person_answer, updated = excluded.updated", rows)

    def cached_answer(self, model: str, prompt_version: str, question_hash: str) -> Answer | None:
        """The answer this model already gave to this question under this prompt version (from any run), or None;
        a reply that could not be read is no answer to reuse."""
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT raw, answer, tokens, cost, latency, source FROM judgments WHERE model = ? AND "
                "prompt_version = ? AND question_hash = ? AND unparsed = 0 ORDER BY reused, id LIMIT 1",
                (model, prompt_version, question_hash)).fetchone()
        if row is None:
            return None
        return Answer(json.loads(row["answer"]), row["raw"], row["tokens"], row["cost"], row["latency"],
                      row["source"])

    def person_answer(self, question_hash: str) -> tuple[bool, Choice]:
        """(reviewed, answer) of the most recent review of this question by a person, in any run."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT person_answer FROM judgments WHERE question_hash = ? AND person_answer IS NOT "
                             "NULL ORDER BY updated DESC LIMIT 1", (question_hash,)).fetchone()
        return (False, None) if row is None else (True, json.loads(row["person_answer"]))

    def set_person_answer(self, judgment_id: int, choice: Choice) -> None:
        """Record a person's answer beside the judge's (None = the person finds it undecidable)."""
        self._update_person(judgment_id, json.dumps(choice))

    def clear_person_answer(self, judgment_id: int) -> None:
        """Forget a person's review (the row reads as unreviewed again)."""
        self._update_person(judgment_id, None)

    def _update_person(self, judgment_id: int, value: str | None) -> None:
        with closing(self._connect()) as db, db:
            changed = db.execute("UPDATE judgments SET person_answer = ?, updated = ? WHERE id = ?",
                                 (value, time.time(), judgment_id)).rowcount
        if not changed:
            raise ClusterLensError(f"No stored judgment with id {judgment_id}; reload the review queue.")

    def get(self, judgment_id: int) -> Judgment:
        with closing(self._connect()) as db:
            row = db.execute("SELECT * FROM judgments WHERE id = ?", (judgment_id,)).fetchone()
        if row is None:
            raise ClusterLensError(f"No stored judgment with id {judgment_id}; reload the review queue.")
        return _judgment(row)

    def list(self, run: str | None = None, *, kind: Kind | None = None, unreviewed: bool = False,
             flipped: bool = False, limit: int | None = None) -> list[Judgment]:
        """Stored judgments in question order, filtered by run, kind, not yet reviewed, or flipped by a person."""
        clauses, params = [], []
        for column, value in (("run", run), ("kind", kind)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if unreviewed:
            clauses.append("person_answer IS NULL")
        if flipped:
            clauses.append("person_answer IS NOT NULL AND person_answer != answer")
        query = "SELECT * FROM judgments" + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY id"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with closing(self._connect()) as db:
            return [_judgment(row) for row in db.execute(query, params)]

    def agreement(self, run: str | None = None, kind: Kind | None = None) -> tuple[float | None, int]:
        """(share of reviewed questions where the person agreed with the judge, number reviewed); rate None if none."""
        reviewed = [j for j in self.list(run, kind=kind) if j.reviewed]
        if not reviewed:
            return None, 0
        return sum(not j.flipped for j in reviewed) / len(reviewed), len(reviewed)

    def spent(self, run: str) -> dict[str, float]:
        """Queries paid for by a run over all its attempts (answers reused from the store excluded), tokens and cost."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT COALESCE(SUM(attempts), 0), COALESCE(SUM(tokens), 0), COALESCE(SUM(cost), 0) "
                             "FROM judgments "
                             "WHERE run = ? AND reused = 0 AND source = 'judge'", (run,)).fetchone()
        return {"queries": row[0], "tokens": row[1], "cost": row[2]}


def _judgment(row: sqlite3.Row) -> Judgment:
    reviewed = row["person_answer"] is not None
    return Judgment(row["id"], row["run"], row["kind"], row["prompt_version"], row["model"], row["question_hash"],
                    tuple(json.loads(row["texts"])), row["raw"], json.loads(row["answer"]), row["tokens"],
                    row["cost"], row["latency"], row["source"], bool(row["reused"]), reviewed,
                    json.loads(row["person_answer"]) if reviewed else None, row["created"], row["updated"])


class PaidQuestions:
    """Asks a model's questions through the store, for one run: answers from the store when it can, asks in chunks of
    `chunk_size` otherwise, records every answer under `run`, and stops with BudgetExhaustedError when what the run has
    paid for (over all its attempts, judge and namer alike) reaches the budget, or with RunCancelled when
    `should_stop()` turns true between chunks. Whatever stops it, every answer obtained so far is saved first.

    With `prefer_person`, a question a person has reviewed (in any run) is answered with the person's answer. Learned
    counters: `queries_`, `cost_` (paid through this object).
    """

    def __init__(self, store: JudgmentStore, run: str, *, budget: Budget | None = None, prefer_person: bool = False,
                 chunk_size: int = 16, should_stop: StopFn = never_stop) -> None:
        self.store = store
        self.run = run
        self.budget = budget or Budget()
        self.prefer_person = prefer_person
        self.chunk_size = chunk_size
        self.should_stop = should_stop
        self.queries_ = 0
        self.cost_ = 0.0

    def answer(self, kind: Kind, model: str, version: str, questions: Sequence[Sequence[str]],
               ask: Callable[[list[Sequence[str]]], list[Answer]]) -> list[Answer]:
        """Answers to `questions` (each a tuple of texts) by `model` under prompt `version`; `ask` pays for a chunk."""
        questions = list(questions)
        answers: list[Answer | None] = [None] * len(questions)
        known: list[tuple[Sequence[str], Answer, bool]] = []
        pending: dict[str, list[int]] = {}
        for index, texts in enumerate(questions):
            key = question_hash(kind, texts)
            reviewed, person = self.store.person_answer(key) if self.prefer_person else (False, None)
            cached = None if reviewed or key in pending else self.store.cached_answer(model, version, key)
            if reviewed:
                answers[index] = Answer(person, "person answer", source="person")
            elif cached is not None:
                answers[index] = Answer(cached.choice, cached.raw, source=cached.source)
            else:
                pending.setdefault(key, []).append(index)
                continue
            known.append((texts, answers[index], True))
        self.store.record_many(self.run, kind, model, version, known)
        todo = list(pending.values())
        while todo:
            check_stop(self.should_stop, f"The work was cancelled while asking {model}; {self.queries_} answers "
                                         "paid so far are saved and will not be paid again.")
            spent = self.store.spent(self.run)
            allowed = self._allowed(spent)
            if allowed == 0:
                raise BudgetExhaustedError(
                    f"The LLM budget ({self._describe_budget()}) is spent: this run has paid for {spent['queries']} "
                    f"questions (${spent['cost']:.4f}), {sum(map(len, todo))} are left unasked. Every answer so far "
                    "is saved and will not be paid again; raise the budget and run again to continue.")
            chunk, todo = todo[:min(allowed, self.chunk_size)], todo[min(allowed, self.chunk_size):]
            try:
                fresh = ask([questions[indices[0]] for indices in chunk])
            except JudgeUnavailableError as error:  # keep what was paid for before the provider gave up
                self.store.record_many(self.run, kind, model, version, [
                    (questions[indices[0]], answer, False) for indices, answer in zip(chunk, error.answered) if answer])
                raise
            self.store.record_many(self.run, kind, model, version,
                                   [(questions[indices[0]], answer, False) for indices, answer in zip(chunk, fresh)])
            for indices, answer in zip(chunk, fresh):
                self.queries_ += 1
                self.cost_ += answer.cost
                for index in indices:
                    answers[index] = answer
        return answers  # type: ignore[return-value]

    def _allowed(self, spent: dict[str, float]) -> int:
        """How many more questions the run may pay for, given what it has `spent` (chunk_size when uncapped)."""
        if self.budget.max_cost is not None and spent["cost"] >= self.budget.max_cost:
            return 0
        if self.budget.max_queries is None:
            return self.chunk_size
        return max(self.budget.max_queries - int(spent["queries"]), 0)

    def _describe_budget(self) -> str:
        parts = []
        if self.budget.max_queries is not None:
            parts.append(f"max {self.budget.max_queries} queries")
        if self.budget.max_cost is not None:
            parts.append(f"max ${self.budget.max_cost:g}")
        return ", ".join(parts)


class CachingJudge:
    """Wraps a judge so that its questions go through `PaidQuestions`: stored answers reused, every answer recorded
    under `run`, the budget and `should_stop` checked between chunks, paid answers kept whatever stops it.

    With `prefer_person`, a question a person has reviewed (in any run) is answered with the person's answer: this is
    how a retrain uses the reviewed answers. Learned counters: `queries_`, `cost_` (paid by this wrapper).
    """

    def __init__(self, judge: Judge, store: JudgmentStore, run: str, *, budget: Budget | None = None,
                 prefer_person: bool = False, chunk_size: int = 16, should_stop: StopFn = never_stop) -> None:
        self.judge = judge
        self.store = store
        self.run = run
        self.questions = PaidQuestions(store, run, budget=budget, prefer_person=prefer_person, chunk_size=chunk_size,
                                       should_stop=should_stop)

    @property
    def name(self) -> str:
        return self.judge.name

    @property
    def prompt_version(self) -> str:
        return self.judge.prompt_version

    @property
    def queries_(self) -> int:
        return self.questions.queries_

    @property
    def cost_(self) -> float:
        return self.questions.cost_

    def answer_triplet(self, anchor: str, a: str, b: str) -> Answer:
        return self.answer_triplets([(anchor, a, b)])[0]

    def answer_pair(self, x: str, y: str) -> Answer:
        return self.answer_pairs([(x, y)])[0]

    def answer_triplets(self, triplets: Sequence[Triplet]) -> list[Answer]:
        return self.questions.answer("triplet", self.judge.name, self.judge.prompt_version, triplets,
                                     self.judge.answer_triplets)

    def answer_pairs(self, pairs: Sequence[Pair]) -> list[Answer]:
        return self.questions.answer("pair", self.judge.name, self.judge.prompt_version, pairs,
                                     self.judge.answer_pairs)
