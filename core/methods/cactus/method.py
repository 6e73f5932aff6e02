"""CACTUS as a whole run (train on a groups table's labelled groups, score against the untrained encoder, save) and
its benchmark, both through one training function so the benchmark measures exactly what a run does."""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

from core.data.dataset import Dataset
from core.data.group_benchmarks import GROUP_BENCHMARKS
from core.data.groups import split_groups, training_groups
from core.embed.encoders import load_encoder
from core.methods.base import EmbedderFactory, Method, RunContext
from core.methods.cactus.bench import format_group_table, run_group_bench
from core.methods.cactus.estimator import (CACTUS, EncoderBaseline, EncoderLoader, scores_by_group, summarize,
                                           train_models)
from core.methods.cactus.settings import CACTUSSettings
from core.methods.costs import LOAD_SECONDS, embed_seconds, train_seconds
from core.progress import ProgressFn, no_progress
from core.settings import settings_from_dict
from core.storage import CONFIG, METRICS, RunDirectory

MODEL_FOLDER = "cactus-model"
CHECKPOINT_FOLDER = "cactus-checkpoints"


class CACTUSMethod(Method):
    """CACTUS as a run: train on a groups table's labelled groups, score against the untrained encoder, save."""

    name: ClassVar[str] = "cactus"
    label: ClassVar[str] = "CACTUS"
    title: ClassVar[str] = "CACTUS (learn to cluster groups the way your team does)"
    summary: ClassVar[str] = ("Learns from groups a person already clustered (a session's queries, an order's "
                              "products) and clusters new groups the same way.")
    kinds: ClassVar[tuple[str, ...]] = ("text",)
    settings_type: ClassVar[type] = CACTUSSettings
    whole_run: ClassVar[bool] = True
    view: ClassVar[str] = "groups"

    def __init__(self, encoder_loader: EncoderLoader = load_encoder) -> None:
        self.encoder_loader = encoder_loader

    def execute(self, data: Dataset, settings: CACTUSSettings, context: RunContext) -> dict[str, Any]:
        """The whole run: split the labelled groups, train, choose the threshold, score, save model and metrics."""
        table = training_groups(data)
        train, val = split_groups(list(table.labelled), settings.val_fraction, settings.seed)
        trained = train_models(train, val, settings, embedders=context.embedders, device=context.device,
                               checkpoint_dir=context.directory.file(CHECKPOINT_FOLDER),
                               encoder_loader=self.encoder_loader, progress=context.report,
                               should_stop=context.should_stop)
        model, base = trained.model, trained.base
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
                           **{key: round(100 * value, 2) for key, value in mine.items()},
                           **{f"base_{key}": round(100 * value, 2) for key, value in theirs.items()}}
                          for group, mine, theirs in zip(val, trained_scores, base_scores)],
            "threshold": model.threshold_, "base_threshold": base.threshold_, "neutral": model.neutral_,
            "blend": model.blend_,
            "loss_curve": model.history_, "seconds": {k: round(v, 2) for k, v in model.seconds_.items()},
        }
        context.directory.write_json(METRICS, metrics)
        return {"groups": len(train), "ami": metrics["metrics"]["ami"][0], "ari": metrics["metrics"]["ari"][0],
                "base_ami": metrics["base_metrics"]["ami"][0], "base_ari": metrics["base_metrics"]["ari"][0]}

    def estimate_seconds(self, data: Dataset, settings: CACTUSSettings, device: str) -> float:
        """Every entity through the encoder and back once per epoch (and the self-supervised steps), then the
        trained and the untrained encoder over the validation groups."""
        rows = len(data.frame)
        training = train_seconds(rows * max(settings.epochs, 0) + settings.pretrain_steps * settings.batch_groups,
                                 settings.encoder, device)
        return LOAD_SECONDS + training + 2 * embed_seconds(rows, settings.encoder, device)

    def bench(self, options: Any, progress: ProgressFn = no_progress) -> dict[str, Any]:
        return run_group_bench(options, progress, encoder_loader=self.encoder_loader)

    def format_bench(self, result: dict[str, Any]) -> str:
        return format_group_table(result)

    def bench_datasets(self) -> tuple[str, ...]:
        return tuple(GROUP_BENCHMARKS)


def load_run_report(run_dir: str | Path) -> dict[str, Any]:
    """A CACTUS run's settings (as started) and metrics (when finished): {"settings": {...}, "metrics": {...}|None}."""
    directory = RunDirectory(run_dir)
    config = directory.read_json(CONFIG, {})
    settings = asdict(settings_from_dict(CACTUSSettings, config.get("method_settings", {})))
    return {"settings": settings, "metrics": directory.read_json(METRICS)}


def load_run_models(run_dir: str | Path, embedders: EmbedderFactory, *, device: str = "cpu",
                    encoder_loader: EncoderLoader = load_encoder) -> tuple[CACTUS, EncoderBaseline]:
    """(trained CACTUS, untrained encoder baseline) of a finished run, both ready to cluster new groups."""
    run_dir = Path(run_dir)
    trained = CACTUS.load(run_dir / MODEL_FOLDER, device=device, encoder_loader=encoder_loader)
    threshold = json.loads((run_dir / METRICS).read_text())["base_threshold"]
    return trained, EncoderBaseline.restored(embedders(trained.encoder), threshold)
