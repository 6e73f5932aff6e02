"""Faster inference for sentence embedders: the same model exported to ONNX Runtime or OpenVINO, fp32 or int8.

sentence-transformers' own `backend="onnx"/"openvino"` goes through Optimum, whose releases pin an older
transformers (optimum-onnx) or a newer, CUDA-built torch (optimum-intel) than this project's; so the export is done
here with the same steps: the local model folder's transformer, mean pooling and L2 normalisation traced into one
graph (`torch.onnx.export`), int8 by ONNX Runtime's dynamic quantisation or NNCF's post-training quantisation.
Exports are made once per model folder and kept under the models folder; nothing is fetched. Measured speed and
Bank77 NMI of each backend: bench_results/scale.md.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core import paths
from core.embed.base import (BatchProgress, SentenceTransformerEmbedder, available_cores, folder_fingerprint,
                             transformer_folder)
from core.errors import ModelUnavailableError

BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8", "openvino", "openvino-int8")
RUNTIME_OF = {"onnx": "onnxruntime", "onnx-int8": "onnxruntime", "openvino": "openvino", "openvino-int8": "openvino"}
"""The package each exported backend needs; without it the embedder falls back to torch."""
CALIBRATION_TEXTS = 300
"""Texts NNCF sees to choose the int8 ranges of activations (the bundled support sample, repeated as needed)."""
OPSET = 17


def runtime_installed(backend: str) -> bool:
    """Whether the package an exported backend runs on is importable (torch always is)."""
    import importlib.util

    return backend == "torch" or importlib.util.find_spec(RUNTIME_OF[backend]) is not None


def sentence_config(folder: Path) -> tuple[int, bool]:
    """(max tokens, mean pooling?) of a sentence-transformers folder, as its Transformer and Pooling modules say."""
    max_length = json.loads((folder / "sentence_bert_config.json").read_text()).get("max_seq_length", 256) \
        if (folder / "sentence_bert_config.json").exists() else 256
    pooling = folder / "1_Pooling" / "config.json"
    mean = not pooling.exists() or bool(json.loads(pooling.read_text()).get("pooling_mode_mean_tokens", True))
    return int(max_length), mean


def export_folder(model_folder: Path) -> Path:
    """Where the exports of one model folder live: under the models folder, keyed by the folder's content."""
    return paths.models_dir() / "exports" / f"{model_folder.name}-{folder_fingerprint(model_folder)}"


def _pooled_module(model_folder: Path) -> Any:
    """The transformer followed by mean pooling and L2 normalisation, as one torch module for tracing."""
    import torch
    from transformers import AutoModel

    transformer = AutoModel.from_pretrained(str(transformer_folder(model_folder)), local_files_only=True).eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            states = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return Pooled().eval()


def _export_onnx(model_folder: Path, target: Path) -> None:
    import torch

    module = _pooled_module(model_folder)
    example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "embedding": {0: "batch"}}
    with torch.no_grad():
        torch.onnx.export(module, example, str(target), input_names=["input_ids", "attention_mask"],
                          output_names=["embedding"], dynamic_axes=axes, opset_version=OPSET, dynamo=False)


def _quantize_onnx(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)


