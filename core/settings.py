"""Typed settings saved with every run: how to cluster, and which method with which options."""
from __future__ import annotations

import dataclasses
import types
import typing
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
    """Build a settings dataclass from a dict, naming any key it does not know (a typo) or a value of the wrong type."""
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SettingsError(f"Unknown setting(s) {', '.join(unknown)} for {kind.__name__}. Known: {', '.join(sorted(known))}.")
    hints = typing.get_type_hints(kind)
    checked = {name: _checked(name, value, hints[name]) for name, value in values.items()}
    return kind(**checked)


def _checked(name: str, value: Any, hint: Any) -> Any:
    """The value when it fits a simple type hint (int, float, str, bool, X | None), else a SettingsError."""
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union else (hint,)
    if value is None and type(None) in allowed:
        return None
    for option in allowed:
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if option in (str, bool) and isinstance(value, option):
            return value
        if option not in (int, float, str, bool, type(None)):
            return value  # structured settings (dicts, nested dataclasses) are checked by their own code
    wanted = " or ".join("empty" if option is type(None) else option.__name__ for option in allowed)
    raise SettingsError(f"Setting {name!r} must be {wanted}, not {value!r}.")
