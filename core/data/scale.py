"""A large labelled text file made deterministically from the data at hand, for measuring ClusterLens at scale.

Bank77 (train + test), CLINC150 (train + val + test) and the bundled support sample give about 35,000 distinct
short texts in 237 intents. Beyond that, each round rewrites every text once more with a fixed opening and closing
("hi, … thanks"), as people write the same request in many ways; duplicates are dropped, so every text is new to
the embedder. The label is the source's intent, prefixed by its source.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.data.benchmarks import load_benchmark
from core.data.samples import load_sample
from core.errors import IntakeError

SOURCES: tuple[tuple[str, str], ...] = (("bank77", "train"), ("bank77", "test"), ("clinc150-intent", "train"),
                                        ("clinc150-intent", "val"), ("clinc150-intent", "test"))
OPENINGS: tuple[str, ...] = ("", "hi, ", "hello, ", "quick question: ", "please help: ", "good morning. ",
                             "sorry to bother you, ", "hey there - ", "urgent: ", "one more thing: ")
CLOSINGS: tuple[str, ...] = ("", " thanks", " thank you!", " please", " asap", " cheers", " any idea?",
                             " regards", " (sent from my phone)", " thx")


def base_texts() -> pd.DataFrame:
    """Every distinct (text, label) of the sources, in a fixed order."""
    parts = []
    for name, split in SOURCES:
        data = load_benchmark(name, split)
        parts.append(pd.DataFrame({"text": data.texts(), "label": [f"{name.split('-')[0]}:{label}"
                                                                     for label in data.labels()]}))
    sample = load_sample("support_requests")
    parts.append(pd.DataFrame({"text": sample.texts(), "label": [f"support:{label}" for label in sample.labels()]}))
    frame = pd.concat(parts, ignore_index=True)
    return frame.drop_duplicates("text", ignore_index=True)


def scale_corpus(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """`n_rows` distinct labelled texts (columns text, label), the same for the same (n_rows, seed).

    Round 0 is the texts as they are; round r rewrites each text with the r-th (opening, closing) pair of a seeded
    shuffle of all pairs, so a round adds up to one new variant of every text."""
    if n_rows < 1:
        raise IntakeError(f"A generated file needs at least one row, not {n_rows}.")
    base = base_texts()
    rng = np.random.default_rng(seed)
    pairs = [(opening, closing) for opening in OPENINGS for closing in CLOSINGS if opening or closing]
    pairs = [pairs[i] for i in rng.permutation(len(pairs))]
    rounds = [base]
    total = len(base)
    for opening, closing in pairs:
        if total >= n_rows:
            break
        varied = base.assign(text=opening + base["text"].str.rstrip(" ?.!") + closing)
        rounds.append(varied)
        total += len(varied)
    if total < n_rows:
        raise IntakeError(f"At most {total:,} distinct texts can be generated; ask for fewer than {n_rows:,}.")
    frame = pd.concat(rounds, ignore_index=True).drop_duplicates("text", ignore_index=True)
    keep = np.sort(rng.permutation(len(frame))[:n_rows]) if len(frame) > n_rows else np.arange(len(frame))
    return frame.iloc[keep].reset_index(drop=True)
