"""CACTUS's benchmark: train on generated groups, choose the threshold on validation groups, score the test groups.

`python -m core bench clinc150-groups --method cactus [--attention sia|nia|fia] [--loss augmented|triplet] [--unseen]
[--split val]` writes {"dataset", "method", "n" (test groups), "k" (intents they draw from), "metrics": {"ami", "ari"} and
"base_metrics" (the untrained encoder, same clustering) as [mean, std] over test groups on a 0-100 scale,
"seconds": {"train", ...}}. The groups are fixed by the benchmark's own seed; the training seed is CACTUS's `seed`.
`--split val` scores groups drawn from the val split instead of the test groups, to choose settings on.
"""
from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from core import paths
from core.cluster.threshold import cluster_by_threshold, score_groups
from core.data.group_benchmarks import GROUP_BENCHMARKS, GroupBenchmark, load_group_benchmark
from core.device import resolve_device
from core.embed.encoders import load_encoder
from core.data.groups import EntityGroup
from core.embed.registry import resolve_embedder
from core.errors import SettingsError
from core.methods.base import EmbedderFactory
from core.methods.cactus.estimator import (CACTUS, EncoderLoader, TrainedModels, scores_by_group, summarize,
                                          train_models)
from core.methods.cactus.settings import CACTUSSettings
from core.progress import ProgressFn, no_progress, within
from core.settings import settings_from_dict


def run_group_bench(options: Any, progress: ProgressFn = no_progress, *, spec: GroupBenchmark | None = None,
                    embedders: EmbedderFactory | None = None,
                    encoder_loader: EncoderLoader = load_encoder, also: str | None = None) -> dict[str, Any]:
    """Benchmark CACTUS (settings from `options.method_settings`) against the untrained encoder on a groups benchmark.

    `spec` (the benchmark's default sizes), `embedders` and `encoder_loader` are injectable for tests. With `also`
    ("val" or "test"), the same trained models also score that split's groups, as the result's "also" (one training
    gives the validation figure that chooses a setting and the test figure reported for it)."""
    if options.dataset not in GROUP_BENCHMARKS:
        raise SettingsError(f"CACTUS is benchmarked on groups: use one of {', '.join(GROUP_BENCHMARKS)}, not "
                            f"{options.dataset!r}.")
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    if options.split not in ("test", "val"):
        raise SettingsError(f"Groups are scored on the test split (reported figures) or the val split (choosing "
                            f"settings), not {options.split!r}.")
    held = {} if getattr(options, "val_domains", None) is None else {"val_domains": options.val_domains}
    spec = spec or GroupBenchmark(name=options.dataset, unseen=options.unseen,
                                  mixed=options.dataset.endswith("-mixed"), scored=options.split, **held)
    splits = load_group_benchmark(spec)
    settings = settings_from_dict(CACTUSSettings, options.method_settings)
    device = resolve_device(options.device)
    seconds["load"] = time.perf_counter() - start

    work_dir = options.work_dir or Path(tempfile.mkdtemp(prefix=f"cactus-{options.dataset}-", dir=paths.bench_dir()))
    lap = time.perf_counter()
    trained = train_models(splits["train"], splits["val"], settings,
                           embedders=embedders or (lambda name: resolve_embedder(name, device=device)),
                           device=device, checkpoint_dir=Path(work_dir) / "checkpoints", encoder_loader=encoder_loader,
                           progress=within(progress, 0.0, 0.9))
    model = trained.model
    seconds["train"] = time.perf_counter() - lap - trained.base_seconds
    seconds.update({f"train_{stage}": value for stage, value in model.seconds_.items()})
    shutil.rmtree(Path(work_dir) / "checkpoints", ignore_errors=True)

    scored = [(spec, splits)]
    if also is not None and also != spec.scored:  # the same training and validation groups, other scored groups
        other = dataclasses.replace(spec, scored=also)
        scored.append((other, {**splits, "test": load_group_benchmark(other)["test"]}))
    results = [scored_result(options, on, groups, trained, settings, device, dict(seconds), start, progress)
               for on, groups in scored]
    if len(results) > 1:
        results[0]["also"] = results[1]
    return results[0]


