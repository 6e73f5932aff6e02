"""Typed settings saved with every run: how to cluster, and which method with which options."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.errors import SettingsError

T = TypeVar("T")


@dataclass
class ClusteringSettings:
    """How a representation becomes clusters. Defaults: k-means; texts first go through 5-d cosine UMAP, as BERTopic does.

    With no `n_clusters`, k is chosen by silhouette between `k_min` and `k_max` (None: about n/15, see
    `default_k_range`).
    """

    algorithm: str = "kmeans"
    n_clusters: int | None = None
    k_min: int = 2
    k_max: int | None = None
    linkage: str = "ward"
    reduce: str = "auto"
    reduce_components: int = 5
    min_cluster_size: int | None = None
    n_init: int = 10
    seed: int = 42


@dataclass
class RunConfig:
    """Everything needed to repeat a run: the data's shape, the method and its settings, the clustering."""

    method: str
    dataset: str
    kind: str
    roles: dict[str, str]
    method_settings: dict[str, Any] = field(default_factory=dict)
    clustering: ClusteringSettings = field(default_factory=ClusteringSettings)
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        values = dict(values)
        values["clustering"] = settings_from_dict(ClusteringSettings, values.get("clustering") or {})
        return settings_from_dict(cls, values)


def settings_from_dict(kind: type[T], values: dict[str, Any]) -> T:
    """Build a settings dataclass from a dict, naming any key it does not know (a typo in a config file)."""
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SettingsError(f"Unknown setting(s) {', '.join(unknown)} for {kind.__name__}. Known: {', '.join(sorted(known))}.")
    return kind(**values)
