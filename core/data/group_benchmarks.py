"""Benchmarks of groups (CACTUS): CLINC150 utterances grouped like sessions of confusable intents.

`clinc150-groups`: each group holds 3-8 intents of one domain with 3-10 utterances each. Training groups come from
the train split, validation groups (which choose the clustering threshold) from val, test groups from test. With
`unseen`, 8 of the 15 intents of every domain (seeded) appear only in test groups and the other 7 only in training and
validation groups, so the test measures how well the learned way of clustering carries over to new intents.
The validation groups (which choose the threshold) must then be of new intents too, or the threshold is fitted to
intents the model was trained on: the other 7 intents of `val_domains` domains (seeded) are held out of training
and make the validation groups (`val_domains=0`: validation groups of the training intents, as before).

`scored="val"` draws the scored groups from the val split instead of test (for unseen intents: the val utterances of
the intents held out of training), with another seed than the validation groups that choose the threshold, so
settings can be chosen without looking at the test split.

`clinc150-groups-mixed` makes the clustering depend on the group: half of the groups are as above (clustered by
intent), the other half hold 2-3 intents from each of 2-3 domains and are clustered by domain. Two intents of one
domain are then one cluster or two depending on what else is in the group, which no single threshold on
context-free embeddings can follow.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from core.data.benchmarks import shared_data_dir
from core.data.groups import EntityGroup, make_groups
from core.errors import IntakeError

UNSEEN_PER_DOMAIN = 8
VAL_DOMAINS = 2


@dataclass(frozen=True)
class GroupBenchmark:
    """How a groups benchmark is drawn: how many groups per split, their shape, and the seed that fixes them."""

    name: str = "clinc150-groups"
    train_groups: int = 400
    val_groups: int = 100
    test_groups: int = 200
    clusters: tuple[int, int] = (3, 8)
    sizes: tuple[int, int] = (3, 10)
    same_domain: bool = True
    unseen: bool = False
    mixed: bool = False
    scored: Literal["test", "val"] = "test"
    val_domains: int = VAL_DOMAINS
    seed: int = 0


GROUP_BENCHMARKS: dict[str, str] = {
    "clinc150-groups": "CLINC150 utterances in groups of 3-8 intents of one domain, clustered by intent",
    "clinc150-groups-mixed": "as clinc150-groups, but half of the groups span 2-3 domains and are clustered by domain",
}


def _read(split: str) -> pd.DataFrame:
    path = shared_data_dir() / "clinc150" / f"{split}.csv"
    if not path.is_file():
        raise IntakeError(f"Benchmark file {str(path)!r} is missing. Put the CLINC150 CSVs in the shared data folder "
                          "or set CLUSTERLENS_SHARED_DATA to the folder that holds clinc150/.")
    return pd.read_csv(path)


def unseen_intents(domains: dict[str, list[str]], seed: int) -> set[str]:
    """The intents held out for test groups: UNSEEN_PER_DOMAIN per domain, drawn with the benchmark's seed."""
    rng = np.random.default_rng([seed, 1])
    held: set[str] = set()
    for domain in sorted(domains):
        held.update(rng.choice(sorted(domains[domain]), size=UNSEEN_PER_DOMAIN, replace=False).tolist())
    return held


def validation_domains(domains: dict[str, list[str]], count: int, seed: int) -> set[str]:
    """The domains whose seen intents are held out of training to make the validation groups (with `unseen`)."""
    if not count:
        return set()
    rng = np.random.default_rng([seed, 4])
    return set(rng.choice(sorted(domains), size=min(count, len(domains)), replace=False).tolist())


def load_group_benchmark(spec: GroupBenchmark) -> dict[str, list[EntityGroup]]:
    """{"train", "val", "test"}: the groups of each split ("test": the scored ones, from the `scored` split), the
    same for the same spec."""
    if spec.name not in GROUP_BENCHMARKS:
        raise IntakeError(f"No groups benchmark called {spec.name!r}. Available: {', '.join(GROUP_BENCHMARKS)}.")
    if spec.scored not in ("test", "val"):
        raise IntakeError(f"Groups are scored on the test or the val split, not {spec.scored!r}.")
    folder = shared_data_dir() / "clinc150"
    domains = json.loads((folder / "domains.json").read_text()) if (folder / "domains.json").is_file() else None
    if domains is None:
        raise IntakeError(f"{folder / 'domains.json'} is missing; it maps CLINC150 intents to their domains.")
    family = {intent: domain for domain, intents in domains.items() for intent in intents}
    held = unseen_intents(domains, spec.seed) if spec.unseen else set()
    val_only = validation_domains(domains, spec.val_domains, spec.seed) if spec.unseen else set()
    counts = {"train": spec.train_groups, "val": spec.val_groups, "test": spec.test_groups}
    result = {}
    for offset, (split, count) in enumerate(counts.items()):
        frame = _read(spec.scored if split == "test" else split)
        if spec.unseen:
            frame = frame[frame["intent"].isin(held) == (split == "test")]
            if split != "test" and val_only:
                frame = frame[frame["intent"].map(family).isin(val_only) == (split == "val")]
        if split == "test" and spec.scored == "val":
            offset = len(counts)  # not the seed of the validation groups drawn from the same split
        by_intent = count - count // 2 if spec.mixed else count
        groups = make_groups(frame["text"].tolist(), frame["intent"].tolist(), n_groups=by_intent,
                             clusters=spec.clusters, sizes=spec.sizes, families=family if spec.same_domain else None,
                             seed=spec.seed * 10 + offset, prefix=split)
        if spec.mixed:
            groups += domain_groups(frame, family, count // 2, seed=spec.seed * 10 + offset,
                                    prefix=f"{split} by domain")
            order = np.random.default_rng([spec.seed, offset, 2]).permutation(len(groups))
            groups = [groups[i] for i in order]
        result[split] = groups
    return result


def domain_groups(frame: pd.DataFrame, family: dict[str, str], n_groups: int, *, seed: int,
                  prefix: str) -> list[EntityGroup]:
    """Groups of 2-3 domains, 2-3 intents of each and 2-5 utterances of each intent, clustered by domain."""
    rng = np.random.default_rng([seed, 3])
    intents = frame.groupby("intent")["text"].apply(list).to_dict()
    domains: dict[str, list[str]] = {}
    for intent in sorted(intents):
        domains.setdefault(family[intent], []).append(intent)
    names = sorted(d for d, members in domains.items() if len(members) >= 2)
    groups = []
    for number in range(n_groups):
        members: list[tuple[str, str]] = []
        for domain in rng.choice(names, size=min(int(rng.integers(2, 4)), len(names)), replace=False):
            size = min(int(rng.integers(2, 4)), len(domains[domain]))
            chosen = rng.choice(domains[domain], size=size, replace=False)
            for intent in chosen:
                pool = intents[intent]
                picked = rng.choice(len(pool), size=min(int(rng.integers(2, 6)), len(pool)), replace=False)
                members.extend((pool[i], str(domain)) for i in picked)
        order = rng.permutation(len(members))
        groups.append(EntityGroup(f"{prefix} {number + 1}", tuple(members[i][0] for i in order),
                                  tuple(members[i][1] for i in order)))
    return groups
