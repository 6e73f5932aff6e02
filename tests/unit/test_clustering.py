"""Clusterer, choosing k and UMAP reduction on small synthetic data."""
import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from core.cluster import ALGORITHMS, Clusterer, UMAPReducer, choose_k_by_silhouette, cluster, project_2d
from core.errors import SettingsError

pytestmark = pytest.mark.filterwarnings("ignore:Graph is not fully connected")


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    return make_blobs(n_samples=300, centers=4, cluster_std=0.6, random_state=7)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_each_algorithm_recovers_separated_blobs(blobs, algorithm):
    X, y = blobs
    fitted = Clusterer(algorithm, None if algorithm == "hdbscan" else 4, seed=0).fit(X)
    assert adjusted_rand_score(y, fitted.labels_) > 0.95
    assert fitted.n_clusters_ == 4
    assert fitted.k_curve_ is None


@pytest.mark.parametrize("linkage", ["average", "complete"])
def test_agglomerative_linkages_recover_blobs(blobs, linkage):
    X, y = blobs
    assert adjusted_rand_score(y, Clusterer("agglomerative", 4, linkage=linkage).fit(X).labels_) > 0.95


@pytest.mark.parametrize("algorithm", ["kmeans", "agglomerative", "spectral"])
def test_automatic_k_finds_four_blobs(blobs, algorithm):
    X, y = blobs
    fitted = Clusterer(algorithm, k_range=(2, 8)).fit(X)
    assert fitted.n_clusters_ == 4
    assert sorted(fitted.k_curve_) == list(range(2, 9))
    assert max(fitted.k_curve_, key=fitted.k_curve_.get) == 4
    assert adjusted_rand_score(y, fitted.labels_) > 0.95


def test_choose_k_returns_best_k_and_whole_curve(blobs):
    X, _ = blobs
    k, curve = choose_k_by_silhouette(X, (2, 6))
    assert k == 4
    assert list(curve) == [2, 3, 4, 5, 6]
    assert all(-1 <= score <= 1 for score in curve.values())


def test_choose_k_clips_the_range_to_the_data():
    X = np.random.default_rng(0).normal(size=(6, 2))
    _, curve = choose_k_by_silhouette(X, (1, 50))
    assert list(curve) == [2, 3, 4, 5]


@pytest.mark.parametrize("k_range, n, message", [((2, 5), 2, "at least 3 rows"), ((6, 3), 20, "Swap")])
def test_choose_k_rejects_impossible_requests(k_range, n, message):
    with pytest.raises(SettingsError, match=message):
        choose_k_by_silhouette(np.random.default_rng(0).normal(size=(n, 2)), k_range)


def test_choose_k_refuses_hdbscan(blobs):
    with pytest.raises(SettingsError, match="HDBSCAN finds"):
        choose_k_by_silhouette(blobs[0], algorithm="hdbscan")


def test_labels_are_numbered_by_decreasing_size():
    X, _ = make_blobs(n_samples=[40, 120, 80], centers=[[0, 0], [10, 10], [-10, 10]], cluster_std=0.5,
                      random_state=1)
    labels = Clusterer("kmeans", 3).fit(X).labels_
    assert list(np.bincount(labels)) == [120, 80, 40]


def test_hdbscan_marks_outliers_as_noise_and_ignores_k(blobs):
    X, _ = blobs
    outliers = np.array([[60.0, 60.0], [-60.0, 60.0], [60.0, -60.0], [-60.0, -60.0]])
    fitted = Clusterer("hdbscan", 9).fit(np.vstack([X, outliers]))
    assert list(fitted.labels_[-4:]) == [-1, -1, -1, -1]
    assert fitted.n_clusters_ == 4
    assert fitted.noise_fraction_ == pytest.approx(np.mean(fitted.labels_ == -1))
    assert fitted.noise_fraction_ > 0


def test_same_seed_same_labels(blobs):
    X, _ = blobs
    first = Clusterer("kmeans", 5, seed=3).fit(X).labels_
    assert np.array_equal(first, Clusterer("kmeans", 5, seed=3).fit(X).labels_)


def test_cluster_shorthand_returns_a_fitted_clusterer(blobs):
    fitted = cluster(blobs[0], "agglomerative", 4, linkage="average")
    assert isinstance(fitted, Clusterer) and fitted.n_clusters_ == 4 and fitted.linkage == "average"


def test_k_equal_to_n_is_allowed_except_for_spectral():
    X = np.random.default_rng(0).normal(size=(5, 2))
    assert Clusterer("kmeans", 5).fit(X).n_clusters_ == 5
    with pytest.raises(SettingsError, match="between 2 and 4"):
        Clusterer("spectral", 5).fit(X)


