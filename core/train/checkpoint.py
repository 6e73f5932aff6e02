"""A training checkpoint: where training stands (epoch and step), the trainable weights or the LoRA adapter, the
optimizer state and the loss history, in one folder.

Written to a temporary folder and swapped in, so a crash keeps the previous one; it resumes only under the same
training settings (its fingerprint), and says which settings changed otherwise. One that cannot be read (a bad disk,
a hand edit) is refused with DamagedCheckpointError before anything is restored, so the caller can train again.
"""
from __future__ import annotations

import json
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import SettingsError

ADAPTER = "adapter"
WEIGHTS = "trainable.safetensors"
STATE = "state.pt"
FINGERPRINT = "fingerprint.json"
FORMAT = 2  # 1: the per-method checkpoints before core.train's loop (no step position)
History = dict[str, list[float]]


class DamagedCheckpointError(SettingsError):
    """A checkpoint's files cannot be read; nothing was restored from it."""


@dataclass(frozen=True)
class Position:
    """Where training stands: `epoch` epochs finished and `step` optimiser steps into the next one."""

    epoch: int = 0
    step: int = 0


class Checkpoint:
    """A folder holding the latest saved position: trainable weights, optimizer state, position and loss history.

    A LoRA model (`adapter=True`) is saved with peft's `save_pretrained` (reusable as is); otherwise the parameters
    that train (`requires_grad`) are saved, frozen ones are the model's own. `fingerprint` (the training settings)
    must match to resume, so a changed setting never mixes two runs.
    """

    def __init__(self, folder: str | Path, fingerprint: dict[str, Any], adapter: bool = False) -> None:
        self.folder = Path(folder)
        self.fingerprint = fingerprint
        self.adapter = adapter

    def exists(self) -> bool:
        self._recover()
        return (self.folder / STATE).exists()

    def save(self, model: Any, optimizer: Any, position: Position, history: History) -> None:
        """Write the checkpoint to a temporary folder, then swap it in, so a crash keeps the previous one."""
        import torch
        from safetensors.torch import save_file

        tmp, old = self._sibling("tmp"), self._sibling("old")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.adapter:
            model.save_pretrained(tmp / ADAPTER)
        else:
            save_file({name: p.detach().cpu().contiguous() for name, p in _trainable(model).items()},
                      str(tmp / WEIGHTS))
        torch.save({"format": FORMAT, "epoch": position.epoch, "step": position.step, "history": history,
                    "optimizer": optimizer.state_dict()}, tmp / STATE)
        (tmp / FINGERPRINT).write_text(json.dumps(self.fingerprint, sort_keys=True))
        shutil.rmtree(old, ignore_errors=True)
        if self.folder.exists():
            self.folder.rename(old)
        tmp.rename(self.folder)
        shutil.rmtree(old, ignore_errors=True)

    def load(self, model: Any, optimizer: Any) -> tuple[Position, History]:
        """Restore weights and optimizer; return (position, history). Refuses a checkpoint of other settings, and one
        that cannot be read (DamagedCheckpointError, raised before the model or optimizer is touched)."""
        state, saved_fingerprint, weights = self._read()
        if state.get("format") != FORMAT:
            raise SettingsError(f"The checkpoint in {self.folder} was written by an earlier version of ClusterLens and "
                                "cannot be resumed. Delete the folder to start over.")
        self._check_fingerprint(saved_fingerprint)
        if self.adapter:
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(model, weights)
        else:
            self._load_trainable(model, weights)
        optimizer.load_state_dict(state["optimizer"])
        history = {name: list(values) for name, values in state["history"].items()}
        return Position(int(state["epoch"]), int(state["step"])), history

    def _read(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """(state, fingerprint, weights) as saved; DamagedCheckpointError when any of them cannot be read."""
        import torch
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        weights = self.folder / ADAPTER / "adapter_model.safetensors" if self.adapter else self.folder / WEIGHTS
        try:
            state = torch.load(self.folder / STATE, weights_only=True)
            fingerprint = json.loads((self.folder / FINGERPRINT).read_text())
            if not isinstance(state, dict) or not isinstance(fingerprint, dict):
                raise ValueError("not a checkpoint's content")
            return state, fingerprint, load_file(str(weights))
        except (OSError, ValueError, RuntimeError, EOFError, pickle.UnpicklingError, SafetensorError) as error:
            message = f"The checkpoint in {self.folder} cannot be read ({type(error).__name__})."
            raise DamagedCheckpointError(message) from error

    def _check_fingerprint(self, saved: dict[str, Any]) -> None:
        wanted = json.loads(json.dumps(self.fingerprint, sort_keys=True))
        changed = sorted(key for key in set(saved) | set(wanted) if saved.get(key) != wanted.get(key))
        if changed:
            raise SettingsError(f"The checkpoint in {self.folder} was made with other settings ({', '.join(changed)}). "
                                "Keep the settings to resume, or delete the folder to start over.")

    def _load_trainable(self, model: Any, saved: dict[str, Any]) -> None:
        import torch

        trainable = _trainable(model)
        if set(saved) != set(trainable):
            raise SettingsError(f"The checkpoint in {self.folder} holds other weights than this model trains. "
                                "Delete the folder to start over.")
        with torch.no_grad():
            for name, tensor in saved.items():
                trainable[name].copy_(tensor)

    def _sibling(self, kind: str) -> Path:
        return self.folder.with_name(f".{self.folder.name}.{kind}")

    def _recover(self) -> None:
        """After a crash between the two renames of `save`, put the previous checkpoint back."""
        old = self._sibling("old")
        if not (self.folder / STATE).exists() and (old / STATE).exists():
            shutil.rmtree(self.folder, ignore_errors=True)
            old.rename(self.folder)


def _trainable(model: Any) -> dict[str, Any]:
    """The parameters that train, by name (a tied weight once)."""
    return {name: p for name, p in model.named_parameters() if p.requires_grad}
