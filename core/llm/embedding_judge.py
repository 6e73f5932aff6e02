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

    With a `corpus` (the texts being clustered) and `neighbours` = N > 0, a triplet is also left undecided unless its
    neighbourhood agrees: the chosen text is among the anchor's N nearest corpus texts, and the anchor shares more of
    its N nearest with the chosen one than with the other. Most wrong answers of cosine alone are questions whose right
    answer is "neither" (no choice shares the anchor's category), which a forced choice turns into a pull towards
    another category; this check leaves most of them out (bench_results/clusterllm-offline.md).

    `embedder` is an Embedder or a setting string resolved by `resolve` (the registry by default) on first use; an
    absent model raises ModelUnavailableError with the setup step that installs it.
    """

    prompt_version = "cosine"

    def __init__(self, embedder: Embedder | str = DEFAULT_JUDGE_EMBEDDER, *, pair_threshold: float = 0.5,
                 min_margin: float = 0.0, corpus: Sequence[str] | None = None, neighbours: int = 0,
                 resolve: Callable[[str], Embedder] | None = None) -> None:
        self.embedder = embedder
        self.pair_threshold = pair_threshold
        self.min_margin = min_margin
        self.corpus = list(dict.fromkeys(corpus)) if corpus is not None else None
        self.neighbours = neighbours if self.corpus is not None else 0
        self.resolve = resolve
        self._resolved: Embedder | None = None
        self._graph: dict[str, tuple[int, frozenset[int]]] | None = None

    @property
    def name(self) -> str:
        spec = self.embedder if isinstance(self.embedder, str) else self.embedder.name
        rule = f":nn={self.neighbours}" if self.neighbours else ""
        return f"embedding:{spec}:t={self.pair_threshold:g}:m={self.min_margin:g}{rule}"

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

    def _neighbourhoods(self) -> dict[str, tuple[int, frozenset[int]]]:
        """Each corpus text's row and its `neighbours` nearest corpus rows by cosine (itself included), built once."""
        if self._graph is None:
            from sklearn.neighbors import NearestNeighbors

            corpus = self.corpus or []
            vec = self._vectors(corpus)
            X = np.stack([vec[text] for text in corpus])
            nearest = NearestNeighbors(n_neighbors=min(self.neighbours + 1, len(X))).fit(X).kneighbors(
                X, return_distance=False)
            self._graph = {text: (row, frozenset(near.tolist()))
                           for row, (text, near) in enumerate(zip(corpus, nearest))}
        return self._graph

    def _neighbourhood_agrees(self, anchor: str, chosen: str, other: str) -> tuple[bool, str]:
        """Whether the anchor's neighbourhood backs the cosine's choice (a text outside the corpus: no check)."""
        graph = self._neighbourhoods()
        if not {anchor, chosen, other} <= graph.keys():
            return True, ""
        near, (row, chosen_near), other_near = graph[anchor][1], graph[chosen], graph[other][1]
        shared = len(near & chosen_near) - len(near & other_near)
        return row in near and shared > 0, f" shared={shared} near={int(row in near)}"

    def answer_triplets(self, triplets: Sequence[Triplet]) -> list[Answer]:
        vec = self._vectors([text for triplet in triplets for text in triplet])
        answers = []
        for anchor, a, b in triplets:
            first, second = float(vec[anchor] @ vec[a]), float(vec[anchor] @ vec[b])
            choice = None if abs(first - second) < max(self.min_margin, 1e-9) else (1 if first > second else 2)
            raw = f"cos1={first:.4f} cos2={second:.4f}"
            if choice is not None and self.neighbours:
                agrees, why = self._neighbourhood_agrees(anchor, *((a, b) if choice == 1 else (b, a)))
                choice, raw = (choice if agrees else None), raw + why
            answers.append(Answer(choice, raw))
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
