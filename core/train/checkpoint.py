"""A training checkpoint: the latest finished epoch's trainable weights, optimizer state and loss history.

Written to a temporary folder and swapped in, so a crash keeps the previous one; it resumes only under the same
training settings (its fingerprint), and says which settings changed otherwise.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from core.errors import SettingsError

ADAPTER = "adapter"
FULL_WEIGHTS = "model.safetensors"
STATE = "state.pt"
FINGERPRINT = "fingerprint.json"


class Checkpoint:
    """A folder holding the latest finished epoch: trainable weights, optimizer state, epoch and loss history.

    LoRA adapters are saved with peft's `save_pretrained` (reusable as is); a full fine-tune saves the model's
    weights. `fingerprint` (the training settings) must match to resume, so a changed setting never mixes runs.
    """

    def __init__(self, folder: str | Path, fingerprint: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.fingerprint = fingerprint

    def exists(self) -> bool:
        return (self.folder / STATE).exists()

    def save(self, model: Any, optimizer: Any, epoch: int, history: dict[str, list[float]], lora: bool) -> None:
        """Write the checkpoint to a temporary folder, then swap it in, so a crash keeps the previous one."""
        import torch
        from safetensors.torch import save_model

        tmp = self.folder.with_name(f".{self.folder.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if lora:
            model.save_pretrained(tmp / ADAPTER)
        else:
            save_model(model, str(tmp / FULL_WEIGHTS))
        torch.save({"epoch": epoch, "history": history, "optimizer": optimizer.state_dict()}, tmp / STATE)
        (tmp / FINGERPRINT).write_text(json.dumps(self.fingerprint, sort_keys=True))
        shutil.rmtree(self.folder, ignore_errors=True)
        tmp.rename(self.folder)

    def load(self, model: Any, optimizer: Any, lora: bool) -> tuple[int, dict[str, list[float]]]:
        """Restore weights and optimizer; return (epochs done, history)."""
        import torch
        from safetensors.torch import load_file, load_model

        saved = json.loads((self.folder / FINGERPRINT).read_text())
        if saved != json.loads(json.dumps(self.fingerprint, sort_keys=True)):
            changed = sorted(k for k in set(saved) | set(self.fingerprint) if saved.get(k) != self.fingerprint.get(k))
            raise SettingsError(f"The checkpoint in {self.folder} was made with other settings ({', '.join(changed)}). "
                                "Keep the settings to resume, or delete the folder to start over.")
        if lora:
            from peft import set_peft_model_state_dict

            set_peft_model_state_dict(model, load_file(str(self.folder / ADAPTER / "adapter_model.safetensors")))
        else:
            load_model(model, str(self.folder / FULL_WEIGHTS))
        state = torch.load(self.folder / STATE, weights_only=True)
        optimizer.load_state_dict(state["optimizer"])
        return int(state["epoch"]), {name: list(values) for name, values in state["history"].items()}
