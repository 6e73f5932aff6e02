"""A judge that answers from known labels, for benchmarks: what a perfect LLM would say."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence

from core.llm.judges import Answer, OneByOneJudge


class OracleJudge(OneByOneJudge):
    """Answers from a text -> label map. Triplets: the choice sharing the anchor's label, None when both or neither
    do (the labels cannot decide). Pairs: same label. A text seen with two different labels is undecidable.

    `prompt_version` fingerprints the labelling ("labels:<hash>"), so an answer store never hands answers given under
    one label column (say intents) to questions asked under another (domains) about the same texts."""

    def __init__(self, texts: Sequence[str], labels: Sequence[object], name: str = "oracle") -> None:
        self.name = name
        self._label: dict[str, object | None] = {}
        for text, label in zip(texts, labels, strict=True):
            known = self._label.get(text, label)
            self._label[text] = label if known == label else None
        digest = hashlib.sha256()
        for text, label in sorted(self._label.items(), key=lambda item: item[0]):
            digest.update(f"{text}\x1f{label}\x1e".encode())
        self.prompt_version = f"labels:{digest.hexdigest()[:12]}"

    def label_of(self, text: str) -> object | None:
        return self._label.get(text)

    def answer_triplet(self, anchor: str, a: str, b: str) -> Answer:
        label, first, second = self.label_of(anchor), self.label_of(a), self.label_of(b)
        if label is None or first is None or second is None or (first == label) == (second == label):
            return Answer(None, "undecidable")
        return Answer(1 if first == label else 2, "Choice 1" if first == label else "Choice 2")

    def answer_pair(self, x: str, y: str) -> Answer:
        first, second = self.label_of(x), self.label_of(y)
        if first is None or second is None:
            return Answer(None, "undecidable")
        return Answer(first == second, "Yes" if first == second else "No")
