"""The CACTUS estimator (arXiv 2405.00988): learn how a team clusters small groups of entities, then cluster new
groups that way; and the untrained encoder it must beat, clustered the same way."""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.cluster.threshold import choose_threshold, cluster_by_threshold, score_groups
from core.data.groups import EntityGroup
from core.embed.base import Embedder
from core.methods.base import EmbedderFactory
from core.embed.encoders import load_encoder
from core.errors import SettingsError
from core.methods.cactus.attention import ContextEncoder
from core.methods.cactus.objective import CactusNetwork, SelfSupervisedGroups
from core.methods.cactus.settings import CACTUSParams
from core.metrics import mean_std
from core.progress import ProgressFn, StopFn, as_stage, check_stop, never_stop, no_progress, within
from core.settings import check_settings, values_of
from core.train import Checkpoint, Trainer, seed_everything

EncoderLoader = Callable[[str, str], tuple[Any, Any]]
"""loader(encoder setting, device) -> (Hugging Face encoder, tokenizer); injected so tests use a tiny model."""
WEIGHTS = "network.safetensors"
SAVED = "cactus.json"
STAGE_TITLES = {"pretrain": "self-supervised pretraining", "train": "training"}
CHECKPOINT_SECONDS = 60.0  # a stage can be one long epoch (pretraining): checkpoint it mid-way at most once a minute
BLENDS = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Shares of the trained weights tried when `blend` is auto (0: the pretrained encoder, 1: the trained one)."""


@dataclass(kw_only=True)
class CACTUS(CACTUSParams):
    """Context-aware clustering of entity groups: `CACTUS(attention="sia").fit(groups, val_groups).predict(new)`.

    Fine-tunes `encoder` with `attention` ("sia", "nia" or "fia") between a group's entities (`context_bias`: the
    starting score offset of other entities' keys, see ContextEncoder): first self-supervised (`pretrain_steps`
    steps on word-dropped copies of training texts, `word_drop` the drop rate), then on the labelled
    groups for `epochs` epochs with the `loss` ("augmented" triplet with a learned neutral similarity, or "triplet")
    and `margin`, `batch_groups` groups per step. The weights kept are `blend` x trained + (1 - `blend`) x pretrained
    (WiSE-FT; None: the share in BLENDS that scores best on the validation groups). Prediction is average-link
    clustering on cosine distance cut at a threshold chosen on the validation groups.

    Learned: `network_`, `threshold_`, `threshold_curve_` ({threshold: mean validation AMI}), `blend_`,
    `blend_curve_` ({blend: (threshold, best mean validation AMI)}, when chosen), `neutral_` (s₀),
    `history_` ({"pretrain": losses, "train": losses}), `seconds_` (per stage).
    """

    device: str = "cpu"
    checkpoint_dir: str | Path | None = None
    progress: ProgressFn = no_progress
    should_stop: StopFn = never_stop
    encoder_loader: EncoderLoader = load_encoder

    def fit(self, groups: Sequence[EntityGroup], val_groups: Sequence[EntityGroup] | None = None) -> "CACTUS":
        """Train on labelled groups, then choose the threshold on `val_groups` (the training groups when None)."""
        groups = list(groups)
        self._check(groups, val_groups)
        seed_everything(self.seed)
        self.network_ = self._network()
        pretrained = self._weights() if self.blend != 1.0 else None  # the default keeps the trained weights as is
        self.history_ = {"pretrain": [], "train": []}
        self.seconds_: dict[str, float] = {}
        pretrain = self.pretrain_steps if groups else 0
        train = self.epochs * -(-len(groups) // self.batch_groups)
        share = 0.9 * pretrain / max(pretrain + train, 1)
        if pretrain:
            made = SelfSupervisedGroups(groups, self.word_drop, self.seed, count=pretrain * self.batch_groups)
            self._train_stage("pretrain", made, epochs=1, seed=self.seed, steps=pretrain,
                              progress=within(self.progress, 0.0, share))
        if train:
            self._train_stage("train", groups, epochs=self.epochs, seed=self.seed + 1, steps=train,
                              progress=within(self.progress, share, 0.9))
        self.neutral_ = float(self.network_.neutral.detach())
        start = time.perf_counter()
        chosen_on = list(val_groups) if val_groups else groups
        clusters = [group.clusters for group in chosen_on]
        self.progress("threshold", 0.9, f"Choosing the threshold on {len(chosen_on)} validation groups")
        self.blend_, self.blend_curve_ = 1.0, {}
        if pretrained is None:
            self.threshold_, self.threshold_curve_ = choose_threshold(self.embed(chosen_on), clusters)
        else:
            self._pretrained, self._trained = pretrained, self._weights()
            curves = {}
            for share in BLENDS if self.blend is None else (self.blend,):
                self.set_blend(share)
                curves[share] = choose_threshold(self.embed(chosen_on), clusters)
            # ties go to the larger share: the trained model unless blending helps
            best = max(curves, key=lambda share: (round(curves[share][1][curves[share][0]], 6), share))
            self.set_blend(best)
            self.threshold_, self.threshold_curve_ = curves[best]
            if self.blend is None:
                self.blend_curve_ = {share: (threshold, curve[threshold])
                                     for share, (threshold, curve) in curves.items()}
        self.seconds_["threshold"] = time.perf_counter() - start
        self.progress("threshold", 1.0, f"Threshold {self.threshold_:.2f} (cosine distance)")
        return self

    def _weights(self) -> dict[str, Any]:
        """A copy of the network's weights as they are now."""
        return {name: value.detach().clone() for name, value in self.network_.state_dict().items()}

    def set_blend(self, share: float) -> None:
        """Set the network's weights to `share` x trained + (1 - `share`) x pretrained (after a `fit` that blends)."""
        import torch

        with torch.no_grad():
            mixed = {name: torch.lerp(self._pretrained[name], trained, float(share))
                     if trained.is_floating_point() else trained for name, trained in self._trained.items()}
        self.network_.load_state_dict(mixed)
        self.blend_ = float(share)

    def _train_stage(self, stage: str, groups: Sequence[EntityGroup], *, epochs: int, seed: int, steps: int,
                     progress: ProgressFn) -> None:
        """Train the network on `groups` (one group per batch, `batch_groups` per step) in core.train's loop."""
        start = time.perf_counter()
        progress(stage, 0.0, f"Starting {STAGE_TITLES[stage]} ({steps} steps)")

        def group_loss(batch: list[EntityGroup]):
            (group,) = batch
            return self.network_.loss(group, self.loss, self.margin)

        trainer = Trainer(epochs=epochs, lr=self.lr, accumulate=self.batch_groups, seed=seed,
                          checkpoint=self._checkpoint(stage), checkpoint_seconds=CHECKPOINT_SECONDS,
                          progress=as_stage(progress, stage), should_stop=self.should_stop)
        trainer.fit(self.network_, lambda epoch, generator: groups, group_loss, self.network_.param_groups(self.lr))
        self.history_[stage] = trainer.history_["step"]
        self.seconds_[stage] = time.perf_counter() - start

    def embed(self, groups: Sequence[EntityGroup]) -> list[np.ndarray]:
        """Each group's context-aware entity vectors (unit length), one array per group."""
        import torch

        out = []
        with torch.inference_mode():
            for group in groups:
                self._check_stop()
                out.append(self.network_(group.texts).cpu().numpy().astype(np.float32))
        return out

    def predict(self, groups: Sequence[EntityGroup]) -> list[np.ndarray]:
        """Each group's clusters (0 = its biggest cluster)."""
        return [cluster_by_threshold(vectors, self.threshold_) for vectors in self.embed(groups)]

    def save(self, folder: str | Path) -> None:
        """Write the trained network and threshold to `folder` (the base encoder is reloaded from its setting)."""
        from safetensors.torch import save_model

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_model(self.network_, str(folder / WEIGHTS))
        (folder / SAVED).write_text(json.dumps({"settings": self._settings(), "threshold": self.threshold_,
                                                "neutral": self.neutral_, "blend": self.blend_}, indent=2))

    @classmethod
    def load(cls, folder: str | Path, *, device: str = "cpu",
             encoder_loader: EncoderLoader = load_encoder) -> "CACTUS":
        """A trained CACTUS saved by `save`, ready to predict."""
        from safetensors.torch import load_model

        folder = Path(folder)
        saved = json.loads((folder / SAVED).read_text())
        model = cls(**saved["settings"], device=device, encoder_loader=encoder_loader)
        model.network_ = model._network()
        load_model(model.network_, str(folder / WEIGHTS), device=device)
        model.network_.eval()
        model.threshold_, model.neutral_ = float(saved["threshold"]), float(saved["neutral"])
        model.blend_ = float(saved.get("blend", 1.0))
        return model

    def _settings(self) -> dict[str, Any]:
        return values_of(self, CACTUSParams)

    def _network(self):
        model, tokenizer = self.encoder_loader(self.encoder, self.device)
        encoder = ContextEncoder(model, self.attention, self.context_bias)
        return CactusNetwork(encoder, tokenizer, self.max_tokens).to(self.device).eval()

    def _checkpoint(self, stage: str):
        if self.checkpoint_dir is None:
            return None
        return Checkpoint(Path(self.checkpoint_dir) / stage, {**self._settings(), "stage": stage})

    def _check(self, groups: list[EntityGroup], val_groups: Sequence[EntityGroup] | None) -> None:
        check_settings(self, CACTUSParams)
        if not groups and not val_groups:
            raise SettingsError("CACTUS needs labelled groups: to train on, or at least to choose its threshold on.")
        unlabelled = [g.id for g in [*groups, *(val_groups or [])] if not g.labelled]
        if unlabelled:
            raise SettingsError(f"Groups without clusters cannot be trained or validated on: {unlabelled[:3]}.")

    def _check_stop(self) -> None:
        check_stop(self.should_stop)


