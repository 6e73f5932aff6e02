"""ERASMO on a tiny random-weight causal LM: LoRA and full steps, checkpoints, cancel, reproducibility, the Method."""
from __future__ import annotations

import typing

import numpy as np
import pandas as pd
import pytest
import torch

from core.data.dataset import Dataset
from core.data.encode import rows_to_texts
from core.errors import RunCancelled, SettingsError
from core.methods.base import RunContext
from core.methods.erasmo import (CHECKPOINT_FOLDER, ERASMO, ERASMOMethod, ERASMOParams, ERASMOSettings,
                                 approximate_tokens)
from core.methods.erasmo.objective import causal_lm_loss, contrastive_loss, info_nce
from core.train import Trainer, epoch_generator
from core.storage import RunDirectory

FRAME = pd.DataFrame({
    "species": ["Adelie", "Gentoo", "Chinstrap", "Adelie", "Gentoo", "Chinstrap"] * 2,
    "bill_length_mm": [39.1, 47.5, 49.0, 38.2, 50.1, 46.4, 37.8, 48.7, 51.3, 40.6, 45.2, np.nan],
    "island": ["Torgersen", "Biscoe", "Dream", "Dream", "Biscoe", None] * 2,
})


def tiny_erasmo(tiny_lm, **options) -> ERASMO:
    settings = {"epochs": 1, "batch_size": 4, "max_length": 64, "lr": 1e-2, "seed": 3, "model_loader": tiny_lm}
    return ERASMO(model="tiny", **{**settings, **options})


def lora_weights(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}


def test_the_contrastive_objective_is_the_default_and_the_papers_loss_an_option() -> None:
    assert ERASMOParams().objective == "contrastive" and ERASMOSettings().objective == "contrastive"
    assert "causal_lm" in typing.get_args(typing.get_type_hints(ERASMOParams)["objective"])


@pytest.mark.parametrize("objective", ["causal_lm", "contrastive", "both", "neighbours"])
def test_one_lora_step_changes_only_the_adapter(tiny_lm, objective) -> None:
    untrained = tiny_erasmo(tiny_lm, epochs=0, objective=objective).fit(FRAME)
    before = lora_weights(untrained.model_)
    assert before and all(torch.count_nonzero(w) == 0 for n, w in before.items() if "lora_B" in n)
    fitted = tiny_erasmo(tiny_lm, batch_size=len(FRAME), objective=objective).fit(FRAME)
    after = lora_weights(fitted.model_)
    assert len(fitted.history_["step"]) == 1 and np.isfinite(fitted.history_["step"][0])
    assert any(not torch.equal(after[n], before[n]) for n in before if "lora_B" in n)
    frozen = [n for n, p in fitted.model_.named_parameters() if "lora_" not in n]
    assert frozen and not any(p.requires_grad for n, p in fitted.model_.named_parameters() if "lora_" not in n)


def test_full_fine_tune_changes_the_base_weights(tiny_lm) -> None:
    base, _ = tiny_lm("tiny", "cpu")
    fitted = tiny_erasmo(tiny_lm, lora=False, batch_size=len(FRAME)).fit(FRAME)
    name, weight = "model.layers.0.self_attn.q_proj.weight", dict(fitted.model_.named_parameters())
    assert not torch.equal(weight[name].detach(), dict(base.named_parameters())[name].detach())
    assert np.isfinite(fitted.history_["epoch"][0])


def test_clauses_are_reshuffled_each_epoch_reproducibly(tiny_lm) -> None:
    model, tokenizer = tiny_lm("tiny", "cpu")
    frame = pd.DataFrame({c: range(8) for c in "abcdef"})
    seen: list[list[str]] = []

    def epoch_texts(epoch: int, rng: np.random.Generator) -> list[str]:
        seen.append(rows_to_texts(frame, order=rng))
        return seen[-1]

    Trainer(epochs=2, lr=1e-3, batch_size=8, seed=1).fit(model, epoch_texts,
                                                         causal_lm_loss(model, tokenizer, max_length=64))
    assert seen[0] != seen[1] and [sorted(t.split(", ")) for t in seen[0]] == [sorted(t.split(", ")) for t in seen[1]]
    assert seen[0] == epoch_texts(0, epoch_generator(1, 0))


