"""First guesses of how long the parts of a run take, from rates measured on a 2-core CPU.

They are only the start: `core.runs.estimates` corrects a method's guesses by how its finished runs on this machine
and device compared with them, so the estimate the Run page shows learns the machine it runs on.
"""
from __future__ import annotations

from core.embed.registry import intended_backend, split_backend

EMBED_ROWS_PER_SECOND = {"minilm": 150.0, "mpnet": 25.0}
"""Short texts (a support message) embedded per second on 2 CPU cores; MPNet is ~6x MiniLM's cost."""
BACKEND_SPEEDUP = {"minilm": {"onnx": 2.5, "onnx-int8": 4.8, "openvino": 5.7, "openvino-int8": 6.6},
                   "mpnet": {"onnx": 1.3, "onnx-int8": 3.8, "openvino": 2.4, "openvino-int8": 4.8}}
"""Each exported backend's speed over torch's, measured by scripts/embed_backends.py (README, Scale)."""
UNKNOWN_EMBEDDER_ROWS_PER_SECOND = 25.0
"""A folder or Hugging Face id: assume an MPNet-sized model."""
TRAIN_COST = 3.0
"""A training example costs about three embeddings' time (forward and backward passes)."""
GPU_SPEEDUP = 20.0
"""A rough figure for a small model on one consumer GPU."""
LOAD_SECONDS = 10.0
"""Starting a worker: importing torch and loading a model."""
CLUSTER_SECONDS_PER_ROW = 0.004
"""UMAP to 5-d, the k search and the tree per row (sampled above a few thousand rows, so it grows slower than n)."""


def embed_seconds(rows: int, embedder: str, device: str) -> float:
    """Seconds to embed `rows` short texts with the `embedder` setting ("minilm", "mpnet@onnx", ...) on `device`: on
    the backend it runs on, unless a GPU runs it with torch."""
    if device.startswith("cuda"):
        return torch_seconds(rows, embedder) / GPU_SPEEDUP
    model = split_backend(embedder)[0].lower()
    return torch_seconds(rows, embedder) / BACKEND_SPEEDUP.get(model, {}).get(intended_backend(embedder), 1.0)


def torch_seconds(rows: int, embedder: str) -> float:
    """Seconds to embed `rows` short texts with the `embedder` setting's model on torch, on the CPU."""
    return rows / EMBED_ROWS_PER_SECOND.get(split_backend(embedder)[0].lower(), UNKNOWN_EMBEDDER_ROWS_PER_SECOND)


def train_seconds(examples: int, embedder: str, device: str) -> float:
    """Seconds for `examples` training examples (one example: a few texts through the model and back); training
    runs on torch whatever backend embeds."""
    return TRAIN_COST * torch_seconds(examples, embedder) / (GPU_SPEEDUP if device.startswith("cuda") else 1.0)


def cluster_seconds(rows: int) -> float:
    """Seconds for the shared tail (reduce, k search, tree, map) on `rows` rows."""
    return CLUSTER_SECONDS_PER_ROW * min(rows, 20_000) + 0.0005 * max(rows - 20_000, 0)
