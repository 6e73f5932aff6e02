"""Scale: fitting on a sample and assigning the rest, streaming the embedding cache, progress in proportion, the
generated corpus."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from core.cluster import Clusterer, SampleNeighbours, UMAPReducer, project_2d
from core import paths
from core.cluster import algorithms, reduce
from core.cluster.reduce import exact_neighbors, fit_rows
from core.data.benchmarks import shared_data_dir
from core.data.scale import scale_corpus
from core.embed.cache import CachedEmbedder, EmbeddingCache
from core.errors import RunCancelled
from core.metrics import ari
from core.pipeline import cluster_and_score
from core.profiles import top_terms
from core.runs import RunDirectory, execute_run, prepare_run
from core.runs.execute import EmbeddingMeter, stage_spans
from core.settings import ClusteringSettings, RunConfig


def blobs(n: int, k: int = 6, dim: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, size=(k, dim))
    truth = rng.integers(0, k, size=n)
    return centres[truth] + rng.normal(0, 0.5, size=(n, dim)), truth


@pytest.mark.parametrize("algorithm", ["kmeans", "hdbscan", "agglomerative"])
def test_clusterer_fits_a_sample_and_assigns_the_rest(algorithm):
    X, truth = blobs(3000)
    k = None if algorithm == "hdbscan" else 6
    sampled = Clusterer(algorithm, k, fit_sample=500, seed=1, k_range=(2, 10)).fit(X)
    assert len(sampled.labels_) == len(X)
    assert ari(truth, sampled.labels_) > 0.95
    counts = np.bincount(sampled.labels_[sampled.labels_ >= 0])
    assert list(counts) == sorted(counts, reverse=True)  # renumbered by size over all rows
    np.testing.assert_array_equal(sampled.predict(X), sampled.labels_)  # predict speaks the final numbering


def test_the_k_search_runs_on_the_sample_only():
    X, _ = blobs(4000, k=4)
    model = Clusterer("kmeans", fit_sample=400, k_range=(2, 8), seed=0).fit(X)
    assert model.n_clusters_ == 4 and set(model.k_curve_) == set(range(2, 9))


def test_above_the_search_sample_k_is_searched_on_a_sample_and_fitted_on_every_row(monkeypatch):
    monkeypatch.setattr(algorithms, "FULL_SEARCH_UP_TO", 500)  # small data keeps the search it always had
    X, truth = blobs(3000, k=5)
    model = Clusterer("kmeans", fit_sample=None, search_sample=600, search_n_init=2, k_range=(2, 8), seed=0).fit(X)
    sample = X[fit_rows(len(X), 600, 0)]
    on_sample = Clusterer("kmeans", fit_sample=None, search_sample=None, n_init=2, k_range=(2, 8), seed=0).fit(sample)
    assert model.k_curve_ == on_sample.k_curve_  # the curve is the sample's, at the search's starts
    assert model.n_clusters_ == 5 and len(model.labels_) == len(X) and ari(truth, model.labels_) > 0.95


def test_up_to_the_search_sample_the_search_is_the_one_on_every_row():
    X, _ = blobs(900, k=5)
    at_size = Clusterer("kmeans", fit_sample=None, search_sample=900, k_range=(2, 8), seed=0).fit(X)
    unsampled = Clusterer("kmeans", fit_sample=None, search_sample=None, k_range=(2, 8), seed=0).fit(X)
    assert at_size.k_curve_ == unsampled.k_curve_
    np.testing.assert_array_equal(at_size.labels_, unsampled.labels_)


def test_small_data_keeps_every_start_in_the_search_and_larger_data_uses_fewer(monkeypatch):
    X, _ = blobs(900, k=5)
    every_start = Clusterer("kmeans", fit_sample=None, search_n_init=1, k_range=(2, 8), seed=0).fit(X)
    assert every_start.k_curve_ == Clusterer("kmeans", fit_sample=None, n_init=10, search_n_init=10,
                                             k_range=(2, 8), seed=0).fit(X).k_curve_
    monkeypatch.setattr(algorithms, "FULL_SEARCH_UP_TO", 500)
    one_start = Clusterer("kmeans", fit_sample=None, search_n_init=1, k_range=(2, 8), seed=0).fit(X)
    assert one_start.k_curve_ == Clusterer("kmeans", fit_sample=None, n_init=1, k_range=(2, 8), seed=0).fit(X).k_curve_
    assert one_start.k_curve_ != every_start.k_curve_


def test_the_run_settings_carry_the_search_sample(monkeypatch):
    monkeypatch.setattr(algorithms, "FULL_SEARCH_UP_TO", 500)
    X, _ = blobs(2000, k=4)
    settings = ClusteringSettings(reduce="none", k_max=8, search_sample=500)
    outcome = cluster_and_score(X, settings)
    expected = Clusterer("kmeans", k_range=(2, 8), seed=settings.seed, search_sample=500).fit(X)
    assert outcome.k_curve == expected.k_curve_ and outcome.n_clusters == 4
    assert cluster_and_score(X, replace(settings, search_sample=None)).k_curve != outcome.k_curve


def test_umap_fits_a_sample_and_places_the_rest_where_a_full_fit_would_cluster_them():
    X, truth = blobs(1200, k=5, dim=20)
    reducer = UMAPReducer(n_components=3, fit_sample=400, seed=3)
    reduced = reducer.fit_transform(X)
    assert reduced.shape == (1200, 3) and np.isfinite(reduced).all()
    labels = Clusterer("kmeans", 5, fit_sample=None).fit(reduced).labels_
    assert ari(truth, labels) > 0.95
    np.testing.assert_allclose(reducer.transform(X[:10]), reducer.transform(X[:10]))
    assert project_2d(X, fit_sample=400).shape == (1200, 2)


def test_the_map_reuses_the_reductions_neighbour_searches_and_lands_where_its_own_would(monkeypatch):
    monkeypatch.setattr(reduce, "EXACT_NEIGHBORS_ABOVE", 200)
    X, _ = blobs(900, k=5, dim=20)
    alone = project_2d(X, seed=1, fit_sample=300)
    searched = []
    real_search = reduce.nearest_rows
    monkeypatch.setattr(reduce, "nearest_rows", lambda *args: searched.append(len(args[0])) or real_search(*args))

    def in_blocks(fn, rows):
        return np.concatenate([fn(rows[start:start + 111]) for start in range(0, len(rows), 111)])

    neighbours = SampleNeighbours(seed=1, fit_sample=300, row_map=in_blocks).fit(X)
    assert sum(searched) == 300 + 600  # the sample's own neighbours, then the other rows' in the sample
    UMAPReducer(n_components=3, seed=1, fit_sample=300, neighbours=neighbours).fit(X)
    shared = project_2d(X, seed=1, fit_sample=300, neighbours=neighbours)
    assert sum(searched) == 900  # neither UMAP searched again
    np.testing.assert_allclose(shared, alone, atol=1e-6)
    with pytest.raises(ValueError, match="neighbours were searched"):
        project_2d(X, seed=2, fit_sample=300, neighbours=neighbours)


def test_exact_neighbours_are_those_of_a_brute_force_search():
    from sklearn.neighbors import NearestNeighbors

    X, _ = blobs(400, dim=20)
    indices, distances = exact_neighbors(X, 15, "cosine")
    expected_distances, expected = NearestNeighbors(n_neighbors=15, metric="cosine", algorithm="brute").fit(X) \
        .kneighbors(X)
    assert (indices[:, 0] == np.arange(len(X))).all()  # each row is its own nearest, as umap-learn expects
    assert all(set(got) == set(want) for got, want in zip(indices.tolist(), expected.tolist()))
    np.testing.assert_allclose(distances, expected_distances, atol=1e-5)


def test_above_the_threshold_umap_gets_exact_neighbours_instead_of_nn_descent(monkeypatch):
    import umap.umap_

    def no_neighbour_search(*args, **kwargs):
        raise AssertionError("umap-learn searched for neighbours itself")

    monkeypatch.setattr(umap.umap_, "nearest_neighbors", no_neighbour_search)  # NN-descent
    monkeypatch.setattr(umap.umap_, "pairwise_distances", no_neighbour_search)  # all distances, below 4,096 rows
    monkeypatch.setattr(reduce, "EXACT_NEIGHBORS_ABOVE", 500)
    X, truth = blobs(1200, k=5, dim=20)
    reduced = UMAPReducer(n_components=3, fit_sample=None, seed=3).fit_transform(X)
    assert ari(truth, Clusterer("kmeans", 5, fit_sample=None).fit(reduced).labels_) > 0.95


def test_umap_functions_are_compiled_into_the_on_disk_cache():
    import umap.umap_
    from numba.core.caching import NullCache

    reduce.cache_umap_compiles()
    assert not isinstance(umap.umap_.smooth_knn_dist._cache, NullCache)
    umap.umap_.smooth_knn_dist(np.ones((3, 2), dtype=np.float32), 2.0)
    assert list(paths.numba_cache_dir().rglob("umap_.smooth_knn_dist-*.nbi"))


def test_blocks_of_rows_give_the_same_assignment_as_one_piece():
    X, _ = blobs(2000)
    one = Clusterer("kmeans", 6, fit_sample=300, seed=0).fit(X).labels_

    def in_blocks(fn, rows):
        return np.concatenate([fn(rows[start:start + 111]) for start in range(0, len(rows), 111)])

    blocks = Clusterer("kmeans", 6, fit_sample=300, seed=0, row_map=in_blocks).fit(X).labels_
    np.testing.assert_array_equal(one, blocks)


def test_an_interrupted_embedding_resumes_from_the_cache(tmp_path, fake_embedder):
    texts = [f"text number {i} about topic {i % 7}" for i in range(100)]
    cache = EmbeddingCache(tmp_path / "e.sqlite")

    def cancel_after_60(done, total):
        if done >= 60:
            raise RunCancelled("stop")

    with pytest.raises(RunCancelled):
        CachedEmbedder(fake_embedder, cache, write_block=25).encode(texts, progress=cancel_after_60)
    assert cache.count(fake_embedder.name) == 50  # two whole blocks were written before the cancel
    fake_embedder.calls.clear()
    seen = []
    vectors = CachedEmbedder(fake_embedder, cache, write_block=25).encode(texts, progress=lambda d, t: seen.append(d))
    assert sum(len(call) for call in fake_embedder.calls) == 50  # only the texts not yet cached
    assert seen[0] == 50 and seen[-1] == 100 and vectors.shape == (100, fake_embedder.dim)


def test_progress_shares_follow_the_stage_costs():
    small, large = stage_spans(1_000), stage_spans(100_000)
    for spans in (small, large):
        starts = [low for low, _ in spans.values()]
        assert starts == sorted(starts) and spans["save"][1] == pytest.approx(0.99)
    embed_share = lambda spans: spans["embed"][1] - spans["embed"][0]  # noqa: E731
    assert embed_share(large) > embed_share(small)  # fitting stops growing at the sample size; embedding does not
    assert stage_spans(1_000, reduces=False)["reduce"][0] == stage_spans(1_000, reduces=False)["reduce"][1]


def test_embedding_progress_says_rows_per_second_and_time_left(fake_embedder):
    messages = []
    meter = EmbeddingMeter(lambda stage, fraction, message: messages.append(message), lambda spec: fake_embedder)
    meter.observe(0, 1000)
    meter.started = (meter.started[0] - 2.0, 0)  # two seconds ago
    meter.observe(200, 1000)
    meter("embed", 0.2, "Embedded 200/1,000 texts")
    assert "rows/s" in messages[-1] and "left" in messages[-1]
    assert 90 <= meter.rate <= 110


def test_a_run_above_the_fit_sample_labels_every_row(tmp_path, fake_embedder, topic_texts):
    texts, labels = topic_texts
    frame = pd.DataFrame({"text": texts * 5, "topic": labels * 5})
    config = RunConfig(method="baseline", dataset="topics", kind="text", roles={"text": "text", "topic": "label"},
                       clustering=ClusteringSettings(n_clusters=3, fit_sample=120))
    prepare_run(RunDirectory(tmp_path), config, frame)
    summary = execute_run(config, tmp_path, embedders=lambda name: fake_embedder)
    metrics = RunDirectory(tmp_path).read_json("metrics.json")
    assert summary["k"] == 3 and metrics["n"] == 300
    assert set(metrics["stage_seconds"]) == {"embed", "reduce", "cluster", "hierarchy", "project", "save"}


@pytest.mark.skipif(not shared_data_dir().is_dir(), reason="shared benchmark data not present")
def test_the_generated_corpus_is_distinct_and_deterministic():
    first = scale_corpus(40_000)
    assert len(first) == 40_000 and first["text"].is_unique and first["label"].nunique() > 200
    pd.testing.assert_frame_equal(first.head(50), scale_corpus(40_000).head(50))


def test_the_hover_payload_is_a_bounded_sample_that_keeps_each_clusters_share():
    from core.runs.artifacts import RunArtifacts

    labels = np.repeat([0, 1, 2], [6000, 3000, 1000])
    artifacts = RunArtifacts(*(None,) * 5, labels, None, None)
    rows = artifacts.hover_rows(limit=1000)
    assert len(rows) == 1000 and len(np.unique(rows)) == 1000 and (np.diff(rows) > 0).all()
    np.testing.assert_allclose(np.bincount(labels[rows]), [600, 300, 100], atol=2)
    np.testing.assert_array_equal(artifacts.hover_rows(limit=20_000), np.arange(10_000))


def test_a_box_or_lasso_selects_every_row_inside_it_drawn_or_not():
    from core.runs.artifacts import rows_in_regions

    grid = np.array([(x, y) for x in range(10) for y in range(10)], dtype=float) + 0.5  # cell centres of a 10x10
    box = rows_in_regions(grid, boxes=[([3.2, 1.0], [0.0, 2.0])])  # corners in any order
    assert {tuple(grid[row]) for row in box} == {(x + 0.5, y + 0.5) for x in (1, 2) for y in (0, 1)}
    u_shape = ([0, 10, 10, 7, 7, 3, 3, 0], [0, 0, 10, 10, 3, 3, 10, 10])  # a U: its notch is outside
    inside = {tuple(grid[row]) for row in rows_in_regions(grid, lassos=[u_shape])}
    assert (5.5, 1.5) in inside and (1.5, 8.5) in inside and (8.5, 8.5) in inside
    assert (5.5, 5.5) not in inside and (4.5, 9.5) not in inside
    assert len(inside) == 100 - 4 * 7
    both = rows_in_regions(grid, boxes=[([4, 6], [4, 6])], lassos=[u_shape, ([1, 2], [1, 2])])  # 2 vertices: no area
    assert len(both) == len(inside) + 4


def test_top_terms_read_a_bounded_sample_of_each_big_cluster():
    texts = [f"alpha n{i}" for i in range(500)] + ["beta gamma"] * 20
    labels = np.array([0] * 500 + [1] * 20)
    sampled = top_terms(texts, labels, n_terms=1000, per_cluster=50)
    assert sampled[0][0] == "alpha" and len(sampled[0]) == 51  # "alpha" and the numbered words of 50 texts
    assert sampled[1] == ["beta", "gamma"] == top_terms(texts, labels, per_cluster=None)[1]
    assert len(top_terms(texts, labels, n_terms=1000, per_cluster=None)[0]) == 501