class EncoderBaseline:
    """What CACTUS must beat: the encoder as it comes (each entity embedded alone by the sentence embedder, so the
    content-hash cache serves repeated runs), clustered the same way, at a threshold chosen on validation groups.

    Learned: `threshold_`, `threshold_curve_` ({threshold: mean validation AMI}).
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def fit(self, val_groups: Sequence[EntityGroup]) -> "EncoderBaseline":
        self.threshold_, self.threshold_curve_ = choose_threshold(self.embed(val_groups),
                                                                  [g.clusters for g in val_groups])
        return self

    @classmethod
    def restored(cls, embedder: Embedder, threshold: float) -> "EncoderBaseline":
        """A baseline whose threshold was chosen earlier (e.g. by a finished run)."""
        baseline = cls(embedder)
        baseline.threshold_ = float(threshold)
        return baseline

    def embed(self, groups: Sequence[EntityGroup]) -> list[np.ndarray]:
        """Each group's entity vectors (one encode call for all groups)."""
        vectors = self.embedder.encode([text for group in groups for text in group.texts])
        return np.split(vectors, np.cumsum([len(group) for group in groups])[:-1]) if groups else []

    def predict(self, groups: Sequence[EntityGroup]) -> list[np.ndarray]:
        return [cluster_by_threshold(vectors, self.threshold_) for vectors in self.embed(groups)]


