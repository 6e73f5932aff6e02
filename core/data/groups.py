"""Groups of entities, CACTUS's data: the queries of one session, the products of one order, each group with the
clustering a person gave it (for training) or without one (to be clustered).

A groups table has a group column, an entity text column and, for training, a cluster column. Cluster ids are local
to their group: cluster "1" of one group has nothing to do with cluster "1" of another, so reusing ids is fine.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.data.dataset import Dataset
from core.errors import IntakeError

SHOWN = 3  # how many offending groups a message names
GROUP_WORDS = ("group", "session", "order", "basket", "cart", "conversation", "visit", "query_set")


@dataclass(frozen=True)
class EntityGroup:
    """One group: its id, its entities' texts and, when known, each entity's cluster (local to this group)."""

    id: str
    texts: tuple[str, ...]
    clusters: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def labelled(self) -> bool:
        return self.clusters is not None


@dataclass(frozen=True)
class GroupTable:
    """A checked groups table: labelled groups (to train on), unlabelled ones (to cluster) and what was left out."""

    labelled: tuple[EntityGroup, ...]
    unlabelled: tuple[EntityGroup, ...]
    notes: tuple[str, ...] = ()


def _named(ids: Sequence[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:SHOWN])
    return shown + (f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")


def read_groups(frame: pd.DataFrame, group_column: str, text_column: str,
                cluster_column: str | None = None) -> GroupTable:
    """Split a table into groups (in order of first appearance), checking what a person can get wrong.

    Rows without a group id or without text are left out with a note. A group whose cluster cells are all empty is
    unlabelled (it can be clustered, not trained on); one with only some empty is an error. A labelled group of one
    entity is left out of training with a note: it holds no pair to learn from.
    """
    wanted = [c for c in (group_column, text_column, cluster_column) if c is not None]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise IntakeError(f"No column named {missing[0]!r}. Columns are: {', '.join(map(str, frame.columns))}.")
    if len(set(wanted)) < len(wanted):
        raise IntakeError("The group, text and cluster columns must be three different columns.")
    notes: list[str] = []
    group_ids = frame[group_column].map(lambda v: "" if pd.isna(v) else str(v).strip())
    texts = frame[text_column].map(lambda v: "" if pd.isna(v) else str(v).strip())
    keep = (group_ids != "") & (texts != "")
    if (group_ids == "").any():
        notes.append(f"{int((group_ids == '').sum())} rows have no group id and were left out.")
    if ((texts == "") & (group_ids != "")).any():
        notes.append(f"{int(((texts == '') & (group_ids != '')).sum())} rows have no text and were left out.")
    clusters = (frame[cluster_column].map(lambda v: None if pd.isna(v) or str(v).strip() == "" else str(v).strip())
                if cluster_column else pd.Series([None] * len(frame), index=frame.index))
    rows = pd.DataFrame({"group": group_ids, "text": texts, "cluster": clusters})[keep]
    if rows.empty:
        raise IntakeError(f"No row has both a group id ({group_column!r}) and a text ({text_column!r}). "
                          "Check that the right columns are chosen.")
    labelled, unlabelled, partial, singles = [], [], [], []
    for group_id, part in rows.groupby("group", sort=False):
        known = part["cluster"].notna()
        if known.all():
            if len(part) == 1:
                singles.append(group_id)
                continue
            labelled.append(EntityGroup(group_id, tuple(part["text"]), tuple(part["cluster"])))
        elif not known.any():
            unlabelled.append(EntityGroup(group_id, tuple(part["text"])))
        else:
            partial.append(f"{group_id!r} ({int((~known).sum())} of {len(part)})")
    if partial:
        raise IntakeError(
            f"Some entities of group(s) {', '.join(partial[:SHOWN])}{' and more' if len(partial) > SHOWN else ''} "
            f"have no cluster in {cluster_column!r}. Give every entity of a training group a cluster, or leave the "
            "whole group's clusters empty to have it clustered instead.")
    if singles:
        notes.append(f"{len(singles)} labelled group(s) with a single entity ({_named(singles)}) teach nothing "
                     "(there is no pair to compare) and were left out of training.")
    if cluster_column and unlabelled:
        notes.append(f"{len(unlabelled)} group(s) have no clusters at all ({_named([g.id for g in unlabelled])}); "
                     "they are not trained on and can be clustered once a model is trained.")
    return GroupTable(tuple(labelled), tuple(unlabelled), tuple(notes))


def groups_from_dataset(data: Dataset) -> GroupTable:
    """The groups of a data set whose columns carry the roles group, text and (for training) label."""
    if data.group_column is None:
        raise IntakeError("No column is marked 'group'. Mark the column that says which group (session, order...) "
                          "each row belongs to.")
    if data.text_column is None:
        raise IntakeError("No column is marked 'text'. Mark the column that holds each entity's text.")
    return read_groups(data.frame, data.group_column, data.text_column, data.label_column)


def guess_group_column(data: Dataset) -> str:
    """The column most likely to name each row's group: by its name, else the first id column, else the first one."""
    columns = [str(c) for c in data.frame.columns]
    for column in columns:
        if any(word in column.lower() for word in GROUP_WORDS):
            return column
    ids = data.columns_with("id") or data.columns_with("group")
    return str(ids[0]) if ids else columns[0]


