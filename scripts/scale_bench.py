"""A whole baseline run at scale, stage by stage, against a bare encode of the same texts (bench_results/scale.md).

    python scripts/scale_bench.py 100000 --out bench_results/scale-100k.json
    python scripts/scale_bench.py 30000 --engine ray --out bench_results/scale-30k-ray.json
    python scripts/scale_bench.py 20000 --input tickets.csv --text-column body

N rows come from `core.data.scale.scale_corpus` (Bank77, CLINC150 and the support sample, varied deterministically)
or from --input. The run goes through the catalogue as `python -m core cluster` runs do, in a fresh ClusterLens home
(a cold embedding cache; --warm uses the default home and its cache). Each stage's seconds and peak resident memory
(this process and its children, sampled every SAMPLE_SECONDS) are printed; `ratio` is the whole run over a bare encode
of the same texts by the default backend's model (loaded beforehand, no cache), timed in this script.
With --engine ray the run embeds and assigns on a Ray cluster (--address, $RAY_ADDRESS, or a Ray started here) and
the script prints each embedding actor's rows/s and the overhead over the local run's JSON at the same N.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SAMPLE_SECONDS = 0.2
STAGE_NAMES = {"start": "load", "features": "embed", "compare": "cluster"}
"""Progress stages folded into the table's stages: the start is loading data and model."""


class MemorySampler:
    """Peak resident memory (MB) of this process and its children, per stage, sampled on a thread."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.stage = "load"
        self.peaks: dict[str, float] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def rss_mb(self) -> float:
        total = 0
        for process in [self.process, *self.process.children(recursive=True)]:
            try:
                total += process.memory_info().rss
            except Exception:  # a child that ended between listing and reading
                continue
        return total / 2**20

    def _sample(self) -> None:
        while not self._done.wait(SAMPLE_SECONDS):
            self.note()

    def note(self) -> None:
        self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), self.rss_mb())

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


class StageClock:
    """The run's progress callback: closes a stage when the next one starts, echoes one line per stage."""

    def __init__(self, memory: MemorySampler) -> None:
        self.memory = memory
        self.seconds: dict[str, float] = {}
        self.current = "load"
        self.started = self.opened = time.perf_counter()
        self.last_line = 0.0

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        stage = STAGE_NAMES.get(stage, stage)
        now = time.perf_counter()
        if stage != self.current:
            self.close(now)
            self.current, self.opened = stage, now
            self.memory.note()
            self.memory.stage = stage
        if stage != "done" and (now - self.last_line >= 10 or fraction == 0):
            self.last_line = now
            print(f"  [{now - self.started:7.1f} s] {stage:9} {100 * fraction:5.1f}%  {message}", file=sys.stderr,
                  flush=True)

    def close(self, now: float) -> None:
        self.seconds[self.current] = self.seconds.get(self.current, 0.0) + now - self.opened


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def bare_encode(texts: list[str], spec: str) -> tuple[float, str, float]:
    """(seconds, backend, peak RSS MB) of encoding `texts` with the default backend's model, loaded beforehand."""
    import psutil

    from core.embed.registry import choose_backend, describe_embedder, resolve_embedder

    backend = choose_backend(spec)
    model = resolve_embedder(spec).embedder  # the model itself, without the content cache
    if backend == "torch":
        bare = model.load()
        encode = partial(bare.encode, batch_size=model.batch_size, normalize_embeddings=True, show_progress_bar=False)
    else:
        encode = model.encode
    encode(texts[:64])
    started = time.perf_counter()
    encode(texts)
    seconds = time.perf_counter() - started
    return seconds, f"{describe_embedder(spec)[1]} on {backend}", psutil.Process().memory_info().rss / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, help="rows")
    parser.add_argument("--engine", choices=["local", "ray"], default="local")
    parser.add_argument("--address", help="Ray cluster (default $RAY_ADDRESS, else a Ray started here)")
    parser.add_argument("--warm", action="store_true", help="use the default home and its embedding cache")
    parser.add_argument("--input", help="a file to take the first N rows of, instead of the generated corpus")
    parser.add_argument("--text-column")
    parser.add_argument("--label-column")
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--local-json", help="with --engine ray: the local run at the same N (default: "
                                             "bench_results/scale-<N/1000>k.json)")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare encode (ratio left out)")
    parser.add_argument("--out", help="write the JSON result here")
    args = parser.parse_args()

    repo = Path(__file__).resolve().parents[1]
    home = None
    if not args.warm:
        home = Path(tempfile.mkdtemp(prefix="clusterlens-scale-"))
        models = repo / ".clusterlens" / "models"  # exported models are made once, not per cold run
        models.mkdir(parents=True, exist_ok=True)
        (home / "models").symlink_to(models, target_is_directory=True)
        os.environ["CLUSTERLENS_HOME"] = str(home)
    try:
        return run(args, repo)
    finally:
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)