def test_same_seed_same_embeddings_and_deterministic_embedding(tiny_lm) -> None:
    first = tiny_erasmo(tiny_lm, epochs=2).fit(FRAME)
    second = tiny_erasmo(tiny_lm, epochs=2).fit(FRAME)
    vectors = first.embed(FRAME)
    assert vectors.shape == (len(FRAME), 32) and np.isfinite(vectors).all()
    assert np.array_equal(vectors, second.embed(FRAME))
    assert np.array_equal(vectors, first.embed(FRAME))
    assert first.history_ == second.history_
    other = tiny_erasmo(tiny_lm, epochs=2, seed=4).fit(FRAME)
    assert not np.allclose(vectors, other.embed(FRAME))
    averaged = tiny_erasmo(tiny_lm, epochs=0, permutations=3, pooling="values", postprocess="whiten").fit(FRAME)
    assert np.array_equal(averaged.embed(FRAME), averaged.embed(FRAME))


@pytest.mark.parametrize("objective", ["causal_lm", "contrastive"])
def test_checkpoint_resume_matches_an_uninterrupted_run(tiny_lm, tmp_path, objective) -> None:
    straight = tiny_erasmo(tiny_lm, epochs=2, objective=objective, checkpoint_dir=str(tmp_path / "a")).fit(FRAME)
    tiny_erasmo(tiny_lm, epochs=1, objective=objective, checkpoint_dir=str(tmp_path / "b")).fit(FRAME)
    assert (tmp_path / "b" / "adapter" / "adapter_model.safetensors").exists()
    resumed = tiny_erasmo(tiny_lm, epochs=2, objective=objective, checkpoint_dir=str(tmp_path / "b")).fit(FRAME)
    assert resumed.history_ == straight.history_ and len(resumed.history_["epoch"]) == 2
    a, b = lora_weights(straight.model_), lora_weights(resumed.model_)
    assert all(torch.allclose(a[n], b[n], atol=1e-6) for n in a)
    with pytest.raises(SettingsError, match="other settings"):
        tiny_erasmo(tiny_lm, epochs=2, lr=0.5, objective=objective, checkpoint_dir=str(tmp_path / "b")).fit(FRAME)
    with pytest.raises(SettingsError, match="already holds 2 epochs"):
        tiny_erasmo(tiny_lm, epochs=1, objective=objective, checkpoint_dir=str(tmp_path / "b")).fit(FRAME)


def test_full_fine_tune_checkpoint_resumes(tiny_lm, tmp_path) -> None:
    straight = tiny_erasmo(tiny_lm, lora=False, epochs=2).fit(FRAME)
    tiny_erasmo(tiny_lm, lora=False, epochs=1, checkpoint_dir=str(tmp_path)).fit(FRAME)
    resumed = tiny_erasmo(tiny_lm, lora=False, epochs=2, checkpoint_dir=str(tmp_path)).fit(FRAME)
    assert np.allclose(resumed.history_["step"], straight.history_["step"], atol=1e-5)
    assert np.allclose(resumed.embed(FRAME), straight.embed(FRAME), atol=1e-4)


def test_progress_reports_loss_and_eta_and_stop_cancels(tiny_lm, tmp_path) -> None:
    reports: list[tuple[float, str]] = []
    tiny_erasmo(tiny_lm, epochs=2, progress=lambda f, m: reports.append((f, m))).fit(FRAME)
    assert len(reports) == 6 and reports[-1][0] == pytest.approx(1.0)
    assert "loss" in reports[0][1] and "left" in reports[0][1] and "Epoch 1/2" in reports[0][1]
    steps: list[float] = []
    stop_after_epoch_one = tiny_erasmo(tiny_lm, epochs=2, checkpoint_dir=str(tmp_path),
                                       progress=lambda f, m: steps.append(f), should_stop=lambda: len(steps) >= 4)
    with pytest.raises(RunCancelled, match="epoch 2"):
        stop_after_epoch_one.fit(FRAME)
    resumed = tiny_erasmo(tiny_lm, epochs=2, checkpoint_dir=str(tmp_path), progress=lambda f, m: steps.append(f))
    assert len(resumed.fit(FRAME).history_["epoch"]) == 2 and len(steps) == 4 + 3


