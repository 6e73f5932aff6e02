"""CACTUS (arXiv 2405.00988): learn how a team clusters small groups of entities, then cluster new groups that way.

Its shape differs from the other methods: it trains on many groups that each carry a clustering and predicts the
clustering of new groups, instead of representing one set of rows for the shared cluster-and-score tail. So
`CACTUS(...).fit(groups, val_groups).predict(new_groups)` is the estimator, and `CACTUSMethod.execute` is a whole run
(train in the background job runner, choose the threshold, score against the untrained encoder, save the model),
which `execute_run` hands over to instead of the usual represent -> cluster pipeline.
"""
from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from core.cluster.threshold import choose_threshold, cluster_by_threshold, score_groups
from core.data.dataset import Dataset
from core.data.groups import EntityGroup, split_groups, training_groups
from core.embed.registry import DEFAULT_EMBEDDER
from core.errors import RunCancelled, SettingsError
from core.embed.base import Embedder
from core.methods.base import EmbedderFactory, ProgressFn, Representation, RunContext, no_progress
from core.metrics import mean_std

EncoderLoader = Callable[[str, str], tuple[Any, Any]]
"""loader(encoder setting, device) -> (Hugging Face encoder, tokenizer); injected so tests use a tiny model."""
MODEL_FOLDER = "cactus-model"
CHECKPOINT_FOLDER = "cactus-checkpoints"
WEIGHTS = "network.safetensors"
SAVED = "cactus.json"


def _default_loader(spec: str, device: str) -> tuple[Any, Any]:
    from core.methods.cactus_attention import load_encoder

    return load_encoder(spec, device)