def scores_by_group(model: CACTUS | EncoderBaseline, groups: Sequence[EntityGroup]) -> list[dict[str, float]]:
    """AMI and ARI of the model's clustering of each labelled group."""
    return score_groups(model.predict(groups), [group.clusters for group in groups])


def summarize(scores: Sequence[dict[str, float]]) -> dict[str, list[float]]:
    """Mean and standard deviation over groups on a 0-100 scale: {"ami": [mean, std], "ari": [mean, std]}."""
    return {name: [round(mean, 2), round(std, 2)] for name, (mean, std) in mean_std(list(scores), scale=100.0).items()}


@dataclass
class GroupPrediction:
    """A new group's predicted clusters, the untrained encoder's, and both scores when the group came with clusters."""

    group: EntityGroup
    labels: np.ndarray
    base_labels: np.ndarray
    scores: dict[str, float] | None = None


def predict_groups(trained: CACTUS, base: EncoderBaseline, groups: Sequence[EntityGroup]) -> list[GroupPrediction]:
    """Cluster new groups with the trained model and the untrained encoder; score both where clusters are known."""
    predictions = []
    for group, labels, base_labels in zip(groups, trained.predict(groups), base.predict(groups)):
        scores = None
        if group.labelled:
            (mine,), (theirs,) = score_groups([labels], [group.clusters]), score_groups([base_labels], [group.clusters])
            scores = {**{k: round(100 * v, 2) for k, v in mine.items()},
                      **{f"base_{k}": round(100 * v, 2) for k, v in theirs.items()}}
        predictions.append(GroupPrediction(group, labels, base_labels, scores))
    return predictions


@dataclass
class TrainedModels:
    """A trained CACTUS, the untrained encoder clustered the same way, and how long the untrained one took."""

    model: CACTUS
    base: EncoderBaseline
    base_seconds: float


def train_models(train: list[EntityGroup], val: list[EntityGroup], settings: CACTUSParams, *,
                 embedders: EmbedderFactory, device: str, checkpoint_dir: str | Path | None,
                 encoder_loader: EncoderLoader = load_encoder, progress: ProgressFn = no_progress,
                 should_stop: StopFn = never_stop) -> TrainedModels:
    """Choose the untrained encoder's threshold on `val`, then train CACTUS on `train` (threshold chosen on `val`)."""
    started = time.perf_counter()
    progress("base", 0.0, f"Untrained {settings.encoder} on {len(val)} validation groups")
    base = EncoderBaseline(embedders(settings.encoder)).fit(val)
    base_seconds = time.perf_counter() - started
    model = CACTUS(**values_of(settings, CACTUSParams), device=device, checkpoint_dir=checkpoint_dir,
                   should_stop=should_stop, encoder_loader=encoder_loader,
                   progress=within(progress, 0.05, 0.95)).fit(train, val)
    return TrainedModels(model, base, base_seconds)
