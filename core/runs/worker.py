"""`python -m core.runs.worker RUN_ID --worker NAME ...`: one run in its own process, as SubprocessExecutor starts it.

It runs the job (which reports only through the catalogue), then starts the next queued runs, so the queue drains
with no server alive. The run's outcome is in the catalogue; the exit status only says whether this process worked.
The operator's Streamlit secrets files are read here as the app reads them, so a judge in a worker gets the same
endpoints and keys (still never through the environment).
"""
from __future__ import annotations

import argparse
import sys

from core.llm.providers import secrets_from_files, use_secrets
from core.runs.executors import DEFAULT_RUNNER, SubprocessExecutor
from core.runs.jobs import named_runner, run_job
from core.runs.store import RunStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.runs.worker", description=__doc__)
    parser.add_argument("run_id")
    parser.add_argument("--worker", required=True, help="the name the run was reserved for")
    parser.add_argument("--catalogue", required=True, help="the catalogue's SQLite file")
    parser.add_argument("--runs-root", required=True, help="the folder of run folders")
    parser.add_argument("--runner", default=DEFAULT_RUNNER, help="the run function, as module:function")
    parser.add_argument("--workers", type=int, required=True, help="how many runs may execute at once")
    args = parser.parse_args(argv)
    store = RunStore(args.catalogue, args.runs_root)
    use_secrets(secrets_from_files())
    try:
        run_job(store, args.run_id, worker=args.worker, runner=named_runner(args.runner))
    finally:
        SubprocessExecutor(store, runner=args.runner, workers=args.workers, pump_seconds=None).dispatch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