def test_info_nce_is_low_when_each_row_matches_its_own_view() -> None:
    torch.manual_seed(0)
    rows = torch.randn(8, 16)
    matched = info_nce(rows, rows + 0.01 * torch.randn(8, 16), temperature=0.1)
    mismatched = info_nce(rows, rows.roll(1, dims=0), temperature=0.1)
    assert matched < 0.01 and mismatched > 2.0
    scale = torch.rand(16) * 100  # each dimension is standardised over the batch: its scale and offset do not count
    assert torch.isclose(info_nce(rows * scale + 7, rows.roll(1, 0) * scale + 7, temperature=0.1), mismatched)


def test_contrastive_fine_tuning_pulls_the_views_of_a_row_together(tiny_lm, tmp_path) -> None:
    def held_out_loss(estimator: ERASMO) -> float:
        pairs = list(zip(estimator.encode(FRAME, order=11, drop=0.5), estimator.encode(FRAME, order=12, drop=0.5)))
        loss = contrastive_loss(estimator.model_, estimator.tokenizer_, view=(-1, "values"), temperature=0.1,
                                max_length=64)
        with torch.no_grad():
            return float(loss(pairs))

    options = dict(objective="contrastive", pooling="values", batch_size=6, lr=5e-3)
    before = held_out_loss(tiny_erasmo(tiny_lm, **options, epochs=0).fit(FRAME))
    trained = tiny_erasmo(tiny_lm, **options, epochs=8, checkpoint_dir=str(tmp_path)).fit(FRAME)
    assert held_out_loss(trained) < before and len(trained.history_["step"]) == 16
    again = tiny_erasmo(tiny_lm, **options, epochs=8).fit(FRAME)
    assert np.array_equal(trained.embed(FRAME), again.embed(FRAME))
    with pytest.raises(SettingsError, match="objective"):
        tiny_erasmo(tiny_lm, **{**options, "objective": "both"}, epochs=8, checkpoint_dir=str(tmp_path)).fit(FRAME)
    both = tiny_erasmo(tiny_lm, **{**options, "objective": "both"}, epochs=1).fit(FRAME)
    assert all(np.isfinite(both.history_["step"]))


def test_verbalized_rows_and_bad_settings(tiny_lm) -> None:
    words = tiny_erasmo(tiny_lm, epochs=0, verbalize="words").fit(FRAME, ["bill_length_mm", "island"])
    assert words.encode(FRAME)[0].text == "bill length mm is thirty-nine point one, island is Torgersen"
    bins = tiny_erasmo(tiny_lm, epochs=0, verbalize="bins").fit(FRAME, ["bill_length_mm"])
    assert bins.encode(FRAME)[0].text == "bill length mm is low"
    for bad in ({"pooling": "max"}, {"postprocess": "pca"}, {"verbalize": "roman"}):
        with pytest.raises(SettingsError):
            tiny_erasmo(tiny_lm, **bad).fit(FRAME)


