"""CACTUS: the losses by hand, self-supervision, the estimator (fit, predict, save, resume, cancel) and a whole run."""
import numpy as np
import pandas as pd
import pytest
import torch

from core.data.groups import EntityGroup
from core.errors import RunCancelled, SettingsError
from core.methods.cactus import CACTUS, CACTUSMethod, EncoderBaseline, load_run_models
from core.methods.cactus.estimator import BLENDS
from core.methods.cactus.objective import SelfSupervisedGroups, augmented_triplet_loss, drop_words, triplet_loss
from tests.unit.cactus_helpers import TOPICS, tiny_encoder, topic_groups

SIM = torch.tensor([[1.0, 0.5, 0.3], [0.5, 1.0, 0.55], [0.3, 0.55, 1.0]])
CLUSTERS = torch.tensor([0, 0, 1])


def test_triplet_loss_by_hand():
    # Triplets (anchor, positive, negative): (0, 1, 2) -> 0.1 + 0.3 - 0.5 < 0; (1, 0, 2) -> 0.1 + 0.55 - 0.5 = 0.15.
    assert float(triplet_loss(SIM, CLUSTERS, margin=0.1)) == pytest.approx(0.15 / 2)


def test_augmented_triplet_loss_by_hand_and_its_gradient_reaches_the_neutral_similarity():
    neutral = torch.tensor(0.3, requires_grad=True)
    loss = augmented_triplet_loss(SIM, CLUSTERS, neutral, margin=0.1)
    # Triplets as above: 0.15. Same-cluster pairs (0,1), (1,0) vs the neutral: 0.1 + 0.3 - 0.5 < 0, twice.
    # Different-cluster pairs vs the neutral: (0,2), (2,0): 0.1 + 0.3 - 0.3 = 0.1;
    # (1,2), (2,1): 0.1 + 0.55 - 0.3 = 0.35.
    assert float(loss.detach()) == pytest.approx((0.15 + 2 * 0.1 + 2 * 0.35) / (2 + 2 + 4))
    loss.backward()
    assert float(neutral.grad) == pytest.approx(-4 / 8)  # four active "neutral beats this pair" terms push it up


def test_only_the_augmented_loss_learns_from_a_group_with_one_cluster():
    sim = torch.tensor([[1.0, 0.2], [0.2, 1.0]], requires_grad=True)
    one_cluster = torch.tensor([0, 0])
    assert float(triplet_loss(sim, one_cluster, 0.1).detach()) == 0.0
    loss = augmented_triplet_loss(sim, one_cluster, torch.tensor(0.5), 0.1)
    loss.backward()
    assert float(loss.detach()) == pytest.approx(0.4) and float(sim.grad[0, 1]) < 0


def test_word_dropping_keeps_a_word_and_copies_follow_the_training_shapes():
    rng = np.random.default_rng(0)
    assert all(drop_words("reset my password now", rng, 0.99) for _ in range(20))
    assert drop_words("single", rng, 0.9) == "single"
    groups = topic_groups(5)
    made_groups = SelfSupervisedGroups(groups, rate=0.3, seed=1, count=5)
    made = made_groups[3]
    assert made == made_groups[3]  # the same index gives the same group (resumable)
    sizes = sorted(np.unique(made.clusters, return_counts=True)[1].tolist())
    assert sizes in [sorted(np.unique(g.clusters, return_counts=True)[1].tolist()) for g in groups]
    words = {w for g in groups for text in g.texts for w in text.split()}
    assert all(set(text.split()) <= words for text in made.texts)


def tiny(**settings) -> CACTUS:
    defaults = dict(encoder="tiny", epochs=1, pretrain_steps=2, lr=1e-3, seed=3, encoder_loader=tiny_encoder)
    return CACTUS(**{**defaults, **settings})