class CACTUS:
    """Context-aware clustering of entity groups.

    Fine-tunes `encoder` with `attention` ("sia", "nia" or "fia") between a group's entities (`context_bias`: the
    starting score offset of other entities' keys, see ContextEncoder): first self-supervised (`pretrain_steps`
    steps on word-dropped copies of training texts, `word_drop` the drop rate), then on the labelled
    groups for `epochs` epochs with the `loss` ("augmented" triplet with a learned neutral similarity, or "triplet")
    and `margin`, `batch_groups` groups per step. Prediction is average-link clustering on cosine distance cut at a
    threshold chosen on the validation groups.

    Learned: `network_`, `threshold_`, `threshold_curve_` ({threshold: mean validation AMI}), `neutral_` (s₀),
    `history_` ({"pretrain": losses, "train": losses}), `seconds_` (per stage).
    """

    def __init__(self, encoder: str = DEFAULT_EMBEDDER, *, attention: str = "sia", context_bias: float = -3.0,
                 loss: str = "augmented", margin: float = 0.1, epochs: int = 1, lr: float = 5e-5, batch_groups: int = 1,
                 pretrain_steps: int = 0, word_drop: float = 0.3, max_tokens: int = 32, seed: int = 0,
                 device: str = "cpu", checkpoint_dir: str | Path | None = None, progress: ProgressFn = no_progress,
                 should_stop: Callable[[], bool] | None = None,
                 encoder_loader: EncoderLoader = _default_loader) -> None:
        self.encoder = encoder
        self.attention = attention
        self.context_bias = context_bias
        self.loss = loss
        self.margin = margin
        self.epochs = epochs
        self.lr = lr
        self.batch_groups = batch_groups
        self.pretrain_steps = pretrain_steps
        self.word_drop = word_drop
        self.max_tokens = max_tokens
        self.seed = seed
        self.device = device
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress
        self.should_stop = should_stop
        self.encoder_loader = encoder_loader

    def fit(self, groups: Sequence[EntityGroup], val_groups: Sequence[EntityGroup] | None = None) -> "CACTUS":
        """Train on labelled groups, then choose the threshold on `val_groups` (the training groups when None)."""
        from core.methods.cactus_training import epoch_order, self_supervised_groups, train_stage
        from core.methods.erasmo_training import seed_everything

        groups = list(groups)
        self._check(groups, val_groups)
        seed_everything(self.seed)
        self.network_ = self._network()
        self.history_ = {"pretrain": [], "train": []}
        self.seconds_: dict[str, float] = {}
        pretrain = self.pretrain_steps if groups else 0
        train = -(-self.epochs * len(groups) // self.batch_groups)
        share = 0.9 * pretrain / max(pretrain + train, 1)
        stages = (("pretrain", pretrain, self_supervised_groups(groups, self.word_drop, self.seed) if groups else None,
                   "self-supervised pretraining", (0.0, share)),
                  ("train", train, epoch_order(groups, self.seed) if groups else None, "training", (share, 0.9)))
        for name, steps, group_at, title, (low, high) in stages:
            if not steps:
                continue
            start = time.perf_counter()
            self.progress(name, low, f"Starting {title} ({steps} steps)")
            self.history_[name] = train_stage(
                self.network_, group_at, steps=steps, batch_groups=self.batch_groups, lr=self.lr, loss=self.loss,
                margin=self.margin, seed=self.seed + (0 if name == "pretrain" else 1),
                checkpoint=self._checkpoint(name), should_stop=self.should_stop,
                progress=lambda fraction, message: self.progress(name, low + (high - low) * fraction,
                                                                 f"{title.capitalize()}: {message}"))
            self.seconds_[name] = time.perf_counter() - start
        self.neutral_ = float(self.network_.neutral.detach())
        start = time.perf_counter()
        chosen_on = list(val_groups) if val_groups else groups
        self.progress("threshold", 0.9, f"Choosing the threshold on {len(chosen_on)} validation groups")
        self.threshold_, self.threshold_curve_ = choose_threshold(self.embed(chosen_on),
                                                                  [g.clusters for g in chosen_on])
        self.seconds_["threshold"] = time.perf_counter() - start
        self.progress("threshold", 1.0, f"Threshold {self.threshold_:.2f} (cosine distance)")
        return self

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
                                                "neutral": self.neutral_}, indent=2))

    @classmethod
    def load(cls, folder: str | Path, *, device: str = "cpu",
             encoder_loader: EncoderLoader = _default_loader) -> "CACTUS":
        """A trained CACTUS saved by `save`, ready to predict."""
        from safetensors.torch import load_model

        folder = Path(folder)
        saved = json.loads((folder / SAVED).read_text())
        model = cls(**saved["settings"], device=device, encoder_loader=encoder_loader)
        model.network_ = model._network()
        load_model(model.network_, str(folder / WEIGHTS), device=device)
        model.network_.eval()
        model.threshold_, model.neutral_ = float(saved["threshold"]), float(saved["neutral"])
        return model

    def _settings(self) -> dict[str, Any]:
        names = ("encoder", "attention", "context_bias", "loss", "margin", "epochs", "lr", "batch_groups",
                 "pretrain_steps", "word_drop", "max_tokens", "seed")
        return {name: getattr(self, name) for name in names}

    def _network(self):
        from core.methods.cactus_attention import ContextEncoder
        from core.methods.cactus_training import CactusNetwork

        model, tokenizer = self.encoder_loader(self.encoder, self.device)
        encoder = ContextEncoder(model, self.attention, self.context_bias)
        return CactusNetwork(encoder, tokenizer, self.max_tokens).to(self.device).eval()

    def _checkpoint(self, stage: str):
        from core.methods.erasmo_training import Checkpoint

        if self.checkpoint_dir is None:
            return None
        return Checkpoint(Path(self.checkpoint_dir) / stage, {**self._settings(), "stage": stage})

    def _check(self, groups: list[EntityGroup], val_groups: Sequence[EntityGroup] | None) -> None:
        from core.methods.cactus_attention import check_attention
        from core.methods.cactus_training import LOSSES

        check_attention(self.attention)
        if self.loss not in LOSSES:
            raise SettingsError(f"loss must be one of {', '.join(LOSSES)}, not {self.loss!r}.")
        if min(self.epochs, self.pretrain_steps) < 0 or self.batch_groups < 1 or self.max_tokens < 4 or self.lr <= 0:
            raise SettingsError("epochs and pretrain_steps must be at least 0, batch_groups at least 1, "
                                "max_tokens at least 4 and lr positive.")
        if not 0 <= self.word_drop < 1 or self.margin < 0:
            raise SettingsError("word_drop must be in [0, 1) and margin at least 0.")
        if not groups and not val_groups:
            raise SettingsError("CACTUS needs labelled groups: to train on, or at least to choose its threshold on.")
        unlabelled = [g.id for g in [*groups, *(val_groups or [])] if not g.labelled]
        if unlabelled:
            raise SettingsError(f"Groups without clusters cannot be trained or validated on: {unlabelled[:3]}.")

    def _check_stop(self) -> None:
        if self.should_stop is not None and self.should_stop():
            raise RunCancelled("The run was cancelled.")


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


def load_run_report(run_dir: str | Path) -> dict[str, Any]:
    """A CACTUS run's settings (as started) and metrics (when finished): {"settings": {...}, "metrics": {...}|None}."""
    from core.runs.directory import CONFIG, METRICS, RunDirectory

    directory = RunDirectory(run_dir)
    config = directory.read_json(CONFIG, {})
    settings = asdict(CACTUSSettings(**config.get("method_settings", {})))
    return {"settings": settings, "metrics": directory.read_json(METRICS)}


