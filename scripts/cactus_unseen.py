"""CACTUS on unseen intents, one training per setting: `python scripts/cactus_unseen.py NAME [--mixed] [--seen]
[--val-domains N] [--set KEY=VALUE ...]`.

Trains once on clinc150-groups (--unseen unless --seen), then scores the val-split groups (the figures settings are
chosen on) and the test groups with the same model, so choosing on validation costs no second training. Writes
bench_results/cactus-unseen-NAME-{val,test}.json (the `bench` JSON shape) and appends one line per split to
bench_results/cactus-unseen.jsonl. Only the chosen setting's test line is reported in the README.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.bench import BenchOptions  # noqa: E402
from core.methods.cactus.bench import format_group_table, run_group_bench  # noqa: E402
from core.methods.cactus.settings import CACTUSSettings  # noqa: E402
from core.__main__ import StderrProgress, parse_pairs  # noqa: E402
from core.settings import parse_text_settings  # noqa: E402
from core.storage import dumps_json  # noqa: E402

RESULTS = Path("bench_results")


def summary_line(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """What one scored split of a run says, as one JSON line."""
    settings = result["settings"]
    return {"run": name, "dataset": result["dataset"], "split": result["split"], "unseen": result["unseen"],
            "val_domains": result["benchmark"]["val_domains"], "blend": result["blend"],
            "settings": {key: settings[key] for key in ("attention", "loss", "pretrain_steps", "blend", "lr", "epochs",
                                                        "context_bias")},
            "ami": result["metrics"]["ami"], "ari": result["metrics"]["ari"], "base_ami": result["base_metrics"]["ami"],
            "base_ari": result["base_metrics"]["ari"], "val_ami": result["val_ami"], "threshold": result["threshold"],
            "base_threshold": result["base_threshold"], "by_blend": result["by_blend"], "seconds": result["seconds"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--mixed", action="store_true", help="clinc150-groups-mixed")
    parser.add_argument("--seen", action="store_true", help="test intents seen in training (no --unseen)")
    parser.add_argument("--val-domains", type=int)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    options = BenchOptions(dataset="clinc150-groups-mixed" if args.mixed else "clinc150-groups", method="cactus",
                           split="val", unseen=not args.seen, val_domains=args.val_domains,
                           method_settings=parse_text_settings(CACTUSSettings, parse_pairs(args.set)))
    result = run_group_bench(options, progress=StderrProgress(), also="test")
    test = result.pop("also")
    with (RESULTS / "cactus-unseen.jsonl").open("a", encoding="utf-8") as lines:
        for scored in (result, test):
            (RESULTS / f"cactus-unseen-{args.name}-{scored['split']}.json").write_text(dumps_json(scored) + "\n")
            lines.write(json.dumps(summary_line(args.name, scored)) + "\n")
    print(format_group_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
