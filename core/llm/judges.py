"""The Judge interface: who answers ClusterLLM's questions (an LLM, a stronger embedder, labels, a person).

A triplet question asks which of two choices is closer to an anchor (answer 1 or 2); a pair question asks whether two
texts belong to the same category (answer True or False). An answer of None means the judge could not or would not
decide; callers drop such answers rather than guess.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from core.errors import ClusterLensError

Choice = int | bool | None
Source = Literal["judge", "person"]
Triplet = tuple[str, str, str]
"""(anchor, choice 1, choice 2) as texts."""
Pair = tuple[str, str]


class JudgeUnavailableError(ClusterLensError):
    """The judge could not answer at all (provider down, wrong key or model name, repeated timeouts)."""


@dataclass(frozen=True)
class Answer:
    """One judge's answer: the parsed `choice`, the raw text it came from, and what it cost."""

    choice: Choice
    raw: str = ""
    tokens: int = 0
    cost: float = 0.0
    latency: float = 0.0
    source: Source = "judge"

    @property
    def decided(self) -> bool:
        return self.choice is not None


@runtime_checkable
class Judge(Protocol):
    """Answers triplet and pair questions. `name` identifies the model and `prompt_version` the wording, so an
    answer store can tell when an old answer still applies."""

    name: str
    prompt_version: str

    def answer_triplet(self, anchor: str, a: str, b: str) -> Answer: ...

    def answer_pair(self, x: str, y: str) -> Answer: ...

    def answer_triplets(self, triplets: Sequence[Triplet]) -> list[Answer]: ...

    def answer_pairs(self, pairs: Sequence[Pair]) -> list[Answer]: ...


class OneByOneJudge:
    """Mixin giving the batch forms to judges that answer one question at a time."""

    def answer_triplets(self, triplets: Sequence[Triplet]) -> list[Answer]:
        return [self.answer_triplet(*t) for t in triplets]  # type: ignore[attr-defined]

    def answer_pairs(self, pairs: Sequence[Pair]) -> list[Answer]:
        return [self.answer_pair(*p) for p in pairs]  # type: ignore[attr-defined]