def run(args: argparse.Namespace, repo: Path) -> int:

    from core.data.dataset import Dataset
    from core.data.intake import load_dataset
    from core.data.scale import scale_corpus
    from core.embed.registry import choose_backend
    from core.runs import create_run, default_store, execute_run, run_job, worker_name
    from core.settings import RunConfig

    if args.input:
        data = load_dataset(args.input, text_column=args.text_column, label_column=args.label_column)
        data = Dataset(data.frame.head(args.n).reset_index(drop=True), data.kind, data.roles, name=data.name)
    else:
        frame = scale_corpus(args.n)
        data = Dataset(frame, "text", {"text": "text", "label": "label"}, name=f"scale-{args.n}")
    texts = data.texts()
    load_before = load_average()
    bare_seconds, bare_model, bare_rss = (None, "", None) if args.no_bare else bare_encode(texts, args.embedder)
    if bare_seconds:
        print(f"bare encode: {bare_seconds:.1f} s ({len(texts) / bare_seconds:.0f} rows/s, {bare_model})",
              file=sys.stderr)

    config = RunConfig(method="baseline", dataset=data.name, kind="text", roles=data.roles,
                       method_settings={"embedder": args.embedder})
    runner, embedders = execute_run, []
    if args.engine == "ray":
        from core.runs.ray_engine import RayEmbedder, RaySettings, connect, execute_run_on_ray

        settings = RaySettings.from_env(address=args.address)
        connect(settings.address)

        def keep(spec: str) -> RayEmbedder:
            embedders.append(RayEmbedder(spec, settings))
            return embedders[-1]

        runner = partial(execute_run_on_ray, settings=settings, embedders=keep)
    store = default_store()
    record = create_run(store, config, data.frame, owner="scale-bench", path=Path(tempfile.mkdtemp()) / "run")
    with MemorySampler() as memory:
        clock = StageClock(memory)
        started = time.perf_counter()
        outcome = run_job(store, record.id, worker=worker_name("scale-bench"), runner=runner, echo=clock)
        total = time.perf_counter() - started
        clock.close(time.perf_counter())
    if outcome is None or outcome.status != "done":
        print(f"the run ended {outcome.status if outcome else 'unclaimed'}: {outcome.message if outcome else ''}",
              file=sys.stderr)
        return 1
    scores = record.directory.read_json("metrics.json")
    stages = {stage: {"seconds": round(seconds, 2), "peak_rss_mb": round(memory.peaks.get(stage, 0.0), 1)}
              for stage, seconds in clock.seconds.items() if stage != "done"}
    result = {
        "n": len(texts), "engine": args.engine, "stages": stages, "total_seconds": round(total, 2),
        "bare_encode_seconds": None if bare_seconds is None else round(bare_seconds, 2),
        "ratio": None if bare_seconds is None else round(total / bare_seconds, 3),
        "peak_rss_mb": round(max(memory.peaks.values()), 1),
        "bare_model": bare_model, "bare_peak_rss_mb": None if bare_rss is None else round(bare_rss, 1),
        "backend": choose_backend(args.embedder), "embedder": args.embedder, "warm": args.warm,
        "k": scores["k"], "nmi": scores["metrics"].get("nmi"), "fit_sample": config.clustering.fit_sample,
        "embed_rows_per_second": scores.get("embed_rows_per_second"),
        "load_average_before": load_before, "load_average_after": load_average(), "cores": os.cpu_count(),
        "command": "python scripts/scale_bench.py " + " ".join(sys.argv[1:]),
    }
    print(f"\nscale · n={len(texts):,} · engine={args.engine} · {result['backend']} · k={result['k']} · "
          f"NMI {100 * (result['nmi'] or float('nan')):.1f} · load {load_before} -> {result['load_average_after']}")
    print(f"{'stage':10} {'seconds':>9} {'peak RSS MB':>12}")
    for stage, row in stages.items():
        print(f"{stage:10} {row['seconds']:9.1f} {row['peak_rss_mb']:12.0f}")
    print(f"{'total':10} {total:9.1f} {result['peak_rss_mb']:12.0f}")
    if bare_seconds:
        print(f"bare encode {bare_seconds:.1f} s · ratio {result['ratio']:.2f}")
    if args.engine == "ray":
        rates = {worker: round(rate, 1) for embedder in embedders for worker, rate in embedder.worker_rates_.items()}
        result["worker_rows_per_second"] = rates
        for worker, rate in rates.items():
            print(f"worker {worker}: {rate:.1f} rows/s")
        local = Path(args.local_json or repo / "bench_results" / f"scale-{args.n // 1000}k.json")
        if local.exists():
            baseline = json.loads(local.read_text())["total_seconds"]
            result["local_total_seconds"] = baseline
            result["overhead"] = round(total / baseline, 3)
            print(f"overhead over the local run ({local.name}): {result['overhead']:.2f}x")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(record.path.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
