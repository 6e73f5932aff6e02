"""The offline default judge: a stronger embedder than the one being trained answers by cosine similarity."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.embed.base import Embedder
from core.errors import ModelUnavailableError
from core.llm.judges import Answer, Pair, Triplet

DEFAULT_JUDGE_EMBEDDER = "mpnet"


class EmbeddingJudge:
    """Triplets: the choice with the higher cosine to the anchor, undecided (None) when the two cosines differ by less
    than `min_margin` (a low-confidence answer, left for a person). Pairs: cosine >= `pair_threshold`.

    `embedder` is an Embedder or a setting string resolved by `resolve` (the registry by default) on first use; an
    absent model raises ModelUnavailableError with the setup step that installs it.
    """

    prompt_version = "cosine"

    def __init__(self, embedder: Embedder | str = DEFAULT_JUDGE_EMBEDDER, *, pair_threshold: float = 0.5,
                 min_margin: float = 0.0, resolve: Callable[[str], Embedder] | None = None) -> None:
        self.embedder = embedder
        self.pair_threshold = pair_threshold
        self.min_margin = min_margin
        self.resolve = resolve
        self._resolved: Embedder | None = None

    @property
    def name(self) -> str:
        spec = self.embedder if isinstance(self.embedder, str) else self.embedder.name
        return f"embedding:{spec}:t={self.pair_threshold:g}:m={self.min_margin:g}"

    def _embedder(self) -> Embedder:
        """The embedder, resolved from its setting string on first use (`embedder` itself stays as given, so the
        judge's `name`, under which its answers are stored, does not change once it has answered)."""
        if not isinstance(self.embedder, str):
            return self.embedder
        if self._resolved is None:
            if self.resolve is None:
                from core.embed.registry import resolve_embedder as resolve
            else:
                resolve = self.resolve
            try:
                self._resolved = resolve(self.embedder)
            except ModelUnavailableError as exc:
                raise ModelUnavailableError(f"The embedding judge needs {self.embedder!r}: {exc}") from exc
        return self._resolved

    def _vectors(self, texts: list[str]) -> dict[str, np.ndarray]:
        unique = list(dict.fromkeys(texts))
        vectors = np.asarray(self._embedder().encode(unique), dtype=np.float64)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return dict(zip(unique, vectors))

    def answer_triplets(self, triplets: Sequence[Triplet]) -> list[Answer]:
        vec = self._vectors([text for triplet in triplets for text in triplet])
        answers = []
        for anchor, a, b in triplets:
            first, second = float(vec[anchor] @ vec[a]), float(vec[anchor] @ vec[b])
            choice = None if abs(first - second) < max(self.min_margin, 1e-9) else (1 if first > second else 2)
            answers.append(Answer(choice, f"cos1={first:.4f} cos2={second:.4f}"))
        return answers

    def answer_pairs(self, pairs: Sequence[Pair]) -> list[Answer]:
        vec = self._vectors([text for pair in pairs for text in pair])
        answers = []
        for x, y in pairs:
            cosine = float(vec[x] @ vec[y])
            answers.append(Answer(cosine >= self.pair_threshold, f"cos={cosine:.4f}"))
        return answers

    def answer_triplet(self, anchor: str, a: str, b: str) -> Answer:
        return self.answer_triplets([(anchor, a, b)])[0]

    def answer_pair(self, x: str, y: str) -> Answer:
        return self.answer_pairs([(x, y)])[0]