def test_method_returns_erasmo_and_three_comparisons(tiny_lm, fake_embedder, tmp_path) -> None:
    roles = {"species": "label", "bill_length_mm": "numeric", "island": "categorical"}
    data = Dataset(FRAME, "table", roles, name="tiny-penguins")
    stages: list[str] = []
    context = RunContext(directory=RunDirectory(tmp_path), embedders=lambda name: fake_embedder,
                         progress=lambda stage, fraction, message: stages.append(stage))
    settings = ERASMOSettings(model="tiny", epochs=1, batch_size=6, max_length=64, target_modules="q_proj, v_proj")
    result = ERASMOMethod(model_loader=tiny_lm).represent(data, settings, context)
    assert result.embeddings.shape == (len(FRAME), 32)
    assert set(result.comparisons) == {"raw_features", "lm_no_finetune", "sentence_embedder"}
    assert result.comparisons["lm_no_finetune"].shape == (len(FRAME), 32)
    assert not np.allclose(result.comparisons["lm_no_finetune"], result.embeddings)
    assert result.comparisons["raw_features"].shape[0] == len(FRAME)
    assert fake_embedder.calls[0][0] == "bill length mm is 39.1, island is Torgersen"  # the label is not a feature
    assert len(result.details["loss"]["step"]) == 2 and result.details["trainable_parameters"] > 0
    assert (tmp_path / CHECKPOINT_FOLDER / "state.pt").exists()
    assert {"lm_no_finetune", "finetune", "embed"} <= set(stages)


def test_time_estimate_grows_with_epochs_and_rows_and_is_none_for_unknown_models() -> None:
    roles = {"species": "label", "bill_length_mm": "numeric", "island": "categorical"}
    small, large = (Dataset(pd.concat([FRAME] * n, ignore_index=True), "table", roles) for n in (1, 10))
    base = ERASMOMethod().estimate_seconds(small, ERASMOSettings(), "cpu")
    assert base < ERASMOMethod().estimate_seconds(small, ERASMOSettings(epochs=10), "cpu")
    assert base < ERASMOMethod().estimate_seconds(large, ERASMOSettings(), "cpu")
    assert ERASMOMethod().estimate_seconds(large, ERASMOSettings(), "cuda:0") < ERASMOMethod().estimate_seconds(
        large, ERASMOSettings(), "cpu")
    assert ERASMOMethod().estimate_seconds(small, ERASMOSettings(model="someone/some-model"), "cpu") is None
    by_objective = [ERASMOMethod().estimate_seconds(large, ERASMOSettings(objective=objective), "cpu")
                    for objective in ("causal_lm", "contrastive", "both")]
    assert by_objective == sorted(set(by_objective))  # the contrastive views cost more, both losses most
    assert approximate_tokens("bill length mm is 39.1") == pytest.approx(1 + 3 + 1 + 19 / 4)


def test_the_neighbours_objective_pairs_each_row_with_a_near_row_of_the_features(tiny_lm, tmp_path) -> None:
    groups = np.arange(len(FRAME)) % 3
    features = np.column_stack([groups * 10.0, np.arange(len(FRAME)) * 0.01])
    estimator = tiny_erasmo(tiny_lm, objective="neighbours", neighbours=4, clause_drop=0.0, epochs=0).fit(
        FRAME, features=features)
    nearest = estimator._nearest_rows(FRAME, features)
    assert nearest.shape == (len(FRAME), 4) and np.array_equal(nearest[:, 0], np.arange(len(FRAME)))
    assert all(set(groups[row]) == {groups[i]} for i, row in enumerate(nearest))

    def clauses(text: str) -> frozenset[str]:
        return frozenset(text.split(", "))

    row_of = {clauses(row.text): i for i, row in enumerate(estimator.encode(FRAME))}
    examples, _ = estimator._objective(FRAME, features)
    partners = [(row_of[clauses(first.text)], row_of[clauses(second.text)])
                for first, second in examples(0, np.random.default_rng(5))]
    assert [first for first, _ in partners] == list(range(len(FRAME)))
    assert all(groups[first] == groups[second] for first, second in partners)
    assert any(first != second for first, second in partners)

    typed = tiny_erasmo(tiny_lm, objective="neighbours", epochs=0).fit(FRAME)  # features from the column types
    assert typed._nearest_rows(FRAME, None).shape == (len(FRAME), 5)
    tiny_erasmo(tiny_lm, objective="neighbours", checkpoint_dir=str(tmp_path)).fit(FRAME, features=features)
    with pytest.raises(SettingsError, match="other settings"):
        tiny_erasmo(tiny_lm, objective="neighbours", neighbours=2, epochs=2,
                    checkpoint_dir=str(tmp_path)).fit(FRAME, features=features)