def as_groups_dataset(data: Dataset, group_column: str, text_column: str, cluster_column: str | None) -> Dataset:
    """The data set with exactly these group, text and (optional) cluster columns; the others ignored. Checked."""
    chosen = {group_column: "group", text_column: "text", **({cluster_column: "label"} if cluster_column else {})}
    read_groups(data.frame, group_column, text_column, cluster_column)
    roles = {column: chosen.get(column, "ignore") for column in data.frame.columns}
    return Dataset(data.frame, "text", roles, name=data.name, source=data.source, notes=data.notes)


def training_groups(data: Dataset) -> GroupTable:
    """The groups of a data set, checked to hold at least two labelled groups (one to train on, one to validate)."""
    table = groups_from_dataset(data)
    if len(table.labelled) < 2:
        raise IntakeError(f"Training needs at least 2 groups with clusters (of 2 or more entities); this table has "
                          f"{len(table.labelled)}. Fill in the cluster column of more groups.")
    return table


def split_groups(groups: Sequence[EntityGroup], val_fraction: float,
                 seed: int) -> tuple[list[EntityGroup], list[EntityGroup]]:
    """(train, validation): a seeded shuffle; at least one group on each side."""
    if not 0 < val_fraction < 1:
        raise IntakeError(f"val_fraction must be between 0 and 1 (exclusive), not {val_fraction}.")
    if len(groups) < 2:
        raise IntakeError("Splitting into training and validation groups needs at least 2 groups.")
    order = np.random.default_rng(seed).permutation(len(groups))
    n_val = min(max(1, round(val_fraction * len(groups))), len(groups) - 1)
    return [groups[i] for i in order[n_val:]], [groups[i] for i in order[:n_val]]


def parse_pasted_groups(text: str) -> list[EntityGroup]:
    """Groups typed or pasted as text: one entity per line, a blank line between groups."""
    groups, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            groups.append(EntityGroup(f"pasted {len(groups) + 1}", tuple(current)))
            current = []
    if not groups:
        raise IntakeError("Nothing to cluster: write one entity per line, with a blank line between groups.")
    return groups


def groups_frame(groups: Sequence[EntityGroup], labels: Sequence[Sequence[object]] | None = None) -> pd.DataFrame:
    """Groups as a long table (group, text, cluster): the known clusters, or `labels` (one sequence per group)."""
    rows = []
    for index, group in enumerate(groups):
        clusters = labels[index] if labels is not None else group.clusters or [None] * len(group)
        rows.extend({"group": group.id, "text": text, "cluster": cluster}
                    for text, cluster in zip(group.texts, clusters))
    return pd.DataFrame(rows, columns=["group", "text", "cluster"])