def _export_openvino(onnx_file: Path, target: Path, model_folder: Path, int8: bool) -> None:
    import openvino as ov

    model = ov.Core().read_model(str(onnx_file))
    if int8:
        import nncf
        from transformers import AutoTokenizer

        from core.data.samples import load_sample

        tokenizer = AutoTokenizer.from_pretrained(str(model_folder), local_files_only=True)
        texts = load_sample("support_requests").texts()
        texts = (texts * (CALIBRATION_TEXTS // max(len(texts), 1) + 1))[:CALIBRATION_TEXTS]
        batches = [dict(tokenizer(texts[i:i + 16], padding=True, truncation=True, return_tensors="np"))
                   for i in range(0, len(texts), 16)]
        calibration = nncf.Dataset(batches, lambda batch: {"input_ids": batch["input_ids"],
                                                           "attention_mask": batch["attention_mask"]})
        model = nncf.quantize(model, calibration, model_type=nncf.ModelType.TRANSFORMER,
                              subset_size=len(batches))
    ov.save_model(model, str(target), compress_to_fp16=False)


def exported_model(model_folder: Path, backend: str) -> Path:
    """The exported model file of a backend for a local sentence-transformers folder, made on first use.

    Each file is written in a temporary folder and moved into place, so two processes exporting at once both end with
    a whole file."""
    folder = export_folder(model_folder)
    names = {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx", "openvino": "openvino.xml",
             "openvino-int8": "openvino-int8.xml"}
    target = folder / names[backend]
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        made = Path(tmp) / target.name
        if backend == "onnx":
            _export_onnx(model_folder, made)
        elif backend == "onnx-int8":
            _quantize_onnx(exported_model(model_folder, "onnx"), made)
        else:
            _export_openvino(exported_model(model_folder, "onnx"), made, model_folder, backend == "openvino-int8")
        for part in sorted(Path(tmp).iterdir(), key=lambda path: path == made):  # an .xml comes with its .bin
            os.replace(part, folder / part.name)
    return target


class ExportedEmbedder(SentenceTransformerEmbedder):
    """A sentence-transformers folder run by ONNX Runtime or OpenVINO on the CPU, every core this process may use.

    Texts are sorted by length and batched so padding stays small. `load()` still gives the torch model, for methods
    that fine-tune it (their weights change, so no export applies)."""

    def __init__(self, model: str, *, backend: str, name: str | None = None, batch_size: int = 64,
                 threads: int | None = None) -> None:
        super().__init__(model, name=name, device="cpu", batch_size=batch_size, offline=True)
        if backend not in RUNTIME_OF:
            raise ModelUnavailableError(f"Unknown embedding backend {backend!r}; use one of {', '.join(BACKENDS)}.")
        self.backend = backend
        self.threads = threads
        self._runner: Any = None
        self._runner_lock = threading.Lock()

    def _run(self) -> Any:
        """(tokenizer, max tokens, infer) loaded once: infer(ids, mask) -> normalised vectors."""
        with self._runner_lock:
            if self._runner is None:
                self._runner = self._load_runner()
            return self._runner

    def _load_runner(self) -> tuple[Any, int, Any]:
        from transformers import AutoTokenizer

        folder = Path(self.model)
        max_length, mean = sentence_config(folder)
        if not mean:
            raise ModelUnavailableError(f"{folder.name} does not pool by mean; use the torch backend for it.")
        file = exported_model(folder, self.backend)
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        threads = self.threads or available_cores()
        if self.backend.startswith("onnx"):
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])

            def infer(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
                return session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]
        else:
            import openvino as ov

            compiled = ov.Core().compile_model(str(file), "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                                  "PERFORMANCE_HINT": "LATENCY"})
            request = compiled.create_infer_request()

            def infer(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
                return request.infer({"input_ids": ids, "attention_mask": mask})[0]
        return tokenizer, max_length, infer

    def encode(self, texts: Sequence[str], progress: BatchProgress | None = None) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension()), dtype=np.float32)
        tokenizer, max_length, infer = self._run()
        out: np.ndarray | None = None
        chunk = max(self.batch_size * 8, 256)
        for start in range(0, len(texts), chunk):
            part = texts[start:start + chunk]
            order = np.argsort([len(text) for text in part], kind="stable")
            for first in range(0, len(part), self.batch_size):
                rows = order[first:first + self.batch_size]
                tokens = tokenizer([part[i] for i in rows], padding=True, truncation=True, max_length=max_length,
                                   return_tensors="np")
                vectors = infer(tokens["input_ids"].astype(np.int64), tokens["attention_mask"].astype(np.int64))
                if out is None:
                    out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
                out[start + rows] = vectors
            if progress:
                progress(min(start + chunk, len(texts)), len(texts))
        return out

    def dimension(self) -> int:
        if self._runner is None:
            return super().dimension()
        return int(self.encode(["x"]).shape[1])