def scored_result(options: Any, spec: GroupBenchmark, splits: dict[str, list[EntityGroup]], trained: TrainedModels,
                  settings: CACTUSSettings, device: str, seconds: dict[str, float], start: float,
                  progress: ProgressFn = no_progress) -> dict[str, Any]:
    """The benchmark JSON for trained models scored on `splits["test"]` (the groups `spec.scored` names)."""
    model, base = trained.model, trained.base
    lap = time.perf_counter()
    progress("test", 0.92, f"Clustering {len(splits['test'])} {spec.scored} groups")
    scores, base_scores = scores_by_group(model, splits["test"]), scores_by_group(base, splits["test"])
    seconds["test"] = time.perf_counter() - lap
    by_blend = scores_by_blend(model, splits["test"]) if spec.scored == "val" else {}  # test: only the chosen blend
    seconds["base"] = trained.base_seconds
    seconds["total"] = time.perf_counter() - start
    return {
        "dataset": options.dataset,
        "method": options.method,
        "n": len(splits["test"]),
        "k": len({cluster for group in splits["test"] for cluster in group.clusters}),
        "metrics": summarize(scores),
        "base_metrics": summarize(base_scores),
        "seconds": {name: round(value, 2) for name, value in seconds.items()},
        "kind": "groups",
        "split": spec.scored,
        "unseen": options.unseen,
        "groups": {split: len(groups) for split, groups in splits.items()},
        "entities": {split: sum(len(g) for g in groups) for split, groups in splits.items()},
        "benchmark": dataclasses.asdict(spec),
        "settings": dataclasses.asdict(settings),
        "device": device,
        "threshold": model.threshold_, "base_threshold": base.threshold_, "neutral": model.neutral_,
        "blend": model.blend_, "by_blend": by_blend,
        "cross_bias_by_layer": [round(float(row.mean()), 3) for row in model.network_.encoder.cross_bias.detach()],
        "val_ami": {"cactus": round(100 * model.threshold_curve_[model.threshold_], 2),
                    "untrained": round(100 * base.threshold_curve_[base.threshold_], 2)},
        "loss": {stage: [round(float(sum(values[i:i + 50]) / len(values[i:i + 50])), 4)
                         for i in range(0, len(values), 50)] for stage, values in model.history_.items()},
    }


def scores_by_blend(model: CACTUS, groups: list[EntityGroup]) -> dict[str, dict[str, Any]]:
    """When the blend was chosen on validation groups, each blend tried: its threshold and validation AMI, and the
    scored val-split groups' AMI and ARI at that blend (what the choice cost; not computed for test groups). The
    model is left at its chosen blend. Empty when the fit tried no blend (the default keeps the trained weights)."""
    if not model.blend_curve_:
        return {}
    chosen, out = model.blend_, {}
    for share, (threshold, val_ami) in model.blend_curve_.items():
        model.set_blend(share)
        predicted = [cluster_by_threshold(vectors, threshold) for vectors in model.embed(groups)]
        scored = summarize(score_groups(predicted, [group.clusters for group in groups]))
        out[f"{share:g}"] = {"threshold": threshold, "val_ami": round(100 * val_ami, 2), **scored}
    model.set_blend(chosen)
    return out


def group_kind(result: dict[str, Any]) -> str:
    """What the scored groups are made of, for the table's heading."""
    if result["dataset"].endswith("-mixed"):
        return "mixed groups (by intent or by domain)"
    return "unseen intents" if result["unseen"] else "seen intents"


def format_group_table(result: dict[str, Any]) -> str:
    """A groups benchmark result as a small text table: trained and untrained AMI/ARI, mean ± std over the scored
    groups (test, or val-split groups with --split val)."""
    settings = result["settings"]
    lines = [f"{result['dataset']} · {result['method']} · attention={settings['attention']} · "
             f"loss={settings['loss']} · "
             f"pretrain_steps={settings['pretrain_steps']} · blend={result['blend']:g} · "
             f"{group_kind(result)} · "
             f"{result['n']} {result.get('split', 'test')} groups",
             f"{'model':<22}{'AMI':>16}{'ARI':>16}"]
    for label, key in (("CACTUS", "metrics"), ("untrained encoder", "base_metrics")):
        ami, ari = result[key]["ami"], result[key]["ari"]
        lines.append(f"{label:<22}{ami[0]:>9.2f} ± {ami[1]:<5.2f}{ari[0]:>9.2f} ± {ari[1]:<5.2f}")
    lines.append(f"validation AMI (chose the threshold): CACTUS {result['val_ami']['cactus']:.2f}, "
                 f"untrained {result['val_ami']['untrained']:.2f}")
    lines.append("seconds: " + ", ".join(f"{name} {value:.1f}" for name, value in result["seconds"].items()))
    return "\n".join(lines)
