"""What each executor costs on a small baseline run: the bundled support sample (300 texts), Run page defaults.

    python scripts/bench_executors.py --runs 3 --out bench_results/executors.json

In a fresh ClusterLens home (the embedding cache warmed by one run that is not counted), it submits `--runs` runs
one after another to the subprocess executor, then to the thread executor, and reads from the catalogue how long
each waited to start (submit to claim: a worker process's start-up) and how long it ran (claim to done). This
process has run nothing before the thread executor's first run, as a freshly started server. Then, to show where a
new process's time goes, a fresh process imports the library and does the same run twice, timing each stage.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def measure(executor, store, config, frame, runs: int) -> list[dict[str, float]]:
    """Submit `runs` runs one at a time; seconds to start, to run and in all, from the catalogue's times."""
    from core.runs import create_run

    found = []
    for _ in range(runs):
        record = create_run(store, config, frame, owner="bench")
        submitted = time.time()
        executor.submit(record.id)
        status = executor.wait(record.id, timeout=1200)
        assert status == "done", store.get(record.id).message
        done = store.get(record.id)
        found.append({"start": round(done.started - submitted, 2), "run": round(done.updated - done.started, 2),
                      "total": round(done.updated - submitted, 2)})
    return found


def stage_seconds() -> dict[str, object]:
    """In this fresh process (nothing of the library imported yet): seconds of imports, then of each stage of the
    same run done twice."""
    started = time.perf_counter()
    from core.data.samples import load_sample
    from core.runs import RunDirectory, execute_run, prepare_run
    from core.settings import RunConfig

    found: dict[str, object] = {"imports": round(time.perf_counter() - started, 1)}
    data = load_sample("support_requests")
    config = RunConfig(method="baseline", dataset=data.name, kind=data.kind, roles=data.roles)
    for attempt in ("first run", "second run"):
        folder = tempfile.mkdtemp()
        prepare_run(RunDirectory(folder), config, data.frame)
        marks: dict[str, float] = {}
        begun = time.perf_counter()
        execute_run(config, folder, lambda stage, fraction, message: marks.setdefault(stage, time.perf_counter()))
        ends = [*list(marks.values())[1:], time.perf_counter()]
        found[attempt] = {stage: round(end - start, 1) for (stage, start), end in zip(marks.items(), ends)}
        found[attempt]["total"] = round(time.perf_counter() - begun, 1)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", help="write the figures here as JSON")
    parser.add_argument("--stages", action="store_true", help=argparse.SUPPRESS)  # the fresh process's part
    args = parser.parse_args()
    os.environ["CLUSTERLENS_HOME"] = os.environ.get("BENCH_HOME") or tempfile.mkdtemp(prefix="clusterlens-bench-")
    if args.stages:
        print(json.dumps(stage_seconds()))
        return 0

    from core.data.samples import load_sample
    from core.runs import SubprocessExecutor, ThreadExecutor, default_store
    from core.settings import RunConfig

    data = load_sample("support_requests")
    config = RunConfig(method="baseline", dataset=data.name, kind=data.kind, roles=data.roles)
    store = default_store()
    results: dict[str, object] = {"data": f"{data.name} ({len(data.frame)} rows)", "method": "baseline",
                                  "cpus": len(os.sched_getaffinity(0)), "load_before": os.getloadavg()[0]}
    with SubprocessExecutor(store, workers=1, pump_seconds=None) as executor:
        measure(executor, store, config, data.frame, 1)  # warms the embedding cache, not counted
        results["subprocess"] = measure(executor, store, config, data.frame, args.runs)
    with ThreadExecutor(store, workers=1, pump_seconds=None) as executor:
        results["thread"] = measure(executor, store, config, data.frame, args.runs)
    fresh = subprocess.run([sys.executable, __file__, "--stages"], capture_output=True, text=True, check=True,
                           env={**os.environ, "BENCH_HOME": os.environ["CLUSTERLENS_HOME"]})
    results["stages"] = json.loads(fresh.stdout.strip().splitlines()[-1])
    results["load_after"] = os.getloadavg()[0]
    for kind in ("subprocess", "thread"):
        runs = results[kind]
        print(f"{kind:>10}: " + "  ".join(f"start {r['start']:5.1f} s + run {r['run']:5.1f} s = {r['total']:5.1f} s"
                                          for r in runs) +
              f"   (median total {statistics.median(r['total'] for r in runs):.1f} s)")
    print(f"    stages: {results['stages']}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(os.environ["CLUSTERLENS_HOME"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
