"""Groups tables (intake checks, pasted groups, adding a corrected group) and the seeded group generators."""
import dataclasses
import json

import pandas as pd
import pytest

from core.data.benchmarks import shared_data_dir
from core.data.dataset import Dataset
from core.data.group_benchmarks import UNSEEN_PER_DOMAIN, GroupBenchmark, load_group_benchmark
from core.data.groups import (EntityGroup, append_group, as_groups_dataset, example_groups, groups_frame,
                              groups_from_dataset, guess_group_column, make_groups, parse_pasted_groups, read_groups,
                              relabelled, split_groups, training_groups)
from core.errors import IntakeError

needs_shared_data = pytest.mark.skipif(not (shared_data_dir() / "clinc150").is_dir(),
                                       reason="shared benchmark data not present")


def table(rows):
    return pd.DataFrame(rows, columns=["session", "query", "cluster"])


def test_groups_keep_row_order_and_reuse_cluster_ids_across_groups():
    frame = table([("s1", "red shoes", "1"), ("s2", "tv", "1"), ("s1", "blue shoes", "1"), ("s1", "socks", "2"),
                   ("s2", "hdmi cable", "2")])
    groups = read_groups(frame, "session", "query", "cluster")
    assert [g.id for g in groups.labelled] == ["s1", "s2"]
    assert groups.labelled[0] == EntityGroup("s1", ("red shoes", "blue shoes", "socks"), ("1", "1", "2"))
    assert groups.notes == ()


def test_a_group_with_some_clusters_missing_is_an_error_that_names_it():
    frame = table([("s1", "a", "1"), ("s1", "b", None), ("s2", "c", "1"), ("s2", "d", "2")])
    with pytest.raises(IntakeError, match=r"'s1' \(1 of 2\).*leave the whole group's clusters empty"):
        read_groups(frame, "session", "query", "cluster")


def test_groups_of_one_and_unlabelled_groups_are_noted_not_trained_on():
    frame = table([("s1", "a", "1"), ("s2", "b", "1"), ("s2", "c", "2"), ("s3", "d", None), ("s3", "e", None),
                   (None, "f", "1"), ("s2", "  ", "1")])
    groups = read_groups(frame, "session", "query", "cluster")
    assert [g.id for g in groups.labelled] == ["s2"] and [g.id for g in groups.unlabelled] == ["s3"]
    text = " ".join(groups.notes)
    assert "1 rows have no group id" in text and "1 rows have no text" in text
    assert "single entity ('s1')" in text and "no clusters at all ('s3')" in text


def test_wrong_columns_are_named():
    frame = table([("s1", "a", "1")])
    with pytest.raises(IntakeError, match="No column named 'order'"):
        read_groups(frame, "order", "query", "cluster")
    with pytest.raises(IntakeError, match="three different columns"):
        read_groups(frame, "session", "session", "cluster")


def test_training_needs_two_labelled_groups_and_a_group_column():
    frame = table([("s1", "a", "1"), ("s1", "b", "2")])
    data = Dataset(frame, "text", {"session": "group", "query": "text", "cluster": "label"})
    with pytest.raises(IntakeError, match="at least 2 groups with clusters"):
        training_groups(data)
    with pytest.raises(IntakeError, match="marked 'group'"):
        groups_from_dataset(Dataset(frame, "text", {"query": "text"}))


def test_split_is_seeded_and_keeps_a_group_on_each_side():
    groups = [EntityGroup(str(i), ("a", "b"), ("1", "2")) for i in range(10)]
    train, val = split_groups(groups, 0.2, seed=1)
    assert len(val) == 2 and len(train) == 8 and not {g.id for g in train} & {g.id for g in val}
    assert split_groups(groups, 0.2, seed=1) == (train, val)
    assert [len(part) for part in split_groups(groups[:2], 0.9, seed=0)] == [1, 1]


def test_pasted_groups_are_blocks_of_lines():
    groups = parse_pasted_groups("red shoes\nblue shoes\n\n\n  tv  \nhdmi cable\n")
    assert groups == [EntityGroup("pasted 1", ("red shoes", "blue shoes")),
                      EntityGroup("pasted 2", ("tv", "hdmi cable"))]
    with pytest.raises(IntakeError, match="one entity per line"):
        parse_pasted_groups(" \n\n")


def test_a_corrected_group_is_appended_under_a_new_id():
    data = example_groups(n_groups=3)
    taken = data.frame["session"].iloc[0]
    grown = append_group(data, EntityGroup(taken, ("x", "y", "z"), ("a", "a", "b")))
    added = grown.frame.iloc[len(data.frame):]
    assert added["session"].unique().tolist() == [f"{taken} (2)"] and added["topic"].tolist() == ["a", "a", "b"]
    assert len(training_groups(grown).labelled) == 4
    with pytest.raises(IntakeError, match="each with a cluster"):
        append_group(data, EntityGroup("new", ("x", "y")))


