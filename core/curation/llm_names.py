"""Cluster names from an LLM: one question per cluster (its distinguishing terms and most central rows), then one
question per group of clusters whose names came out alike, asking for names that tell them apart.

The model is any litellm model (hosted, or a local OpenAI-compatible server the operator allows), reached through
`LiteLLMJudge.ask` with its retries and error summaries. Questions go through the judges' answer store
(`PaidQuestions`, kind "name"): an identical question is never paid twice, the run's budget covers its judge and its
namer together, and whatever stops the naming keeps every answer already paid for. A reply that cannot be read falls
back to the offline name. Which namer a run uses is the person's choice, kept per run in `curation_namers`.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from core import paths
from core.data.encode import rows_to_texts
from core.errors import SettingsError
from core.llm.estimate import CHARS_PER_TOKEN, QueryEstimate, model_prices
from core.llm.judges import Answer, answer_concurrently
from core.llm.store import PaidQuestions
from core.curation.names import (MAX_NAME_WORDS, ClusterName, Namer, NamingRequest, central_rows, near_duplicates,
                                 shorten)
from core.sqlite import connect

OFFLINE_NAMER = "keywords"
"""The namer spec of the offline namers (keywords for texts, profiles for tables)."""
NAMER_SPECS = (OFFLINE_NAMER, "litellm:<model>")

NAME_PROMPT = (
    "Below are {item_type}s from one cluster of a larger collection, with the words that set this cluster apart "
    "from the others.\n\nDistinguishing words: {terms}\n\nTypical {item_type}s:\n{examples}\n\n"
    "Give the cluster a short name of 2 to 5 words that says what its {item_type}s have in common, and a "
    "one-sentence description.\nAnswer in exactly two lines:\nName: <name>\nDescription: <description>"
)
DISTINCT_PROMPT = (
    "These clusters of {item_type}s got similar names:\n\n{clusters}\n\nGive each cluster a different name of 2 to 5 "
    "words that says what sets it apart from the others, and a one-sentence description.\nAnswer with one line per "
    "cluster, in the order above:\n1. Name: <name> | Description: <description>"
)
PROMPT_VERSION = hashlib.sha256((NAME_PROMPT + "\x1f" + DISTINCT_PROMPT).encode("utf-8")).hexdigest()[:12]
ANSWER_TOKENS = 40
TERM_CHARS = 12
MAX_GROUP = 8
"""Most clusters put in one question of the distinct pass."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS curation_namers (
    run TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    settings TEXT NOT NULL,
    updated REAL NOT NULL
);
"""
_EDGE = " \t\r\n'\"`*_#>-"
_LINE = re.compile(r"^\s*(\d+)\s*[.):]\s*(.+)$")


class TextModel(Protocol):
    """A model that answers a prompt with text: `ask` returns (raw text, tokens, cost in USD, seconds)."""

    name: str
    concurrency: int

    def ask(self, prompt: str) -> tuple[str, int, float, float]: ...


def _clean(text: str) -> str:
    return " ".join(text.replace("**", "").split()).strip(_EDGE)


def _short_name(text: str) -> str | None:
    """A name of at most five words, capitalised; None when nothing usable is left."""
    if re.search(r"[<>\[\]{}]", text):  # the template's placeholder echoed back ("<name>", "[name]")
        return None
    words = _clean(text).rstrip(".").split()[:MAX_NAME_WORDS]
    name = " ".join(words).strip(_EDGE + ".,;:")
    if len(re.findall(r"[^\W\d_]", name)) < 2 or len(name) > 60 or name.lower() == "name":
        return None
    return name[:1].upper() + name[1:]


def parse_name(raw: str | None) -> tuple[str, str] | None:
    """(name, description) from "Name: ...\\nDescription: ..." (markdown, quotes and case tolerated); None when the
    reply holds no name line."""
    name = description = None
    for line in (raw or "").splitlines():
        label, _, value = _clean(line).partition(":")
        label = label.strip(_EDGE).lower()
        if label in ("name", "cluster name") and name is None:
            name = _short_name(value)
        elif label == "description" and description is None:
            description = _clean(value)
    return (name, description or "") if name else None


def parse_names(raw: str | None, count: int) -> list[tuple[str, str]] | None:
    """`count` (name, description) pairs from numbered lines "1. Name: ... | Description: ..."; None unless every
    number 1..count has a usable name."""
    found: dict[int, tuple[str, str]] = {}
    for line in (raw or "").splitlines():
        match = _LINE.match(_clean(line))
        if not match:
            continue
        name_part, _, description = match.group(2).partition("|")
        label, colon, value = name_part.partition(":")
        name = _short_name(value if colon and label.strip(_EDGE).lower() in ("name", "cluster name") else name_part)
        _, _, description = description.partition(":") if ":" in description else ("", "", description)
        if name and int(match.group(1)) not in found:
            found[int(match.group(1))] = (name, _clean(description))
    if any(number not in found for number in range(1, count + 1)):
        return None
    return [found[number] for number in range(1, count + 1)]


def similar_groups(names: Mapping[int, str]) -> list[list[int]]:
    """Clusters whose names read alike (equal, or one's words inside the other's), grouped transitively; groups of
    two or more, at most MAX_GROUP each."""
    parent = {cluster: cluster for cluster in names}

    def root(cluster: int) -> int:
        while parent[cluster] != cluster:
            cluster = parent[cluster]
        return cluster

    clusters = list(names)
    for i, a in enumerate(clusters):
        for b in clusters[i + 1:]:
            if near_duplicates(names[a], names[b]):
                parent[root(b)] = root(a)
    groups: dict[int, list[int]] = {}
    for cluster in clusters:
        groups.setdefault(root(cluster), []).append(cluster)
    return [group[start:start + MAX_GROUP] for group in groups.values() if len(group) > 1
            for start in range(0, len(group), MAX_GROUP) if len(group[start:start + MAX_GROUP]) > 1]


class LLMNamer:
    """Names from `model`, asked through `questions` (the answer store, budget and cancel of the run).

    `base` is the offline namer: its terms go into the question, and its name stands wherever the model's reply cannot
    be read. `n_examples` central rows per cluster (cut to `example_chars`) and `n_terms` terms are shown; `distinct`
    asks again about clusters whose names came out alike. Learned: `asked_` questions put, `unreadable_` replies.
    """

    def __init__(self, model: TextModel, base: Namer, questions: PaidQuestions, *, n_examples: int = 8,
                 n_terms: int = 10, example_chars: int = 160, distinct: bool = True) -> None:
        self.model = model
        self.base = base
        self.questions = questions
        self.n_examples = n_examples
        self.n_terms = n_terms
        self.example_chars = example_chars
        self.distinct = distinct

    @property
    def key(self) -> str:
        return f"llm-{PROMPT_VERSION}:{self.model.name}:{self.n_examples}x{self.example_chars}"

    def name_clusters(self, request: NamingRequest) -> dict[int, ClusterName]:
        offline = self.base.name_clusters(request)
        item_type = "text" if request.data.kind == "text" else "table row"
        central = {cluster: central_rows(request.embeddings, request.labels, cluster, self.n_examples)
                   for cluster in request.clusters}
        needed = np.unique(np.concatenate(list(central.values()) or [np.zeros(0, dtype=np.int64)]))
        text_of = dict(zip(needed.tolist(), example_texts(request, needed)))
        shown = {cluster: self._shown(offline, cluster, [text_of[row] for row in rows.tolist()])
                 for cluster, rows in central.items()}
        prompts = [NAME_PROMPT.format(item_type=item_type, terms=terms, examples="\n".join(f"- {e}" for e in examples))
                   for terms, examples in shown.values()]
        replies = self._ask(prompts)
        self.asked_, self.unreadable_ = len(prompts), 0
        names: dict[int, ClusterName] = {}
        for cluster, reply in zip(shown, replies):
            parsed = parse_name(reply.raw)
            fallback = offline.get(cluster, ClusterName(f"Cluster {cluster}", ""))
            self.unreadable_ += parsed is None
            names[cluster] = (ClusterName(parsed[0], parsed[1] or fallback.description, fallback.alternatives)
                              if parsed else fallback)
        if self.distinct:
            names.update(self._tell_apart(names, shown, item_type))
        return names

    def _shown(self, offline: Mapping[int, ClusterName], cluster: int, examples: list[str]) -> tuple[str, list[str]]:
        """(terms, example rows) the question about `cluster` shows."""
        terms = offline[cluster].alternatives[:self.n_terms] if cluster in offline else ()
        return ", ".join(terms) or "(none)", [shorten(example, self.example_chars) for example in examples]

    def _tell_apart(self, names: Mapping[int, ClusterName], shown: Mapping[int, tuple[str, list[str]]],
                    item_type: str) -> dict[int, ClusterName]:
        """New names for groups of clusters whose names read alike (one question per group)."""
        groups = similar_groups({cluster: name.name for cluster, name in names.items()})
        if not groups:
            return {}
        prompts = [DISTINCT_PROMPT.format(item_type=item_type, clusters="\n\n".join(
            f"Cluster {number} (named “{names[cluster].name}”)\nDistinguishing words: {shown[cluster][0]}\n"
            + "\n".join(f"- {example}" for example in shown[cluster][1][:3])
            for number, cluster in enumerate(group, start=1))) for group in groups]
        counts = dict(zip(prompts, map(len, groups)))
        replies = self._ask(prompts, lambda raw, prompt: parse_names(raw, counts[prompt]) is None)
        self.asked_ += len(prompts)
        renamed: dict[int, ClusterName] = {}
        for group, reply in zip(groups, replies):
            parsed = parse_names(reply.raw, len(group))
            self.unreadable_ += parsed is None
            for cluster, (name, description) in zip(group, parsed or []):
                renamed[cluster] = ClusterName(name, description or names[cluster].description,
                                               names[cluster].alternatives)
        return renamed

    def _ask(self, prompts: Sequence[str],
             unreadable: Callable[[str, str], bool] = lambda raw, prompt: parse_name(raw) is None) -> list[Answer]:
        """The model's replies to `prompts`, through the answer store (a stored readable reply is not paid again;
        `unreadable(raw, prompt)` marks a reply to ask again next time)."""
        def ask_one(prompt: str) -> Answer:
            raw, tokens, cost, latency = self.model.ask(prompt)
            return Answer(None, raw, tokens, cost, latency, unparsed=unreadable(raw, prompt))

        return self.questions.answer("name", self.model.name, PROMPT_VERSION, [(p,) for p in prompts],
                                     lambda chunk: answer_concurrently(ask_one, chunk, self.model.concurrency))


def example_texts(request: NamingRequest, rows: np.ndarray) -> list[str]:
    """The given rows as the namer shows them: the text for texts, "column is value" clauses for tables (only these
    rows are written out, however large the data)."""
    data = request.data
    frame = data.frame.iloc[rows]
    if data.kind == "text":
        return frame[data.text_column].fillna("").astype(str).tolist()
    return rows_to_texts(frame, data.feature_columns)


def estimate_naming(spec: str, clusters: int, mean_chars: float, *, n_examples: int = 8, n_terms: int = 10,
                    example_chars: int = 160) -> QueryEstimate:
    """Upper bound on what naming `clusters` clusters asks: one question each, and at most one more per two clusters
    for the distinct pass (each showing its clusters' terms and three examples); priced for "litellm:<model>"."""
    kind, _, model = spec.partition(":")
    example = min(mean_chars, example_chars) + 3
    first = (len(NAME_PROMPT) + n_terms * TERM_CHARS + n_examples * example) / CHARS_PER_TOKEN
    second = (len(DISTINCT_PROMPT) / 2 + n_terms * TERM_CHARS + 3 * example + 40) / CHARS_PER_TOKEN
    names = clusters + clusters // 2
    prompt_tokens = clusters * first + clusters * second
    answer_tokens = names * ANSWER_TOKENS
    tokens = int(prompt_tokens + answer_tokens)
    if kind != "litellm":
        return QueryEstimate(0, 0, 0, 0.0, paid=False)
    prices = model_prices(model)
    cost = None if prices is None else prompt_tokens * prices[0] + answer_tokens * prices[1]
    return QueryEstimate(0, 0, tokens, cost, paid=True, names=names)


@dataclass(frozen=True)
class NamerChoice:
    """Which namer a run's clusters get: `spec` "keywords" (offline) or "litellm:<model>", the server it is asked at
    (`api_base`: the name or URL of an endpoint the operator allows; None: the model's own provider), budget caps."""

    spec: str = OFFLINE_NAMER
    max_cost: float | None = None
    max_queries: int | None = None
    api_base: str | None = None

    @property
    def offline(self) -> bool:
        return self.spec == OFFLINE_NAMER


class NamerChoices:
    """Each run's chosen namer, in the catalogue's `curation_namers` table (a run without a row names offline)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.catalogue_path()
        with closing(connect(self.path)) as db, db:
            db.executescript(_SCHEMA)

    def get(self, run: str) -> NamerChoice:
        with closing(connect(self.path)) as db:
            row = db.execute("SELECT spec, settings FROM curation_namers WHERE run = ?", (run,)).fetchone()
        if row is None:
            return NamerChoice()
        settings = json.loads(row["settings"])
        return NamerChoice(row["spec"], settings.get("max_cost"), settings.get("max_queries"), settings.get("api_base"))

    def set(self, run: str, choice: NamerChoice) -> None:
        settings = json.dumps({"max_cost": choice.max_cost, "max_queries": choice.max_queries,
                               "api_base": choice.api_base})
        with closing(connect(self.path)) as db, db:
            db.execute("INSERT OR REPLACE INTO curation_namers VALUES (?, ?, ?, ?)",
                       (run, choice.spec, settings, time.time()))


def check_namer_spec(spec: str) -> str:
    """The spec stripped, or SettingsError naming the forms a namer may take."""
    spec = spec.strip()
    kind, _, model = spec.partition(":")
    if spec == OFFLINE_NAMER or (kind == "litellm" and model.strip()):
        return spec
    raise SettingsError(f"Unknown namer {spec!r}. Use one of: {', '.join(NAMER_SPECS)} "
                        "(e.g. litellm:openai/gpt-4o-mini).")

