"""The baseline: a pretrained sentence embedder for texts; scaled + one-hot features (or embedded rows) for tables."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from core.data.dataset import Dataset
from core.data.encode import rows_to_texts
from core.embed.registry import DEFAULT_EMBEDDER
from core.embed.tabular import TableFeatures
from core.errors import SettingsError
from core.methods.base import Representation, RunContext

TABLE_REPRESENTATIONS = ("features", "text")


@dataclass
class BaselineSettings:
    """`embedder` embeds texts (and table rows written as "column is value" text when `table_representation` is
    "text"); tables default to scaled numeric + one-hot categorical features."""

    embedder: str = DEFAULT_EMBEDDER
    table_representation: str = "features"


class Baseline:
    """No fine-tuning, no LLM: what an analyst would do without ClusterLens's methods."""

    name: ClassVar[str] = "baseline"
    title: ClassVar[str] = "Baseline (pretrained embedder / table features)"
    kinds: ClassVar[tuple[str, ...]] = ("text", "table")
    settings_type: ClassVar[type] = BaselineSettings

    def represent(self, data: Dataset, settings: BaselineSettings, context: RunContext) -> Representation:
        if data.kind == "text":
            return Representation(embed_texts(data.texts(), settings.embedder, context))
        if settings.table_representation not in TABLE_REPRESENTATIONS:
            raise SettingsError(f"table_representation must be one of {', '.join(TABLE_REPRESENTATIONS)}, "
                                f"not {settings.table_representation!r}.")
        if settings.table_representation == "text":
            texts = rows_to_texts(data.frame, data.feature_columns)
            return Representation(embed_texts(texts, settings.embedder, context))
        context.report("features", 0.5, "Scaling numeric and one-hot encoding categorical columns")
        features = table_features(data)
        return Representation(features)


def table_features(data: Dataset) -> np.ndarray:
    """Scaled numeric + one-hot categorical features of a table's feature columns."""
    return TableFeatures(data.columns_with("numeric"), data.columns_with("categorical")).fit_transform(data.frame)


def embed_texts(texts: list[str], embedder_name: str, context: RunContext) -> np.ndarray:
    """Embed texts with the (cached) embedder named in the settings, reporting progress."""
    context.report("embed", 0.0, f"Loading {embedder_name}")
    embedder = context.embedders(embedder_name)

    def on_batch(done: int, total: int) -> None:
        context.check_stop()
        context.report("embed", done / max(total, 1), f"Embedded {done}/{total} texts")

    return embedder.encode(texts, progress=on_batch)
