"""ClusterLLM: triplet sampling, the InfoNCE loss, fine-tuning with checkpoints, granularity, the run method.

Models are a tiny random-weight BERT (hidden 32, 2 layers) built here from a word list: no download, a few seconds.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.cluster.hierarchy import ClusterTree
from core.data.dataset import Dataset
from core.embed.base import SentenceTransformerEmbedder
from core.errors import RunCancelled, SettingsError
from core.llm import JudgmentStore, OracleJudge
from core.methods.base import RunContext
from core.methods.clusterllm import ClusterLLM, ClusterLLMMethod, ClusterLLMSettings
from core.methods.clusterllm.sampling import (assignment_entropy, f_beta_curve, granularity_pairs, merge_mass,
                                              random_triplets, triplets_by_entropy)
from core.methods.clusterllm.objective import TripletFineTuner, info_nce_loss
from core.storage import RunDirectory

torch = pytest.importorskip("torch")


# ---------- sampling

def blobs_with_bridges(seed: int = 0):
    """Four tight 2-D blobs and six points halfway between neighbouring blobs (the ambiguous ones)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=float)
    blobs = np.concatenate([c + rng.normal(0, 0.7, (40, 2)) for c in centres])
    bridges = np.array([[5, 0], [0, 5], [10, 5], [5, 10], [5.2, 0.1], [0.1, 5.2]])
    labels = np.repeat(np.arange(4), 40)
    return np.concatenate([blobs, bridges]), labels, np.arange(160, 166)


def test_entropy_is_highest_between_clusters():
    X, labels, bridges = blobs_with_bridges()
    centres = np.stack([X[:160][labels == c].mean(axis=0) for c in range(4)])
    entropy, closest = assignment_entropy(X, centres, n_closest=2)
    assert entropy[bridges].min() > np.delete(entropy, bridges).max()
    assert set(closest[160]) == {0, 1}  # (5, 0) sits between the blobs at (0, 0) and (10, 0)


def test_entropy_sampling_asks_about_the_ambiguous_points():
    X, labels, bridges = blobs_with_bridges()
    triplets = triplets_by_entropy(X, n_triplets=6, n_clusters=4, seed=1)
    assert sorted(triplets[:, 0]) == sorted(bridges)
    truth = np.concatenate([labels, [-1] * 6])
    for anchor, first, second in triplets:
        assert truth[first] != truth[second]  # one member from each of two different nearby clusters
    bridge = triplets[triplets[:, 0] == 160][0]
    assert {truth[bridge[1]], truth[bridge[2]]} == {0, 1}


def test_entropy_sampling_is_unique_seeded_and_capped():
    X, _, _ = blobs_with_bridges()
    triplets = triplets_by_entropy(X, n_triplets=100, n_clusters=4, seed=3)
    assert len(triplets) == 100
    assert len({(a, min(b, c), max(b, c)) for a, b, c in triplets}) == 100
    assert not ((triplets[:, 0] == triplets[:, 1]) | (triplets[:, 0] == triplets[:, 2])).any()
    assert len(set(triplets[:, 0])) <= int(len(X) * 0.2)  # anchors are the top 20% by entropy
    np.testing.assert_array_equal(triplets, triplets_by_entropy(X, n_triplets=100, n_clusters=4, seed=3))
    # choice order is random: the anchor's own blob shows up as choice 1 and as choice 2
    labels = np.concatenate([np.repeat(np.arange(4), 40), [-1] * 6])
    own = labels[triplets[:, 0]]
    assert (labels[triplets[:, 1]] == own).any() and (labels[triplets[:, 2]] == own).any()


def test_random_sampling():
    triplets = random_triplets(30, 50, seed=0)
    assert triplets.shape == (50, 3)
    assert all(len(set(t)) == 3 for t in triplets.tolist())
    assert len({tuple(t) for t in triplets.tolist()}) == 50
    np.testing.assert_array_equal(triplets, random_triplets(30, 50, seed=0))
    assert len(random_triplets(3, 1000, seed=0)) == 3  # all there are, then it stops


# ---------- loss and training

