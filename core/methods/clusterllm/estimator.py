"""The ClusterLLM estimator (arXiv 2305.14871): a judge's answers to triplet questions fine-tune the embedder, and
its answers to pair questions across the merges of a Ward tree choose the number of clusters."""
from __future__ import annotations

import shutil
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.cluster.hierarchy import ClusterTree
from core.embed.encoders import encode_with, trainable_model
from core.errors import SettingsError
from core.llm import Judge
from core.methods.clusterllm.objective import TripletFineTuner
from core.methods.clusterllm.sampling import (f_beta_curve, granularity_pairs, merge_mass, random_triplets,
                                              triplets_by_entropy)
from core.methods.clusterllm.settings import TREE_MAX_LEAVES, ClusterLLMParams
from core.progress import ProgressFn, StopFn, as_stage, check_stop, never_stop, no_progress, within
from core.settings import check_settings
from core.storage import Folder

QUESTIONS = "questions.npz"
CHECKPOINT = "checkpoint"
FINE_TUNING_SHARE = (0.05, 0.8)  # of the whole progress bar, split evenly between the iterations


@dataclass(kw_only=True)
class ClusterLLM(ClusterLLMParams):
    """Fine-tune `embedder` on `judge`'s triplet answers (`iterations` rounds of sample -> ask -> train), then choose k.

    `ClusterLLM(embedder=..., judge=..., n_triplets=1024).fit(texts)`; the hyperparameters are ClusterLLMParams'.

    Learned: `base_embeddings_`, `embeddings_` (fine-tuned), `model_` (the fine-tuned SentenceTransformer),
    `triplets_` (asked, as row indices: anchor, choice 1, choice 2), `triplet_answers_` (1, 2 or 0 = undecided),
    `history_` (mean loss per epoch, all iterations), `pairs_`, `pair_steps_`, `pair_answers_` (1 yes, 0 no,
    -1 undecided), `k_curve_` ({k: F-beta}), `n_clusters_` (argmax of the curve; None without decided pairs),
    `seconds_` (wall-clock of asking, fine-tuning and choosing k).
    """

    embedder: Any
    judge: Judge
    device: str = "cpu"
    checkpoint_dir: str | Path | None = None
    model_dir: str | Path | None = None
    progress: ProgressFn = no_progress
    should_stop: StopFn = never_stop

    def fit(self, texts: Sequence[str]) -> "ClusterLLM":
        texts = list(texts)
        check_settings(self, ClusterLLMParams)
        if len(texts) < 4:
            raise SettingsError(f"ClusterLLM needs at least 4 texts; this data has {len(texts)}.")
        self.progress("embed", 0.0, "Embedding with the base model")
        self.base_embeddings_ = self._base_embeddings(texts)
        self.model_ = trainable_model(self.embedder)
        self.model_.to(self.device)
        embeddings = self.base_embeddings_
        asked, answers, self.history_ = [], [], []
        self.seconds_ = {"ask": 0.0, "finetune": 0.0, "granularity": 0.0}
        for iteration in range(self.iterations):
            self._check_stop()
            started = time.perf_counter()
            progress = self._iteration_progress(iteration)
            triplets, choices = self._questions(texts, embeddings, iteration, progress)
            asked.append(triplets)
            answers.append(choices)
            train = [(texts[t[0]], texts[t[c]], texts[t[3 - c]]) for t, c in zip(triplets, choices) if c]
            self.seconds_["ask"] += time.perf_counter() - started
            started = time.perf_counter()
            if train and self.epochs:
                self._train(train, iteration, progress)
            self.seconds_["finetune"] += time.perf_counter() - started
            embeddings = encode_with(self.model_, texts)
        self.triplets_ = np.concatenate(asked) if asked else np.zeros((0, 3), dtype=np.int64)
        self.triplet_answers_ = np.concatenate(answers) if answers else np.zeros(0, dtype=np.int64)
        self.embeddings_ = embeddings
        if self.model_dir is not None:
            self.model_.save(str(self.model_dir))
        started = time.perf_counter()
        self._choose_k(texts)
        self.seconds_["granularity"] = time.perf_counter() - started
        return self

    def _check_stop(self) -> None:
        check_stop(self.should_stop)

    def _base_embeddings(self, texts: list[str]) -> np.ndarray:
        from sentence_transformers import SentenceTransformer

        if isinstance(self.embedder, SentenceTransformer):
            return encode_with(self.embedder, texts)
        return np.asarray(self.embedder.encode(texts), dtype=np.float32)

    def _iteration_progress(self, iteration: int) -> ProgressFn:
        """This iteration's equal slice of the fine-tuning share of the progress bar."""
        return within(within(self.progress, *FINE_TUNING_SHARE), iteration / self.iterations,
                      (iteration + 1) / self.iterations)

    def _iteration_dir(self, iteration: int) -> Path | None:
        return Path(self.checkpoint_dir) / f"iteration-{iteration}" if self.checkpoint_dir is not None else None

    def _questions(self, texts: list[str], embeddings: np.ndarray, iteration: int,
                   progress: ProgressFn) -> tuple[np.ndarray, np.ndarray]:
        """Sample triplets from the current embeddings and ask the judge; reuse the ones an earlier attempt of this run
        saved, when the same judge (and prompt) answered them. New answers start the iteration's folder afresh: the
        training checkpoint of other answers no longer applies."""
        folder = self._iteration_dir(iteration)
        asked_by = f"{self.judge.name}|{self.judge.prompt_version}"
        saved = _saved_questions(folder / QUESTIONS, asked_by) if folder is not None else None
        if saved is not None:
            return saved
        progress("sample", 0.0, f"Sampling triplets ({self.sampling}), iteration {iteration + 1}")
        seed = self.seed + iteration
        if self.sampling == "entropy":
            triplets = triplets_by_entropy(embeddings, self.n_triplets, n_clusters=self.sampling_clusters, seed=seed)
        else:
            triplets = random_triplets(len(texts), self.n_triplets, seed=seed)
        progress("ask", 0.0, f"Asking the judge {len(triplets)} triplet questions")
        found = self.judge.answer_triplets([(texts[a], texts[b], texts[c]) for a, b, c in triplets])
        choices = np.array([answer.choice or 0 for answer in found], dtype=np.int64)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            Folder(folder).save_arrays(QUESTIONS, triplets=triplets, choices=choices, judge=np.array(asked_by))
        return triplets, choices

    def _train(self, train: list[tuple[str, str, str]], iteration: int, progress: ProgressFn) -> None:
        folder = self._iteration_dir(iteration)
        tuner = TripletFineTuner(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size,
                                 temperature=self.temperature, seed=self.seed + iteration, device=self.device,
                                 checkpoint_dir=folder / CHECKPOINT if folder is not None else None,
                                 should_stop=self.should_stop, progress=as_stage(progress, "fine-tune"))
        self.history_.extend(tuner.fit(self.model_, train).history_)

    def _choose_k(self, texts: list[str]) -> None:
        """Ask pair questions across the Ward tree's merges for k = 2..k_max; k = argmax of the F-beta curve."""
        self._check_stop()
        self.progress("granularity", 0.82, "Building the Ward tree over the fine-tuned embeddings")
        tree = ClusterTree(max_leaves=TREE_MAX_LEAVES, linkage="ward", seed=self.seed).fit(self.embeddings_)
        weighted = self.granularity == "weighted"
        self.pairs_, self.pair_steps_ = granularity_pairs(tree, self.k_max, self.pairs_per_step, seed=self.seed,
                                                          by_mass=weighted)
        self.progress("granularity", 0.85, f"Asking the judge {len(self.pairs_)} pair questions")
        found = self.judge.answer_pairs([(texts[a], texts[b]) for a, b in self.pairs_])
        self.pair_answers_ = np.array([-1 if a.choice is None else int(a.choice) for a in found], dtype=np.int64)
        decided = self.pair_answers_ >= 0
        ks = np.arange(2, min(self.k_max, tree.n_leaves_) + 1)
        if not decided.any():
            self.k_curve_, self.n_clusters_ = {}, None
            return
        curve = f_beta_curve(self.pair_steps_[decided], self.pair_answers_[decided] == 1, ks, self.beta,
                             mass=merge_mass(tree, self.k_max) if weighted else None)
        self.k_curve_ = {int(k): float(f) for k, f in zip(ks, curve)}
        self.n_clusters_ = int(ks[int(np.argmax(curve))])


def _saved_questions(path: Path, asked_by: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(triplets, choices) an earlier attempt saved at `path` when `asked_by` answered them; None when there are none,
    or when the file cannot be read (the questions are then sampled again and answered from the store, unpaid)."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            if "judge" not in saved.files or str(saved["judge"]) != asked_by:
                return None
            return saved["triplets"], saved["choices"]
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):  # missing, or damaged by a crash or disk
        return None
