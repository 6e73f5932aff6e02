"""Pick the compute device: CUDA when present, CPU otherwise."""
from __future__ import annotations


def available_devices() -> list[str]:
    """Devices a job may run on, GPU first: ["cuda:0", ..., "cpu"]."""
    import torch

    gpus = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    return [*gpus, "cpu"]


def resolve_device(device: str = "auto") -> str:
    """Turn "auto" into the best available device; pass explicit choices through."""
    if device != "auto":
        return device
    return available_devices()[0]
