"""What Explore computes on its first render, step by step, for a finished run folder (library calls only, no
browser): `python scripts/time_explore.py RUN_DIR`. Run it twice: the first pass pays the names a run made by the
command line has not stored yet; the second is what every later page load pays."""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(run_dir: str) -> None:
    started = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal started
        now = time.perf_counter()
        print(f"{step:32s} {now - started:7.2f} s", flush=True)
        started = now

    from core.curation import Curation
    from core.runs.artifacts import load_artifacts
    from pages.charts import cluster_map
    lap("imports")
    run = load_artifacts(run_dir)
    lap("load the run")
    curation = Curation(run_dir)
    state = curation.current()
    lap("current clusters and names")
    curation.scores()
    lap("scores")
    drawn = run.hover_rows()
    figure, _ = cluster_map(run.projection, state.labels, state.names(), run.hover_texts(rows=drawn), rows=drawn)
    figure.to_json()
    lap("map figure")
    curation.terms()
    lap("terms")


if __name__ == "__main__":
    main(sys.argv[1])
