"""Cluster profiles on a hand-made table, and c-TF-IDF top terms on obvious texts."""
import math

import numpy as np
import pandas as pd
import pytest

from core.profiles import ClusterProfile, profile_clusters, profiles_frame, top_terms


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "x": [1.0, 2.0, 3.0, 7.0, 8.0, 9.0],
        "y": [5.0, 5.0, 5.5, 5.0, 5.5, 5.0],
        "colour": ["red", "red", "red", "blue", "blue", "red"],
    })


LABELS = np.array([0, 0, 0, 1, 1, 1])
X_STD = math.sqrt(58 / 6)  # deviations from the mean 5 are ±2, ±3, ±4


def test_numeric_profile_hand_computed(frame):
    first, second = profile_clusters(frame, LABELS, ["x", "y"], ["colour"])
    assert (first.cluster, first.size, first.share) == (0, 3, 0.5)
    column, cluster_mean, overall_mean, z = first.numeric[0]
    assert (column, cluster_mean, overall_mean) == ("x", 2.0, 5.0)
    assert z == pytest.approx(-3 / X_STD)
    assert second.numeric[0][3] == pytest.approx(3 / X_STD)
    assert [row[0] for row in first.numeric] == ["x", "y"]  # sorted by |z|


def test_category_profile_keeps_over_represented_values(frame):
    first, second = profile_clusters(frame, LABELS, ["x"], ["colour"])
    assert first.categories == [("colour", "red", 1.0, pytest.approx(4 / 6), pytest.approx(1.5))]
    # In cluster 1 red is under-represented (lift 0.5) and left out.
    assert second.categories == [("colour", "blue", pytest.approx(2 / 3), pytest.approx(2 / 6), pytest.approx(2.0))]


def test_summary_line_reads_in_the_tables_terms(frame):
    second = profile_clusters(frame, LABELS, ["x", "y"], ["colour"])[1]
    assert second.summary == "x high (mean 8 vs 5 overall), colour = blue (67% of the cluster vs 33% overall)"
    assert ClusterProfile(cluster=3, size=1, share=0.1).summary == "nothing stands out"


def test_categories_are_limited_and_ranked_by_lift_times_share():
    frame = pd.DataFrame({"a": ["p", "p", "p", "q", "q", "q"], "b": ["u", "u", "v", "w", "w", "w"]})
    first = profile_clusters(frame, np.array([0, 0, 0, 1, 1, 1]), [], ["a", "b"], top_categories=2)[0]
    # a=p: share 1, lift 2 -> 2; b=u: 2/3 and lift 2 -> 4/3; b=v: 1/3 and lift 2 -> 2/3 (cut by top_categories).
    assert [(column, value) for column, value, *_ in first.categories] == [("a", "p"), ("b", "u")]


def test_missing_values_are_ignored():
    frame = pd.DataFrame({"x": [1.0, None, 3.0, 10.0], "c": ["a", None, "a", "b"]})
    first = profile_clusters(frame, np.array([0, 0, 0, 1]), ["x"], ["c"])[0]
    assert first.numeric[0][1:3] == (2.0, pytest.approx(14 / 3))
    assert first.categories[0][:4] == ("c", "a", 1.0, pytest.approx(2 / 3))


def test_noise_comes_last_and_frame_has_one_row_per_cluster(frame):
    profiles = profile_clusters(frame, np.array([1, 1, -1, 0, 0, 0]), ["x"], ["colour"])
    assert [p.cluster for p in profiles] == [0, 1, -1]
    table = profiles_frame(profiles)
    assert list(table.columns) == ["cluster", "size", "share", "summary"]
    assert list(table["size"]) == [3, 2, 1]
    assert table["summary"].iloc[0] == profiles[0].summary


def test_top_terms_picks_each_clusters_own_words():
    texts = ["the cat chased the mouse", "a cat and a kitten", "cat zebra report",
             "stock market fell", "market prices of stock rose", "stock report"]
    labels = np.array([0, 0, 0, 1, 1, 1])
    terms = top_terms(texts, labels)
    assert terms[0][:2] == ["cat", "chased"] and terms[1][:2] == ["stock", "market"]
    assert "the" not in terms[0]  # English stop words are dropped
    # "report" occurs once in each cluster, like "zebra" or "fell", but is shared, so it ranks below them.
    assert terms[0][-1] == terms[1][-1] == "report"
    assert top_terms(texts, labels, n_terms=3) == {0: terms[0][:3], 1: terms[1][:3]}


def test_top_terms_of_clusters_with_only_stop_words():
    assert top_terms(["the and", "of the"], np.array([0, 1])) == {0: [], 1: []}


def test_numbers_are_written_plainly():
    from core.profiles import plain_number

    assert [plain_number(v) for v in (4720.4, 47.53, 0.8249, 0.0031, 0.0, -1250.0, float("nan"))] == [
        "4,720", "47.5", "0.82", "0.0031", "0", "-1,250", "n/a"]
