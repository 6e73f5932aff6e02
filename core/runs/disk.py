"""Disk use of runs: checkpoints removed once a run is done, and a budget for the home folder checked at submit."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from core.errors import ClusterLensError
from core.methods.cactus.method import CHECKPOINT_FOLDER as CACTUS_CHECKPOINTS
from core.methods.clusterllm.method import CHECKPOINT_FOLDER as CLUSTERLLM_CHECKPOINTS
from core.methods.erasmo.method import CHECKPOINT_FOLDER as ERASMO_CHECKPOINTS
from core.storage import RunDirectory

CHECKPOINT_FOLDERS = (CLUSTERLLM_CHECKPOINTS, ERASMO_CHECKPOINTS, CACTUS_CHECKPOINTS)
"""What only resume reads (training state, the judge's questions of each iteration). The fine-tuned models that the
pages load (finetuned-model/, the CACTUS model folder) are kept."""
DEFAULT_DISK_BUDGET_MB = 50_000
"""Generous: a small ClusterLLM run holds about 271 MB of checkpoints until it is done, the converted models take
about 0.5 GB, and a finished run keeps tens of MB (more with a fine-tuned model)."""


def remove_checkpoints(directory: RunDirectory) -> int:
    """Delete a finished run's checkpoints (resume no longer needs them); return the bytes freed."""
    freed = 0
    for name in CHECKPOINT_FOLDERS:
        folder = directory.file(name)
        if folder.is_dir():
            freed += folder_bytes(folder)
            shutil.rmtree(folder, ignore_errors=True)
    return freed


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under a folder; symbolic links are not followed (a shared models folder is not ours)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                try:
                    total += os.stat(path).st_size
                except OSError:  # removed while we walked (a run cleaning up) or unreadable: not counted
                    pass
    return total


def disk_budget_mb() -> float:
    """The home folder's budget in MB, from $CLUSTERLENS_DISK_BUDGET_MB (default DEFAULT_DISK_BUDGET_MB)."""
    raw = os.environ.get("CLUSTERLENS_DISK_BUDGET_MB", "").strip()
    if not raw:
        return float(DEFAULT_DISK_BUDGET_MB)
    try:
        budget = float(raw)
    except ValueError:
        budget = -1.0
    if budget <= 0:
        raise ClusterLensError(f"CLUSTERLENS_DISK_BUDGET_MB must be a positive number of megabytes, not {raw!r}.")
    return budget


def check_disk_budget(home: Path, budget_mb: float) -> None:
    """Refuse a new run while the home folder uses more than its budget, saying what to do."""
    used_mb = folder_bytes(home) / 1e6
    if used_mb > budget_mb:
        raise ClusterLensError(
            f"ClusterLens's folder ({home}) uses {used_mb:,.0f} MB, more than its budget of {budget_mb:,.0f} MB "
            "(CLUSTERLENS_DISK_BUDGET_MB). Delete runs you no longer need from the run history, or raise the budget.")