@pytest.mark.parametrize("settings, n, message", [
    ({"algorithm": "dbscan"}, 10, "Unknown clustering algorithm"),
    ({"linkage": "single"}, 10, "Unknown linkage"),
    ({"n_clusters": 1}, 10, "between 2 and 10"),
    ({"n_clusters": 11}, 10, "between 2 and 10"),
    ({"n_clusters": 2}, 1, "at least 2 rows"),
    ({"algorithm": "hdbscan", "min_cluster_size": 1}, 10, "min_cluster_size"),
])
def test_bad_settings_raise_settings_error(settings, n, message):
    X = np.random.default_rng(0).normal(size=(n, 2))
    with pytest.raises(SettingsError, match=message):
        Clusterer(**settings).fit(X)


def test_settings_are_stored_untouched_until_fit():
    clusterer = Clusterer("spectral", 3, k_range=(2, 4), seed=9)
    assert (clusterer.algorithm, clusterer.n_clusters, clusterer.k_range, clusterer.seed) == ("spectral", 3, (2, 4), 9)
    assert not hasattr(clusterer, "labels_")


@pytest.mark.parametrize("n", [3, 5])
def test_umap_falls_back_to_the_input_for_tiny_data(n):
    X = np.random.default_rng(0).normal(size=(n, 20))
    reducer = UMAPReducer(n_components=5)
    assert np.array_equal(reducer.fit_transform(X), X)
    assert np.array_equal(reducer.embedding_, X)


def test_umap_reduces_and_keeps_blobs_apart():
    X, y = make_blobs(n_samples=60, n_features=20, centers=3, cluster_std=0.5, random_state=2)
    reduced = UMAPReducer(n_components=5, metric="euclidean", seed=1).fit_transform(X)
    assert reduced.shape == (60, 5)
    assert adjusted_rand_score(y, Clusterer("kmeans", 3).fit(reduced).labels_) > 0.95


def test_umap_runs_on_ten_points():
    X = np.random.default_rng(0).normal(size=(10, 20))
    assert UMAPReducer(n_components=5).fit_transform(X).shape == (10, 5)
    projected = project_2d(X)
    assert projected.shape == (10, 2) and np.isfinite(projected).all()


@pytest.mark.parametrize("n, features", [(1, 4), (2, 4), (3, 1)])
def test_project_2d_falls_back_to_pca_for_tiny_data(n, features):
    X = np.arange(n * features, dtype=float).reshape(n, features) ** 1.5
    projected = project_2d(X)
    assert projected.shape == (n, 2)
    assert np.isfinite(projected).all()
    if features == 1:
        assert np.all(projected[:, 1] == 0)
        assert np.allclose(np.abs(projected[:, 0]), np.abs(X[:, 0] - X[:, 0].mean()))


def test_wide_k_range_is_searched_coarse_to_fine():
    from sklearn.datasets import make_blobs

    from core.cluster.choose_k import MAX_CANDIDATES, default_k_range, search_k
    from core.cluster.algorithms import labeller

    centres = [(20.0 * i, 20.0 * j) for i in range(6) for j in range(5)]
    X, _ = make_blobs(n_samples=900, centers=centres, cluster_std=0.5, random_state=3)
    curve, checked = search_k(X, labeller(X, "kmeans", seed=0, n_init=3), (2, 200), seed=0)
    assert max(curve, key=curve.get) == 30 and checked is None
    assert len(curve) < MAX_CANDIDATES + 12 < 199  # far fewer fits than the 199 values of the range
    assert default_k_range(3080) == (2, 205)
    assert default_k_range(100) == (2, 20)
    assert default_k_range(10) == (2, 9)


def island_layout() -> tuple[np.ndarray, np.ndarray]:
    """Four equally distinct groups in 20-d (`embeddings`), and a 2-d "reduction" that sets the first far apart as an
    island while the other three sit close together, as UMAP can lay out a small topic."""
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(4), 50)
    embeddings = np.eye(20)[groups] * 3 + rng.normal(scale=0.5, size=(200, 20))
    corners = np.array([(1000.0, 0.0), (0.0, 0.0), (4.0, 0.0), (0.0, 4.0)])
    return corners[groups] + rng.normal(scale=0.6, size=(200, 2)), embeddings


def test_a_k_the_embeddings_reject_is_passed_over_for_the_best_one_they_accept():
    reduced, embeddings = island_layout()
    alone = Clusterer("kmeans", k_range=(2, 8), seed=0).fit(reduced)
    assert alone.n_clusters_ == 2 and alone.k_curve_unreduced_ is None  # the island wins in the reduced space
    checked = Clusterer("kmeans", k_range=(2, 8), seed=0).fit(reduced, unreduced=embeddings)
    assert checked.n_clusters_ == 4 and checked.k_curve_ == alone.k_curve_
    assert sorted(checked.k_curve_unreduced_) == sorted(checked.k_curve_)
    assert checked.k_curve_unreduced_[2] < 0.7 * max(checked.k_curve_unreduced_.values())
    k, curve = choose_k_by_silhouette(reduced, (2, 8), unreduced=embeddings)
    assert k == 4 and curve == alone.k_curve_
    with pytest.raises(ValueError, match="same rows"):
        Clusterer("kmeans", k_range=(2, 8)).fit(reduced, unreduced=embeddings[:10])