@dataclass
class CACTUSSettings:
    """CACTUS's settings. `attention` sia (the paper's), nia or fia; `context_bias` the starting score offset of
    other entities' keys (learned; 0 starts as the paper's plain SIA); `loss` augmented (the paper's) or triplet;
    `pretrain_steps` self-supervised steps on word-dropped copies (0: none); `val_fraction` of the labelled groups
    chooses the clustering threshold and gives the scores. Defaults (*ours*, chosen on CLINC150 validation groups:
    the offset at -3 and no self-supervision scored best) train in minutes on a 2-core CPU."""

    encoder: str = DEFAULT_EMBEDDER
    attention: str = "sia"
    context_bias: float = -3.0
    loss: str = "augmented"
    margin: float = 0.1
    epochs: int = 1
    lr: float = 5e-5
    batch_groups: int = 1
    pretrain_steps: int = 0
    word_drop: float = 0.3
    max_tokens: int = 32
    val_fraction: float = 0.2
    seed: int = 0

    def estimator_settings(self) -> dict[str, Any]:
        """The keyword arguments of CACTUS these settings fix."""
        values = asdict(self)
        values.pop("val_fraction")
        return values


class CACTUSMethod:
    """CACTUS as a run: train on a groups table's labelled groups, score against the untrained encoder, save."""

    name: ClassVar[str] = "cactus"
    title: ClassVar[str] = "CACTUS (learn to cluster groups the way your team does)"
    kinds: ClassVar[tuple[str, ...]] = ("text",)
    settings_type: ClassVar[type] = CACTUSSettings
    page: ClassVar[str] = "pages/cactus.py"

    def __init__(self, encoder_loader: EncoderLoader = _default_loader) -> None:
        self.encoder_loader = encoder_loader

    def represent(self, data: Dataset, settings: CACTUSSettings, context: RunContext) -> Representation:
        raise SettingsError("CACTUS clusters groups of entities, not one set of rows: use the CACTUS page, or "
                            "`python -m core bench clinc150-groups --method cactus`.")

    def execute(self, data: Dataset, settings: CACTUSSettings, context: RunContext) -> dict[str, Any]:
        """The whole run: split the labelled groups, train, choose the threshold, score, save model and metrics."""
        from core.runs.directory import METRICS  # core.runs imports the method registry: import it when running

        table = training_groups(data)
        train, val = split_groups(list(table.labelled), settings.val_fraction, settings.seed)
        context.report("base", 0.0, f"Untrained encoder on {len(val)} validation groups")
        base = EncoderBaseline(context.embedders(settings.encoder)).fit(val)
        model = CACTUS(**settings.estimator_settings(), device=context.device,
                       checkpoint_dir=context.directory.file(CHECKPOINT_FOLDER), should_stop=context.should_stop,
                       encoder_loader=self.encoder_loader,
                       progress=lambda stage, fraction, message: context.report(stage, 0.05 + 0.9 * fraction, message),
                       ).fit(train, val)
        context.report("score", 0.97, "Scoring the validation groups")
        trained_scores, base_scores = scores_by_group(model, val), scores_by_group(base, val)
        model.save(context.directory.file(MODEL_FOLDER))
        shutil.rmtree(context.directory.file(CHECKPOINT_FOLDER), ignore_errors=True)
        metrics = {
            "kind": "groups",
            "groups": {"train": len(train), "val": len(val), "unlabelled": len(table.unlabelled)},
            "notes": list(table.notes),
            "metrics": summarize(trained_scores), "base_metrics": summarize(base_scores),
            "per_group": [{"group": group.id, "entities": len(group), "clusters": len(set(group.clusters)),
                           **{key: round(100 * value, 2) for key, value in trained.items()},
                           **{f"base_{key}": round(100 * value, 2) for key, value in untrained_.items()}}
                          for group, trained, untrained_ in zip(val, trained_scores, base_scores)],
            "threshold": model.threshold_, "base_threshold": base.threshold_, "neutral": model.neutral_,
            "loss_curve": model.history_, "seconds": {k: round(v, 2) for k, v in model.seconds_.items()},
        }
        context.directory.write_json(METRICS, metrics)
        return {"groups": len(train), "ami": metrics["metrics"]["ami"][0], "ari": metrics["metrics"]["ari"][0],
                "base_ami": metrics["base_metrics"]["ami"][0], "base_ari": metrics["base_metrics"]["ari"][0]}


def load_run_models(run_dir: str | Path, embedders: EmbedderFactory, *, device: str = "cpu",
                    encoder_loader: EncoderLoader = _default_loader) -> tuple[CACTUS, EncoderBaseline]:
    """(trained CACTUS, untrained encoder baseline) of a finished run, both ready to cluster new groups."""
    from core.runs.directory import METRICS

    run_dir = Path(run_dir)
    trained = CACTUS.load(run_dir / MODEL_FOLDER, device=device, encoder_loader=encoder_loader)
    threshold = json.loads((run_dir / METRICS).read_text())["base_threshold"]
    return trained, EncoderBaseline.restored(embedders(trained.encoder), threshold)
