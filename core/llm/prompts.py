"""The paper's triplet and pair prompts, templated by item type and aspect, and versioned by a hash of their text.

`{item_type}` and `{aspect}` are filled per data set ("banking customer utterance", "intent"); the question's texts
go into `{query}`, `{choice1}`, `{choice2}` (triplets) and `{first}`, `{second}` (pairs). `examples` holds optional
labelled demonstrations put before the pair question, as the paper does.
"""
from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field

from core.errors import SettingsError

TRIPLET_PROMPT = (
    "Select the {item_type} that better corresponds with the Query in terms of {aspect}.\n\n"
    "Query: {query}\nChoice 1: {choice1}\nChoice 2: {choice2}\n\n"
    "Please respond with 'Choice 1' or 'Choice 2' without explanation."
)
PAIR_PROMPT = (
    "{examples}Determine whether the {aspect}s of two {item_type}s below belong to the same {aspect} category.\n\n"
    "Sentence 1: {first}\nSentence 2: {second}\n\n"
    "Please respond with 'Yes' or 'No' without explanation."
)
_TRIPLET_FIELDS = {"item_type", "aspect", "query", "choice1", "choice2"}
_PAIR_FIELDS = {"item_type", "aspect", "examples", "first", "second"}


@dataclass(frozen=True)
class PromptTemplate:
    """The wording of both questions for one data set; `version` changes whenever any of the text does."""

    item_type: str = "text"
    aspect: str = "topic"
    triplet: str = TRIPLET_PROMPT
    pair: str = PAIR_PROMPT
    examples: str = ""
    version: str = field(init=False)

    def __post_init__(self) -> None:
        _check_fields("triplet", self.triplet, _TRIPLET_FIELDS, {"query", "choice1", "choice2"})
        _check_fields("pair", self.pair, _PAIR_FIELDS, {"first", "second"})
        text = "\x1f".join((self.item_type, self.aspect, self.triplet, self.pair, self.examples))
        object.__setattr__(self, "version", hashlib.sha256(text.encode("utf-8")).hexdigest()[:12])

    def triplet_prompt(self, query: str, choice1: str, choice2: str) -> str:
        """The triplet question for these texts."""
        return self.triplet.format(item_type=self.item_type, aspect=self.aspect, query=query, choice1=choice1,
                                   choice2=choice2)

    def pair_prompt(self, first: str, second: str) -> str:
        """The pair question for these texts (after the demonstrations, if any)."""
        examples = self.examples.rstrip() + "\n\n" if self.examples.strip() else ""
        return self.pair.format(item_type=self.item_type, aspect=self.aspect, examples=examples, first=first,
                                second=second)


def _check_fields(name: str, template: str, allowed: set[str], required: set[str]) -> None:
    """Reject an edited template with unknown or missing placeholders (or stray braces) before any query is paid."""
    try:
        used = {field_name for _, field_name, _, _ in string.Formatter().parse(template) if field_name is not None}
    except ValueError as exc:
        raise SettingsError(f"The {name} prompt has an unmatched brace ({exc}). Write literal braces as {{{{ }}}}.") from exc
    unknown, missing = used - allowed, required - used
    if unknown or missing:
        raise SettingsError(
            f"The {name} prompt must use {', '.join('{' + f + '}' for f in sorted(required))} and may use "
            f"{', '.join('{' + f + '}' for f in sorted(allowed - required))}"
            + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else "")
            + (f"; missing: {', '.join(sorted(missing))}" if missing else "") + "."
        )