def test_generated_groups_are_seeded_shuffled_and_within_their_ranges():
    texts = [f"text {label} {i}" for label in "abcdefgh" for i in range(12)]
    labels = [label for label in "abcdefgh" for _ in range(12)]
    families = {label: ("first" if label in "abcd" else "second") for label in "abcdefgh"}
    groups = make_groups(texts, labels, n_groups=30, clusters=(3, 4), sizes=(2, 5), families=families, seed=4)
    assert groups == make_groups(texts, labels, n_groups=30, clusters=(3, 4), sizes=(2, 5), families=families, seed=4)
    for group in groups:
        counts = pd.Series(group.clusters).value_counts()
        assert 3 <= len(counts) <= 4 and counts.between(2, 5).all()
        assert len({families[c] for c in group.clusters}) == 1  # one family per group
        assert all(text.split()[1] == cluster for text, cluster in zip(group.texts, group.clusters))
    assert any(list(g.clusters) != sorted(g.clusters) for g in groups)  # entities are not in cluster order


@needs_shared_data
def test_clinc150_groups_come_from_one_domain_and_their_own_split():
    splits = load_group_benchmark(GroupBenchmark(train_groups=20, val_groups=5, test_groups=10))
    domains = json.loads((shared_data_dir() / "clinc150" / "domains.json").read_text())
    domain_of = {intent: domain for domain, intents in domains.items() for intent in intents}
    test_texts = set(pd.read_csv(shared_data_dir() / "clinc150" / "test.csv")["text"])
    assert [len(splits[s]) for s in ("train", "val", "test")] == [20, 5, 10]
    for group in splits["test"]:
        assert len({domain_of[c] for c in group.clusters}) == 1 and 3 <= len(set(group.clusters)) <= 8
        assert set(group.texts) <= test_texts
    assert splits == load_group_benchmark(GroupBenchmark(train_groups=20, val_groups=5, test_groups=10))


@needs_shared_data
def test_unseen_intents_never_appear_in_training_or_validation():
    splits = load_group_benchmark(GroupBenchmark(train_groups=50, val_groups=20, test_groups=50, unseen=True))
    seen = {c for split in ("train", "val") for g in splits[split] for c in g.clusters}
    unseen = {c for g in splits["test"] for c in g.clusters}
    assert not seen & unseen
    assert len(unseen) <= 10 * UNSEEN_PER_DOMAIN


@needs_shared_data
def test_with_unseen_intents_the_validation_groups_are_of_intents_neither_trained_nor_tested():
    spec = GroupBenchmark(train_groups=50, val_groups=20, test_groups=50, unseen=True, scored="val")
    splits = load_group_benchmark(spec)
    train, val, scored = ({c for g in splits[split] for c in g.clusters} for split in ("train", "val", "test"))
    assert not train & val and not val & scored and not train & scored
    assert all(len(set(g.clusters)) >= 3 for g in splits["val"])  # whole domains held out: groups keep their shape
    before = load_group_benchmark(dataclasses.replace(spec, val_domains=0))
    assert {c for g in before["val"] for c in g.clusters} & {c for g in before["train"] for c in g.clusters}


def test_the_groups_columns_are_guessed_and_set_with_nothing_else_marked():
    frame = pd.DataFrame({"order_id": ["o1", "o1", "o2", "o2"], "title": ["a", "b", "c", "d"],
                          "note": ["x", "y", "z", "w"], "cluster": ["1", "2", "1", "1"]})
    data = Dataset(frame, "text", {"order_id": "id", "title": "text", "note": "text", "cluster": "label"})
    assert guess_group_column(data) == "order_id"
    grouped = as_groups_dataset(data, "order_id", "title", "cluster")
    assert grouped.roles == {"order_id": "group", "title": "text", "note": "ignore", "cluster": "label"}
    assert len(groups_from_dataset(grouped).labelled) == 2
    with pytest.raises(IntakeError, match="three different columns"):
        as_groups_dataset(data, "order_id", "title", "title")


def test_groups_frame_writes_known_or_given_clusters():
    groups = [EntityGroup("g", ("a", "b"), ("x", "y")), EntityGroup("h", ("c",))]
    frame = groups_frame(groups)
    assert frame[["group", "text"]].values.tolist() == [["g", "a"], ["g", "b"], ["h", "c"]]
    assert frame["cluster"].tolist()[:2] == ["x", "y"] and pd.isna(frame["cluster"].iloc[2])
    assert groups_frame(groups, labels=[[0, 0], [1]])["cluster"].tolist() == [0, 0, 1]
    with pytest.raises(IntakeError, match="every entity"):
        relabelled(groups[0], ["x", " "])
    assert relabelled(groups[0], ["1", 2]).clusters == ("1", "2")


@needs_shared_data
def test_mixed_groups_are_clustered_by_intent_or_by_domain_depending_on_the_group():
    splits = load_group_benchmark(GroupBenchmark(name="clinc150-groups-mixed", train_groups=20, val_groups=4,
                                                 test_groups=10, mixed=True))
    domains = json.loads((shared_data_dir() / "clinc150" / "domains.json").read_text())
    frame = pd.read_csv(shared_data_dir() / "clinc150" / "train.csv")
    intent_of = dict(zip(frame["text"], frame["intent"]))
    by_domain = [g for g in splits["train"] if set(g.clusters) <= set(domains)]
    assert len(by_domain) == 10 and len(splits["test"]) == 10
    for group in by_domain:
        assert 2 <= len(set(group.clusters)) <= 3
        for domain in set(group.clusters):  # a domain cluster holds two or three intents
            assert 2 <= len({intent_of[t] for t, c in zip(group.texts, group.clusters) if c == domain}) <= 3
