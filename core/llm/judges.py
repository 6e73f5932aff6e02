"""The Judge interface: who answers ClusterLLM's questions (an LLM, a stronger embedder, labels, a person).

A triplet question asks which of two choices is closer to an anchor (answer 1 or 2); a pair question asks whether two
texts belong to the same category (answer True or False). An answer of None means the judge could not or would not
decide; callers drop such answers rather than guess.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from core.errors import ClusterLensError

Choice = int | bool | None
Source = Literal["judge", "person"]
Triplet = tuple[str, str, str]
"""(anchor, choice 1, choice 2) as texts."""
Pair = tuple[str, str]


class JudgeUnavailableError(ClusterLensError):
    """The judge could not answer at all (provider down, wrong key or model name, repeated timeouts).

    `answered` holds, for a batch, the answers that came back before the failure (None where none did), so that
    whoever paid for them can keep them.
    """

    def __init__(self, message: str, answered: Sequence["Answer | None"] = ()) -> None:
        super().__init__(message)
        self.answered = list(answered)


@dataclass(frozen=True)
class Answer:
    """One judge's answer: the parsed `choice`, the raw text it came from, and what it cost. `unparsed` marks a reply
    that could not be read as an answer at all (a judge that decides not to decide leaves it False): it is kept for
    review but is no answer to reuse, so the question is asked again next time."""

    choice: Choice
    raw: str = ""
    tokens: int = 0
    cost: float = 0.0
    latency: float = 0.0
    source: Source = "judge"
    unparsed: bool = False

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


def answer_concurrently(ask: Callable[..., Answer], questions: Sequence[tuple[str, ...]],
                        workers: int) -> list[Answer]:
    """Ask each question with up to `workers` requests in flight, answers in question order.

    When a question fails with JudgeUnavailableError the questions not yet started are dropped, the ones in flight
    finish, and the error is raised again carrying every answer that did come back.
    """
    answers: list[Answer | None] = [None] * len(questions)
    failure: JudgeUnavailableError | None = None

    def ask_one(index: int) -> None:
        nonlocal failure
        if failure is not None:
            return
        try:
            answers[index] = ask(*questions[index])
        except JudgeUnavailableError as error:
            failure = failure or error

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(ask_one, range(len(questions))))
    if failure is not None:
        raise JudgeUnavailableError(str(failure), answers) from failure
    return answers  # type: ignore[return-value]