def test_fit_predict_save_load(tmp_path):
    train, val = topic_groups(6, seed=1), topic_groups(3, seed=2)
    stages = []
    model = tiny(progress=lambda stage, fraction, message: stages.append((stage, fraction))).fit(train, val)
    assert len(model.history_["pretrain"]) == 2 and len(model.history_["train"]) == 6
    assert 0.0 < model.threshold_ < 1.5 and model.neutral_ != 0.5
    fractions = [fraction for _, fraction in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    labels = model.predict(val)
    assert [len(l) for l in labels] == [len(g) for g in val]
    model.save(tmp_path / "model")
    again = CACTUS.load(tmp_path / "model", encoder_loader=tiny_encoder)
    assert again.threshold_ == model.threshold_ and again.attention == "sia"
    for first, second in zip(model.embed(val), again.embed(val)):
        assert np.allclose(first, second, atol=1e-6)


def test_blend_zero_is_the_pretrained_network_and_auto_chooses_a_blend_on_validation(tmp_path):
    train, val = topic_groups(6, seed=1), topic_groups(3, seed=2)
    untrained = tiny(epochs=0, pretrain_steps=0).fit([], val)
    pretrained = tiny(blend=0.0).fit(train, val)
    for first, second in zip(untrained.embed(val), pretrained.embed(val)):
        assert np.allclose(first, second, atol=1e-6)
    auto = tiny(blend=None).fit(train, val)
    assert set(auto.blend_curve_) == set(BLENDS) and auto.blend_ in BLENDS
    best = max(ami for _, ami in auto.blend_curve_.values())
    assert auto.blend_curve_[auto.blend_][1] == best and auto.threshold_ == auto.blend_curve_[auto.blend_][0]
    trained = tiny().fit(train, val)
    auto.set_blend(1.0)
    for first, second in zip(trained.embed(val), auto.embed(val)):
        assert np.allclose(first, second, atol=1e-6)
    half = tiny(blend=0.5).fit(train, val)
    half.save(tmp_path / "half")
    again = CACTUS.load(tmp_path / "half", encoder_loader=tiny_encoder)
    assert again.blend_ == 0.5
    for first, second in zip(half.embed(val), again.embed(val)):
        assert np.allclose(first, second, atol=1e-6)


def test_training_lowers_the_loss_on_a_repeated_group():
    group = topic_groups(1)[0]
    model = tiny(epochs=30, pretrain_steps=0, lr=3e-3).fit([group])
    losses = model.history_["train"]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


def test_a_cancelled_fit_resumes_to_the_same_model_as_an_uninterrupted_one(tmp_path, monkeypatch):
    monkeypatch.setattr("core.methods.cactus.estimator.CHECKPOINT_SECONDS", 0.0)  # a checkpoint after every step
    train = topic_groups(4, seed=5)
    whole = tiny(epochs=2).fit(train)
    calls = {"n": 0}

    def stop_after_five() -> bool:
        calls["n"] += 1
        return calls["n"] > 5  # 2 pretraining steps, then 3 of the 8 training steps

    with pytest.raises(RunCancelled):
        tiny(epochs=2, checkpoint_dir=tmp_path, should_stop=stop_after_five).fit(train)
    steps_run = []
    resumed = tiny(epochs=2, checkpoint_dir=tmp_path,
                   progress=lambda stage, fraction, message: steps_run.append(stage) if "left" in message else None
                   ).fit(train)
    assert steps_run.count("train") == 5 and "pretrain" not in steps_run
    assert resumed.history_["train"] == pytest.approx(whole.history_["train"], abs=1e-5)
    assert torch.allclose(resumed.network_.neutral, whole.network_.neutral)
    for first, second in zip(resumed.embed(train), whole.embed(train)):
        assert np.allclose(first, second, atol=1e-5)


def test_the_untrained_baseline_embeds_each_entity_alone_and_restores_its_threshold(fake_embedder):
    val = topic_groups(3)
    base = EncoderBaseline(fake_embedder).fit(val)
    assert fake_embedder.calls == [[text for group in val for text in group.texts]]  # one call, cacheable by text
    vectors = base.embed(val)
    assert [len(v) for v in vectors] == [len(g) for g in val]
    assert np.allclose(vectors[0], fake_embedder.encode(list(val[0].texts)))  # no context from other entities
    same = EncoderBaseline.restored(fake_embedder, base.threshold_)
    assert [l.tolist() for l in same.predict(val)] == [l.tolist() for l in base.predict(val)]


@pytest.mark.parametrize(("settings", "message"), [({"attention": "full"}, "attention must be"),
                                                   ({"loss": "contrastive"}, "loss must be"),
                                                   ({"batch_groups": 0}, "batch_groups")])
def test_bad_settings_are_named(settings, message):
    with pytest.raises(SettingsError, match=message):
        tiny(**settings).fit(topic_groups(2))


def test_unlabelled_groups_cannot_be_trained_on():
    with pytest.raises(SettingsError, match="without clusters"):
        tiny().fit([EntityGroup("g", ("a", "b"))])


def groups_table() -> pd.DataFrame:
    rows = []
    for group in topic_groups(6, seed=4):
        rows.extend({"session": group.id, "message": text, "topic": cluster}
                    for text, cluster in zip(group.texts, group.clusters))
    rows.append({"session": "to cluster", "message": TOPICS["card"][0], "topic": None})
    return pd.DataFrame(rows)


def test_a_whole_run_trains_scores_and_saves(tmp_path, monkeypatch, fake_embedder):
    from core.methods import METHODS
    from core.runs import RunDirectory, execute_run, prepare_run
    from core.settings import RunConfig

    monkeypatch.setitem(METHODS, "cactus", CACTUSMethod(encoder_loader=tiny_encoder))
    config = RunConfig(method="cactus", dataset="sessions", kind="text",
                       roles={"session": "group", "message": "text", "topic": "label"},
                       method_settings={"encoder": "tiny", "pretrain_steps": 1, "val_fraction": 0.34})
    prepare_run(RunDirectory(tmp_path), config, groups_table())
    stages = []
    summary = execute_run(config, tmp_path, lambda stage, fraction, message: stages.append(fraction),
                          embedders=lambda name: fake_embedder)
    assert summary["groups"] == 4 and 0 <= summary["ami"] <= 100 and "base_ami" in summary
    assert stages == sorted(stages) and stages[-1] == 1.0
    metrics = RunDirectory(tmp_path).read_json("metrics.json")
    assert metrics["groups"] == {"train": 4, "val": 2, "unlabelled": 1}
    assert len(metrics["per_group"]) == 2 and set(metrics["metrics"]) == {"ami", "ari"}
    assert not (tmp_path / "cactus-checkpoints").exists()
    trained, base = load_run_models(tmp_path, lambda name: fake_embedder, encoder_loader=tiny_encoder)
    new = [EntityGroup("new", (TOPICS["card"][1], TOPICS["refund"][2], TOPICS["card"][2]))]
    assert len(trained.predict(new)[0]) == 3 and base.threshold_ == metrics["base_threshold"]


def test_cactus_is_not_a_row_representation():
    with pytest.raises(SettingsError, match="CACTUS page"):
        CACTUSMethod().represent(None, None, None)


def test_the_groups_benchmark_json_has_the_spines_shape(tmp_path, fake_embedder):
    from core.bench import BenchOptions, format_table
    from core.data.benchmarks import shared_data_dir
    from core.data.group_benchmarks import GroupBenchmark
    from core.methods.cactus.bench import run_group_bench
    from core.methods.cactus.settings import CACTUSSettings
    from core.settings import parse_text_settings

    if not (shared_data_dir() / "clinc150").is_dir():
        pytest.skip("shared benchmark data not present")
    options = BenchOptions(dataset="clinc150-groups", method="cactus", work_dir=tmp_path, device="cpu",
                           method_settings={"encoder": "tiny", "pretrain_steps": 1, "attention": "nia",
                                            "blend": None})
    spec = GroupBenchmark(train_groups=3, val_groups=2, test_groups=3, clusters=(3, 3), sizes=(3, 3))
    result = run_group_bench(options, spec=spec, embedders=lambda name: fake_embedder, encoder_loader=tiny_encoder,
                             also="val")
    also = result.pop("also")  # the same trained model scored on val-split groups too
    assert also["split"] == "val" and result["split"] == "test" and also["n"] == 3
    assert also["threshold"] == result["threshold"] and also["metrics"] != {} and result["by_blend"] == {}
    assert {"dataset", "method", "n", "k", "metrics", "base_metrics", "seconds"} <= set(result)
    assert result["dataset"] == "clinc150-groups" and result["n"] == 3 and result["k"] <= 9
    for key in ("metrics", "base_metrics"):
        assert set(result[key]) == {"ami", "ari"} and all(len(pair) == 2 for pair in result[key].values())
    assert result["seconds"]["train"] > 0 and result["settings"]["attention"] == "nia"
    assert result["settings"]["blend"] is None and result["blend"] in BLENDS
    assert set(also["by_blend"]) == {f"{share:g}" for share in BLENDS}
    assert parse_text_settings(CACTUSSettings, {"blend": "auto"}) == {"blend": None}
    assert {"threshold", "val_ami", "ami", "ari"} <= set(also["by_blend"]["0.5"])
    assert "untrained encoder" in format_table(result) and "seen intents" in format_table(result)


def test_val_split_groups_score_the_default_model_that_tried_no_blend(tmp_path, fake_embedder):
    from core.bench import BenchOptions, format_table
    from core.data.benchmarks import shared_data_dir
    from core.data.group_benchmarks import GroupBenchmark
    from core.methods.cactus.bench import run_group_bench

    if not (shared_data_dir() / "clinc150").is_dir():
        pytest.skip("shared benchmark data not present")
    options = BenchOptions(dataset="clinc150-groups-mixed", method="cactus", work_dir=tmp_path, device="cpu",
                           split="val", method_settings={"encoder": "tiny", "attention": "sia"})
    spec = GroupBenchmark(name="clinc150-groups-mixed", train_groups=2, val_groups=2, test_groups=2, clusters=(3, 3),
                          sizes=(3, 3), mixed=True, scored="val")
    result = run_group_bench(options, spec=spec, embedders=lambda name: fake_embedder, encoder_loader=tiny_encoder)
    assert result["split"] == "val" and result["blend"] == 1.0 and result["by_blend"] == {}
    assert set(result["metrics"]) == {"ami", "ari"}
    assert "2 val groups" in format_table(result) and "mixed groups" in format_table(result)


def test_groups_benchmarks_need_cactus():
    from core.bench import BenchOptions, run_bench

    with pytest.raises(SettingsError, match="--method cactus"):
        run_bench(BenchOptions(dataset="clinc150-groups", method="baseline"))