def test_info_nce_matches_a_hand_computed_case():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[2.0, 0.0], [0.0, 3.0]])  # scale does not matter: cosine
    n = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    # forward rows: [s(a,p)=1, s(a,n1), s(a,n2)] = [1, 0, 1] and [1, 1, 0]; backward rows: [s(p,a_i)=1, 0]
    expected = (math.log(2 * math.e + 1) - 1) + (math.log(math.e + 1) - 1)
    assert float(info_nce_loss(a, p, n, temperature=1.0)) == pytest.approx(expected, rel=1e-6)
    apart = torch.eye(3)  # anchors = positives on two axes, both negatives on the third
    assert float(info_nce_loss(apart[:2], apart[:2], apart[[2, 2]], temperature=0.01)) < 1e-3


WORDS = ("my card has not arrived yet where is new delivery late again still waiting for the track please i want "
         "a refund order reached account how long does take duplicate payment request cancelled forgot password "
         "reset link expired cannot log in with change on").split()


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A sentence-transformers folder holding a random 2-layer BERT with a 32-d output and no dropout."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    base = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "!", *sorted(set(WORDS))]
    (base / "vocab.txt").write_text("\n".join(vocab))
    BertTokenizerFast(vocab_file=str(base / "vocab.txt")).save_pretrained(base / "hf")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    BertModel(config).save_pretrained(base / "hf")
    transformer = Transformer(str(base / "hf"), max_seq_length=32)
    model = SentenceTransformer(modules=[transformer, Pooling(32, "mean")], device="cpu")
    model.save(str(base / "st"))
    return base / "st"