def relabelled(group: EntityGroup, clusters: Sequence[object]) -> EntityGroup:
    """The group with a person's clusters (e.g. a corrected prediction); every entity needs one."""
    values = ["" if cluster is None or pd.isna(cluster) else str(cluster).strip() for cluster in clusters]
    if len(values) != len(group) or "" in values:
        raise IntakeError("Give every entity of the group a cluster before adding it.")
    return EntityGroup(group.id, group.texts, tuple(values))


def append_group(data: Dataset, group: EntityGroup) -> Dataset:
    """The data set with a labelled group added as new rows (its id made unique); other columns stay empty."""
    if not group.labelled or len(group) < 2:
        raise IntakeError("Only a group of two or more entities, each with a cluster, can be added to the training "
                          "data. Fill in every cluster.")
    if data.group_column is None or data.text_column is None or data.label_column is None:
        raise IntakeError("The training data needs group, text and label (cluster) columns to take a new group.")
    taken = set(data.frame[data.group_column].astype(str))
    group_id, suffix = group.id, 2
    while group_id in taken:
        group_id, suffix = f"{group.id} ({suffix})", suffix + 1
    added = pd.DataFrame({data.group_column: group_id, data.text_column: list(group.texts),
                          data.label_column: list(group.clusters)})
    frame = pd.concat([data.frame, added], ignore_index=True)
    return Dataset(frame, data.kind, data.roles, name=data.name, source=data.source, notes=data.notes)


def make_groups(texts: Sequence[str], labels: Sequence[str], *, n_groups: int, clusters: tuple[int, int] = (3, 8),
                sizes: tuple[int, int] = (3, 10), families: Mapping[str, str] | None = None,
                seed: int = 0, prefix: str = "group") -> list[EntityGroup]:
    """Random groups of labelled texts: `clusters` labels per group, `sizes` texts per label, entities shuffled.

    With `families` (label -> family, e.g. intent -> domain) every group draws its labels from one family, so they are
    confusable. Ranges are inclusive and capped by what a family or label holds. The same seed gives the same groups.
    """
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[str]] = {}
    for text, label in zip(texts, labels):
        by_label.setdefault(str(label), []).append(str(text))
    pools: dict[str, list[str]] = {}
    for label in by_label:
        pools.setdefault(families[label] if families else "", []).append(label)
    pools = {family: sorted(members) for family, members in pools.items() if len(members) >= clusters[0]}
    if not pools:
        raise IntakeError(f"No family holds {clusters[0]} labels: cannot make groups of {clusters[0]} clusters.")
    names = sorted(pools)
    groups = []
    for number in range(n_groups):
        family = pools[names[rng.integers(len(names))]]
        chosen = rng.choice(family, size=min(int(rng.integers(clusters[0], clusters[1] + 1)), len(family)),
                            replace=False)
        members: list[tuple[str, str]] = []
        for label in chosen:
            pool = by_label[label]
            size = min(int(rng.integers(sizes[0], sizes[1] + 1)), len(pool))
            members.extend((pool[i], label) for i in rng.choice(len(pool), size=size, replace=False))
        order = rng.permutation(len(members))
        groups.append(EntityGroup(f"{prefix} {number + 1}", tuple(members[i][0] for i in order),
                                  tuple(members[i][1] for i in order)))
    return groups


def example_groups(n_groups: int = 40, seed: int = 0) -> Dataset:
    """A groups table to try CACTUS with: "sessions" of 2-4 topics x 2-4 messages from the support sample."""
    from core.data.samples import load_sample

    support = load_sample("support_requests")
    groups = make_groups(support.texts(), support.labels(), n_groups=n_groups, clusters=(2, 4), sizes=(2, 4),
                         seed=seed, prefix="session")
    frame = groups_frame(groups).rename(columns={"group": "session", "text": "message", "cluster": "topic"})
    return Dataset(frame, "text", {"session": "group", "message": "text", "topic": "label"},
                   name="support_sessions", source="sample")
