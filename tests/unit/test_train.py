"""The one training loop on a tiny torch model: seeding, cancel and resume mid-epoch, fingerprints, progress,
accumulation over sub-batches, and the checkpoint's crash recovery."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.errors import RunCancelled, SettingsError
from core.train import Checkpoint, Position, Trainer

INPUTS = torch.linspace(-1, 1, 30).reshape(10, 3)
TARGETS = INPUTS.sum(dim=1, keepdim=True) ** 2


def tiny_model(dropout: float = 0.3) -> nn.Module:
    """A 3-8-1 network with dropout, the same weights on every call."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Dropout(dropout), nn.Linear(8, 1))


def noisy_examples(epoch: int, generator: np.random.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The ten rows with a little target noise drawn from the epoch's generator (so resuming must redraw it)."""
    noise = torch.as_tensor(generator.normal(0.0, 0.01, len(INPUTS)), dtype=torch.float32)
    return [(INPUTS[i], TARGETS[i] + noise[i]) for i in range(len(INPUTS))]


def mse(model: nn.Module):
    def loss(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        inputs, targets = (torch.stack(column) for column in zip(*batch))
        return ((model(inputs) - targets) ** 2).mean()

    return loss


def train(model: nn.Module, **settings) -> Trainer:
    settings = {"epochs": 3, "lr": 1e-2, "batch_size": 4, "seed": 7, **settings}
    return Trainer(**settings).fit(model, noisy_examples, mse(model))


def same_weights(first: nn.Module, second: nn.Module) -> bool:
    return all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


def test_same_seed_same_weights_whatever_the_global_torch_state():
    first, second = tiny_model(), tiny_model()
    torch.manual_seed(123)
    trained = train(first)
    assert len(trained.history_["step"]) == 3 * 3 and len(trained.history_["epoch"]) == 3  # 10 rows: 4 + 4 + 2
    torch.manual_seed(456)
    assert train(second).history_ == trained.history_ and same_weights(first, second)
    other = tiny_model()
    train(other, seed=8)
    assert not same_weights(first, other)


def test_a_run_cancelled_mid_epoch_resumes_exactly_like_an_uninterrupted_one(tmp_path):
    straight = tiny_model()
    whole = train(straight)
    calls = {"n": 0}

    def stop_at_the_fifth_step() -> bool:
        calls["n"] += 1
        return calls["n"] == 5  # 3 steps per epoch: the 2nd step of epoch 2

    checkpoint = Checkpoint(tmp_path / "ckpt", {"lr": 1e-2})
    with pytest.raises(RunCancelled, match="epoch 2 of 3; it resumes from the last checkpoint"):
        train(tiny_model(), checkpoint=checkpoint, checkpoint_seconds=0.0, should_stop=stop_at_the_fifth_step)
    reports: list[float] = []
    resumed_model = tiny_model()
    resumed = train(resumed_model, checkpoint=checkpoint, progress=lambda fraction, message: reports.append(fraction))
    assert resumed.resumed_from_ == Position(epoch=1, step=1)
    assert len(reports) == 9 - 4 and reports[0] == pytest.approx(5 / 9)
    assert resumed.history_ == whole.history_ and same_weights(resumed_model, straight)


def test_a_checkpoint_of_other_settings_is_refused_naming_them(tmp_path):
    train(tiny_model(), epochs=1, checkpoint=Checkpoint(tmp_path, {"lr": 1e-2, "layers": 2, "seed": 7}))
    changed = Checkpoint(tmp_path, {"lr": 1e-3, "layers": 3, "seed": 7})
    with pytest.raises(SettingsError, match=r"other settings \(layers, lr\)\. Keep the settings to resume, or delete"):
        train(tiny_model(), epochs=2, checkpoint=changed)


def test_progress_rises_to_one_with_the_loss_and_the_time_left():
    reports: list[tuple[float, str]] = []
    train(tiny_model(), progress=lambda fraction, message: reports.append((fraction, message)))
    fractions = [fraction for fraction, _ in reports]
    assert len(reports) == 9 and fractions == sorted(set(fractions)) and fractions[-1] == 1.0
    assert reports[0][1].startswith("Epoch 1/3, step 1/3, loss ")
    assert all(" left" in message and "estimating" not in message for _, message in reports)


def test_accumulated_sub_batches_step_like_one_whole_batch():
    whole, split = tiny_model(dropout=0.0), tiny_model(dropout=0.0)
    one = train(whole, batch_size=4)
    accumulated = train(split, batch_size=2, accumulate=2)  # the same 4 rows per step, in two backward passes
    assert len(accumulated.history_["step"]) == len(one.history_["step"]) == 9
    assert np.allclose(accumulated.history_["step"], one.history_["step"], atol=1e-6)
    for a, b in zip(whole.parameters(), split.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_a_crash_between_the_two_renames_keeps_the_previous_checkpoint(tmp_path):
    checkpoint = Checkpoint(tmp_path / "ckpt", {"lr": 1e-2})
    train(tiny_model(), epochs=1, checkpoint=checkpoint)
    (tmp_path / "ckpt").rename(tmp_path / ".ckpt.old")  # as if the process died after moving the old one aside
    assert checkpoint.exists()
    assert train(tiny_model(), epochs=2, checkpoint=checkpoint).resumed_from_ == Position(epoch=1)


def test_a_checkpoint_from_before_the_shared_loop_is_refused(tmp_path):
    checkpoint = Checkpoint(tmp_path, {"lr": 1e-2})
    train(tiny_model(), epochs=1, checkpoint=checkpoint)
    state = torch.load(tmp_path / "state.pt", weights_only=True)
    torch.save({key: value for key, value in state.items() if key not in ("format", "step")}, tmp_path / "state.pt")
    with pytest.raises(SettingsError, match="earlier version of ClusterLens .* Delete the folder"):
        train(tiny_model(), epochs=2, checkpoint=checkpoint)


@pytest.mark.parametrize("damaged", ["state.pt", "trainable.safetensors", "fingerprint.json"])
def test_a_damaged_checkpoint_is_trained_again_from_the_start(tmp_path, damaged):
    checkpoint = Checkpoint(tmp_path, {"lr": 1e-2})
    train(tiny_model(), epochs=1, checkpoint=checkpoint)
    (tmp_path / damaged).write_bytes(b"PK\x03\x04 garbage \x00\xff" * 8)  # what a bad disk or a hand edit leaves
    again = tiny_model()
    assert train(again, epochs=2, checkpoint=checkpoint).resumed_from_ == Position()
    straight = tiny_model()
    train(straight, epochs=2)
    assert same_weights(again, straight)
    assert train(tiny_model(), epochs=2, checkpoint=checkpoint).resumed_from_ == Position(epoch=2)  # saved anew