def load_tiny(path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def topic_triplets(topic_texts):
    texts, labels = topic_texts
    oracle = OracleJudge(texts, labels)
    triplets = []
    for i, j, k in random_triplets(len(texts), 64, seed=0):
        answer = oracle.answer_triplet(texts[i], texts[j], texts[k]).choice
        if answer:
            triplets.append((texts[i], texts[j] if answer == 1 else texts[k], texts[k] if answer == 1 else texts[j]))
    return triplets


def test_one_training_step_moves_the_model_and_lowers_the_loss(tiny_model_dir, topic_texts):
    model = load_tiny(tiny_model_dir)
    batch = topic_triplets(topic_texts)[:8]
    tuner = TripletFineTuner(epochs=1, lr=1e-3, batch_size=len(batch), temperature=0.05)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    loss_before = tuner.batch_loss(model, batch)
    tuner.fit(model, batch)  # one epoch of one batch: one step
    assert any(not torch.equal(before[name], p) for name, p in model.named_parameters())
    assert tuner.batch_loss(model, batch) < loss_before


def test_checkpoint_cancel_and_resume(tiny_model_dir, topic_texts, tmp_path):
    triplets = topic_triplets(topic_texts)[:8]
    settings = dict(epochs=3, lr=1e-3, batch_size=4, temperature=0.05, seed=0)
    calls = {"n": 0}

    def stop_in_second_epoch():
        calls["n"] += 1
        return calls["n"] > 2  # two batches per epoch: stop at the first batch of epoch 2

    interrupted = TripletFineTuner(**settings, checkpoint_dir=tmp_path, should_stop=stop_in_second_epoch)
    with pytest.raises(RunCancelled):
        interrupted.fit(load_tiny(tiny_model_dir), triplets)
    first_epoch = interrupted.history_[0]

    resumed_model = load_tiny(tiny_model_dir)
    resumed = TripletFineTuner(**settings, checkpoint_dir=tmp_path).fit(resumed_model, triplets)
    assert resumed.resumed_from_ == 1 and len(resumed.history_) == 3 and resumed.history_[0] == first_epoch

    straight_model = load_tiny(tiny_model_dir)
    straight = TripletFineTuner(**settings).fit(straight_model, triplets)
    assert straight.history_ == pytest.approx(resumed.history_, rel=1e-4)
    texts = topic_texts[0][:5]
    np.testing.assert_allclose(resumed_model.encode(texts), straight_model.encode(texts), atol=1e-4)
    # a checkpoint made for other triplets is refused, naming what changed (it used to be silently ignored)
    with pytest.raises(SettingsError, match=r"other settings \(triplets\)"):
        TripletFineTuner(**settings, checkpoint_dir=tmp_path).fit(load_tiny(tiny_model_dir), triplets[:4])


def test_fine_tuning_with_dropout_is_reproducible(tiny_model_dir, topic_texts):
    def fine_tuned():
        model = load_tiny(tiny_model_dir)
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.3  # the tiny model ships without dropout; real ones have it
        TripletFineTuner(epochs=2, lr=1e-3, batch_size=4, temperature=0.05, seed=3).fit(
            model, topic_triplets(topic_texts)[:8])
        return model.encode(topic_texts[0][:5])

    torch.manual_seed(123)  # whatever the global state was before, the same seed trains the same model
    first = fine_tuned()
    torch.manual_seed(456)
    np.testing.assert_array_equal(first, fine_tuned())


# ---------- granularity

def hierarchy_points(seed: int = 0):
    """3 far-apart groups of 2 sub-groups each (20 points per sub-group): coarse k = 3, fine k = 6."""
    rng = np.random.default_rng(seed)
    points, fine = [], []
    for group, centre in enumerate([(0, 0), (60, 0), (0, 60)]):
        for sub, offset in enumerate([(-6, 0), (6, 0)]):
            points.append(np.array(centre) + offset + rng.normal(0, 0.8, (20, 2)))
            fine += [2 * group + sub] * 20
    fine = np.array(fine)
    return np.concatenate(points), fine, fine // 2


@pytest.mark.parametrize("level, k_true", [("fine", 6), ("coarse", 3)])
def test_f_beta_curve_picks_the_labelled_granularity(level, k_true):
    X, fine, coarse = hierarchy_points()
    labels = fine if level == "fine" else coarse
    tree = ClusterTree(linkage="ward").fit(X)
    pairs, steps = granularity_pairs(tree, k_max=30, per_step=3, seed=0)
    assert len(pairs) == 29 * 3 and set(steps) == set(range(2, 31))
    same = labels[pairs[:, 0]] == labels[pairs[:, 1]]
    ks = np.arange(2, 31)
    curve = f_beta_curve(steps, same, ks)
    assert ks[np.argmax(curve)] == k_true and curve.max() == pytest.approx(1.0)


def test_weighted_granularity_asks_more_at_coarse_merges_and_counts_their_pairs():
    """Coarse merges stand for most row pairs: they get more questions, and their answers weigh what they join."""
    X, fine, coarse = hierarchy_points()
    tree = ClusterTree(linkage="ward").fit(X)
    mass = merge_mass(tree, 30)
    assert mass.shape == (29,) and mass[0] == mass.max()  # the last merge joins the most pairs
    pairs, steps = granularity_pairs(tree, k_max=30, per_step=3, seed=0, by_mass=True)
    counts = np.bincount(steps)
    assert counts[2] > 3 and counts[2:].min() == 3 and counts.max() <= 20
    ks = np.arange(2, 31)
    for labels, k_true in ((fine, 6), (coarse, 3)):
        same = labels[pairs[:, 0]] == labels[pairs[:, 1]]
        curve = f_beta_curve(steps, same, ks, mass=mass)
        assert ks[np.argmax(curve)] == k_true
    # one wrong "no" at a fine merge barely moves the weighted curve; a coarse step's answers decide it
    same = coarse[pairs[:, 0]] == coarse[pairs[:, 1]]
    noisy = same.copy()
    noisy[np.flatnonzero(steps == 30)[0]] = False
    assert ks[np.argmax(f_beta_curve(steps, noisy, ks, mass=mass))] == 3


def test_clusterllm_estimator_end_to_end_with_an_oracle(tiny_model_dir, topic_texts, tmp_path):
    texts, labels = topic_texts
    estimator = ClusterLLM(embedder=load_tiny(tiny_model_dir), judge=OracleJudge(texts, labels), n_triplets=40,
                           epochs=2, lr=1e-3, batch_size=16, temperature=0.05, k_max=10,
                           checkpoint_dir=tmp_path / "ckpt", model_dir=tmp_path / "model").fit(texts)
    assert estimator.embeddings_.shape == estimator.base_embeddings_.shape == (60, 32)
    assert not np.allclose(estimator.embeddings_, estimator.base_embeddings_)
    assert estimator.triplets_.shape == (2 * 40, 3) and len(estimator.history_) == 2 * 2  # 2 rounds by default
    assert set(estimator.k_curve_) == set(range(2, 11)) and estimator.n_clusters_ in estimator.k_curve_
    assert all((tmp_path / "ckpt" / f"iteration-{i}" / "checkpoint" / "state.pt").exists() for i in (0, 1))
    assert set(estimator.seconds_) == {"ask", "finetune", "granularity"} and estimator.seconds_["finetune"] > 0
    reloaded = load_tiny(tmp_path / "model").encode(texts[:3], normalize_embeddings=True)
    np.testing.assert_allclose(reloaded, estimator.embeddings_[:3], atol=1e-5)
    with pytest.raises(SettingsError):
        ClusterLLM(embedder=load_tiny(tiny_model_dir), judge=OracleJudge(texts, labels),
                   sampling="cleverest").fit(texts)


def test_clusterllm_method_in_a_run(tiny_model_dir, topic_texts, tmp_path):
    texts, labels = topic_texts
    data = Dataset(pd.DataFrame({"text": texts, "topic": labels}), "text", {"text": "text", "topic": "label"})
    store = JudgmentStore(tmp_path / "catalogue.sqlite")
    settings = ClusterLLMSettings(embedder="tiny", judge="oracle", n_triplets=32, epochs=1, iterations=1, lr=1e-3,
                                  k_max=8, granularity="paper")

    def run(run_id: str):
        context = RunContext(RunDirectory(tmp_path / run_id),
                             embedders=lambda spec: SentenceTransformerEmbedder(str(tiny_model_dir), name=spec),
                             judgments=store)
        return ClusterLLMMethod().represent(data, settings, context)

    first = run("run-1")
    assert first.embeddings.shape == first.comparisons["base"].shape == (60, 32)
    assert first.suggested_k == first.details["k_predicted"] and 2 <= first.suggested_k <= 8
    assert first.details["queries"] == {"triplet": 32, "pair": 7 * 3}
    assert first.details["judge_label_agreement"]["triplet"] == 1.0
    assert (tmp_path / "run-1" / "finetuned-model" / "modules.json").exists()
    assert len(store.list("run-1", kind="triplet")) == 32 and store.spent("run-1")["queries"] > 0
    second = run("run-2")
    assert store.spent("run-2")["queries"] == 0  # same questions, same judge: answered from the store
    np.testing.assert_allclose(second.embeddings, first.embeddings, atol=1e-5)


def test_saved_questions_are_reused_only_for_the_same_judge(tiny_model_dir, topic_texts, tmp_path):
    """A checkpoint folder answered by one judge must not stand in for another judge's answers."""
    texts, labels = topic_texts

    class AlwaysFirst(OracleJudge):
        def answer_triplet(self, anchor, a, b):
            answer = super().answer_triplet(anchor, a, b)
            return type(answer)(choice=1, raw="Choice 1", tokens=0, cost=0.0, latency=0.0, source="judge")

    common = dict(n_triplets=30, epochs=1, lr=1e-3, batch_size=16, k_max=6, checkpoint_dir=tmp_path / "ckpt")
    oracle = ClusterLLM(embedder=load_tiny(tiny_model_dir), judge=OracleJudge(texts, labels), **common).fit(texts)
    other = ClusterLLM(embedder=load_tiny(tiny_model_dir), judge=AlwaysFirst(texts, labels, name="always-first"),
                       **common).fit(texts)
    assert (other.triplet_answers_ == 1).all()
    assert not np.array_equal(other.triplet_answers_, oracle.triplet_answers_)


def test_clusterllm_bench_json_has_the_issue_keys(tiny_model_dir, topic_texts, tmp_path):
    """`bench --method clusterllm` adds base metrics, true vs predicted k, queries, decided answers, agreement and
    the fine-tuning time to the spine's JSON."""
    from core.bench import BenchOptions, run_bench

    texts, labels = topic_texts
    path = tmp_path / "topics.csv"
    pd.DataFrame({"text": texts, "topic": labels}).to_csv(path, index=False)
    settings = {"embedder": str(tiny_model_dir), "judge": "oracle", "n_triplets": 24, "epochs": 1, "iterations": 1,
                "lr": 1e-3, "k_max": 6, "granularity": "paper"}
    result = run_bench(BenchOptions(str(path), method="clusterllm", seeds=(1, 2), text_column="text",
                                    label_column="topic", method_settings=settings, work_dir=tmp_path / "work"))
    assert result["k_true"] == 3 and 2 <= result["k_predicted"] <= 6
    assert result["queries"] == {"triplet": 24, "pair": 5 * 3}
    assert 0 < result["decided"]["triplet"] <= 24 and result["decided"]["pair"] == 15
    assert result["judge_label_agreement"] == {"triplet": 1.0, "pair": 1.0}
    assert set(result["base_metrics"]) == set(result["metrics"]) >= {"acc", "nmi", "ari", "ami"}
    assert result["seconds"]["finetune"] > 0 and {"ask", "granularity", "embed", "total"} <= set(result["seconds"])
