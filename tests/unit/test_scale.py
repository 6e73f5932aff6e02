"""Scale: fitting on a sample and assigning the rest, streaming the embedding cache, progress in proportion, the
generated corpus."""
import numpy as np
import pandas as pd
import pytest

from core.cluster import Clusterer, UMAPReducer, project_2d
from core.data.benchmarks import shared_data_dir
from core.data.scale import scale_corpus
from core.embed.cache import CachedEmbedder, EmbeddingCache
from core.errors import RunCancelled
from core.metrics import ari
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


def test_umap_fits_a_sample_and_places_the_rest_where_a_full_fit_would_cluster_them():
    X, truth = blobs(1200, k=5, dim=20)
    reducer = UMAPReducer(n_components=3, fit_sample=400, seed=3)
    reduced = reducer.fit_transform(X)
    assert reduced.shape == (1200, 3) and np.isfinite(reduced).all()
    labels = Clusterer("kmeans", 5, fit_sample=None).fit(reduced).labels_
    assert ari(truth, labels) > 0.95
    np.testing.assert_allclose(reducer.transform(X[:10]), reducer.transform(X[:10]))
    assert project_2d(X, fit_sample=400).shape == (1200, 2)


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


def test_top_terms_read_a_bounded_sample_of_each_big_cluster():
    texts = [f"alpha n{i}" for i in range(500)] + ["beta gamma"] * 20
    labels = np.array([0] * 500 + [1] * 20)
    sampled = top_terms(texts, labels, n_terms=1000, per_cluster=50)
    assert sampled[0][0] == "alpha" and len(sampled[0]) == 51  # "alpha" and the numbered words of 50 texts
    assert sampled[1] == ["beta", "gamma"] == top_terms(texts, labels, per_cluster=None)[1]
    assert len(top_terms(texts, labels, n_terms=1000, per_cluster=None)[0]) == 501
