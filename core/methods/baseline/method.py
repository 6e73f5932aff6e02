"""The baseline: a pretrained sentence embedder for texts; scaled + one-hot features (or embedded rows) for tables."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from core.data.dataset import Dataset
from core.data.encode import rows_to_texts
from core.embed.registry import DEFAULT_EMBEDDER, EMBEDDER_CHOICES
from core.embed.tabular import table_features
from core.methods.base import Method, Representation, RunContext
from core.methods.costs import LOAD_SECONDS, cluster_seconds, embed_seconds
from core.settings import option


@dataclass
class BaselineSettings:
    """`embedder` embeds texts (and table rows written as "column is value" text when `table_representation` is
    "text"); tables default to scaled numeric + one-hot categorical features."""

    embedder: str = option(DEFAULT_EMBEDDER, "Embedding model",
                           "The sentence embedder: an installed model, a local folder or a Hugging Face id.",
                           suggestions=EMBEDDER_CHOICES, flag=True)
    table_representation: Literal["features", "text"] = option(
        "features", "Table representation", "How rows become vectors.", kinds=("table",),
        choice_labels={"features": "scaled numbers + one-hot categories", "text": "rows written as text, embedded"})


class Baseline(Method):
    """No fine-tuning, no LLM: what an analyst would do without ClusterLens's methods."""

    name: ClassVar[str] = "baseline"
    label: ClassVar[str] = "Baseline"
    title: ClassVar[str] = "Baseline (pretrained embedder / table features)"
    summary: ClassVar[str] = ("A pretrained embedder for texts, scaled and one-hot features for tables: fast, no "
                              "fine-tuning, no LLM. The reference every other method must beat.")
    kinds: ClassVar[tuple[str, ...]] = ("text", "table")
    settings_type: ClassVar[type] = BaselineSettings

    def represent(self, data: Dataset, settings: BaselineSettings, context: RunContext) -> Representation:
        if data.kind == "text":
            return Representation(context.embed_texts(data.texts(), settings.embedder))
        if settings.table_representation == "text":
            texts = rows_to_texts(data.frame, data.feature_columns)
            return Representation(context.embed_texts(texts, settings.embedder))
        context.report("features", 0.5, "Scaling numeric and one-hot encoding categorical columns")
        return Representation(table_features(data.frame, data.columns_with("numeric"),
                                             data.columns_with("categorical")))

    def estimate_seconds(self, data: Dataset, settings: BaselineSettings, device: str) -> float:
        """Loading, embedding every row once (tables as features: next to nothing), and the shared tail."""
        rows = len(data.frame)
        embeds = data.kind == "text" or settings.table_representation == "text"
        return (LOAD_SECONDS + (embed_seconds(rows, settings.embedder, device) if embeds else 1.0)
                + cluster_seconds(rows))
