"""Typed settings: one dataclass per method (and one for clustering) is the single place an option is written.

Each field carries its type (`Literal` for a closed set of choices), its default, and an `Option` in its metadata
with the label, help text, bounds and when it applies. Everything else is derived from that: the Run page's form,
the command line's `--set KEY=VALUE` parsing, and the check that refuses a bad value when a run is submitted, with
a message naming the field and what it allows (as scikit-learn's `_parameter_constraints` do, in one place).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from core.errors import SettingsError

T = TypeVar("T")
NO_VALUE_WORDS = ("", "none", "null", "auto")
TRUE_WORDS = ("true", "yes", "1", "on")
FALSE_WORDS = ("false", "no", "0", "off")


@dataclass(frozen=True)
class Option:
    """What a person needs to set one field: a label, a line of help, bounds, and when it applies.

    `choice_labels` names the values of a `Literal` field in words; `suggestions` are values offered for an
    open-ended text field (a model name, a judge) that also takes anything typed in. `kinds` restricts the field to
    data of those kinds; `when` to other fields holding one of the listed values ({"algorithm": ("agglomerative",)}).
    `advanced` fields sit in a fold; `long_text` ones are edited in a text area; `form=False` keeps a field off the
    form (set by code or the command line only). `flag` gives the field its own command-line flag (`--judge X`
    besides `--set judge=X`); `flag_alone` is the value of the flag given without one (`--verbalize` = "words").
    """

    label: str
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choice_labels: Mapping[Any, str] = field(default_factory=dict)
    suggestions: Sequence[str] = ()
    kinds: Sequence[str] = ()
    when: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    advanced: bool = False
    long_text: bool = False
    form: bool = True
    flag: bool = False
    flag_alone: Any = None
    empty: str = "none"


def option(default: Any, label: str, help: str = "", **details: Any) -> Any:
    """A dataclass field with its default and its `Option` (see Option for `details`)."""
    return field(default=default, metadata={"option": Option(label, help, **details)})


@dataclass(frozen=True)
class FieldSpec:
    """One settings field as the form, the command line and the checks see it."""

    name: str
    hint: Any
    default: Any
    option: Option

    @property
    def base_type(self) -> Any:
        """The type without `| None` (int, float, str, bool, or a Literal)."""
        return _without_none(self.hint)

    @property
    def optional(self) -> bool:
        return type(None) in _union_args(self.hint)

    @property
    def choices(self) -> tuple[Any, ...]:
        """The allowed values of a Literal field; () for open fields."""
        base = self.base_type
        return tuple(typing.get_args(base)) if typing.get_origin(base) is Literal else ()

    def choice_label(self, value: Any) -> str:
        return self.option.choice_labels.get(value, str(value))

    def applies(self, kind: str | None = None, values: Mapping[str, Any] | None = None) -> bool:
        """Whether the field means anything for data of `kind` and the other fields' `values`."""
        if kind is not None and self.option.kinds and kind not in self.option.kinds:
            return False
        values = values or {}
        return all(values.get(name) in allowed for name, allowed in self.option.when.items() if name in values)


ValueCheck = Callable[[Any], None]
"""Raises SettingsError for a value that has the right type but cannot be allowed."""
_VALUE_CHECKS: dict[str, list[ValueCheck]] = {}


def register_value_check(name: str, check: ValueCheck) -> None:
    """Check every setting called `name`, in any settings dataclass, with `check` when it has a value.

    For rules that need knowledge above this layer: core.llm.providers registers that an `api_base` must name an
    endpoint the server's operator allows, so the submit-time check refuses any other address.
    """
    if check not in _VALUE_CHECKS.setdefault(name, []):
        _VALUE_CHECKS[name].append(check)


def fields_of(kind: type) -> list[FieldSpec]:
    """The fields of a settings dataclass, with their options (a field without one gets its name as label)."""
    hints = typing.get_type_hints(kind, include_extras=False)
    specs = []
    for item in dataclasses.fields(kind):
        found = item.metadata.get("option") or Option(item.name.replace("_", " "))
        specs.append(FieldSpec(item.name, hints[item.name], item.default, found))
    return specs


def settings_from_dict(kind: type[T], values: Mapping[str, Any] | None) -> T:
    """Build and check a settings dataclass from a plain dict (as saved in a run's config or typed on a form).

    Unknown keys (typos), values of the wrong type, choices outside a Literal and numbers out of bounds are refused
    with a SettingsError naming the field and what it allows.
    """
    values = dict(values or {})
    specs = {spec.name: spec for spec in fields_of(kind)}
    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise SettingsError(f"Unknown setting(s) {', '.join(unknown)} for {kind.__name__}. "
                            f"Known: {', '.join(sorted(specs))}.")
    return kind(**{name: checked_value(specs[name], value) for name, value in values.items()})


def check_settings(settings: Any, part: type | None = None) -> Any:
    """Check the fields of an already-built settings object (as an estimator's `fit` does); return it.

    With `part`, only the fields of that dataclass are checked (an estimator extends its parameters with models and
    callbacks, which are not settings)."""
    for spec in fields_of(part or type(settings)):
        checked_value(spec, getattr(settings, spec.name))
    return settings


def checked_value(spec: FieldSpec, value: Any) -> Any:
    """The value, converted where lossless (an int for a float field), or a SettingsError that names the field;
    checks registered for the field's name run last."""
    value = _typed_value(spec, value)
    if value is not None:
        for check in _VALUE_CHECKS.get(spec.name, ()):
            check(value)
    return value


def _typed_value(spec: FieldSpec, value: Any) -> Any:
    if value is None:
        if spec.optional:
            return None
        raise SettingsError(f"{spec.name} needs a value ({spec.option.label}).")
    base = spec.base_type
    if spec.choices:
        if value not in spec.choices:
            allowed = ", ".join(repr(choice) for choice in spec.choices)
            raise SettingsError(f"{spec.name} must be one of {allowed}, not {value!r} ({spec.option.label}).")
        return value
    if base is bool:
        if isinstance(value, bool):
            return value
    elif base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return _within_bounds(spec, value)
    elif base is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _within_bounds(spec, float(value))
    elif base is str:
        if isinstance(value, str):
            return value
    elif dataclasses.is_dataclass(base):
        return value if isinstance(value, base) else settings_from_dict(base, value)
    else:
        return value
    wanted = {bool: "bool (true or false)", int: "int (a whole number)", float: "float (a number)",
              str: "str (text)"}[base]
    raise SettingsError(f"Setting {spec.name!r} must be {wanted}{' or empty' if spec.optional else ''}, not "
                        f"{value!r} ({spec.option.label}).")


def _within_bounds(spec: FieldSpec, value: float) -> Any:
    low, high = spec.option.minimum, spec.option.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (f"between {low:g} and {high:g}" if low is not None and high is not None
                  else f"at least {low:g}" if low is not None else f"at most {high:g}")
        raise SettingsError(f"{spec.name} must be {bounds}, not {value:g} ({spec.option.label}).")
    return value


def parse_text_value(spec: FieldSpec, text: str) -> Any:
    """A value typed as text (the command line's --set, a form's text box) read by the field's type, then checked."""
    raw = text.strip()
    if spec.optional and raw.lower() in NO_VALUE_WORDS:
        return None
    base = spec.base_type
    value: Any = raw
    try:
        if spec.choices and all(isinstance(choice, (int, float)) for choice in spec.choices):
            value = type(spec.choices[0])(raw)
        elif base is bool:
            if raw.lower() not in TRUE_WORDS + FALSE_WORDS:
                raise ValueError(raw)
            value = raw.lower() in TRUE_WORDS
        elif base is int:
            value = int(raw)
        elif base is float:
            value = float(raw)
    except ValueError:
        wanted = {bool: "true or false", int: "a whole number", float: "a number"}.get(base, "a valid value")
        raise SettingsError(f"{spec.name} must be {wanted}, not {raw!r} ({spec.option.label}).") from None
    return checked_value(spec, value)


def parse_text_settings(kind: type, pairs: Mapping[str, str]) -> dict[str, Any]:
    """KEY -> text pairs (from --set KEY=VALUE) read by each field's type; unknown keys are refused."""
    specs = {spec.name: spec for spec in fields_of(kind)}
    unknown = sorted(set(pairs) - set(specs))
    if unknown:
        raise SettingsError(f"Unknown setting(s) {', '.join(unknown)} for {kind.__name__}. "
                            f"Known: {', '.join(sorted(specs))}.")
    return {name: parse_text_value(specs[name], text) for name, text in pairs.items()}


def _union_args(hint: Any) -> tuple[Any, ...]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return typing.get_args(hint)
    return (hint,)


def _without_none(hint: Any) -> Any:
    rest = [arg for arg in _union_args(hint) if arg is not type(None)]
    if len(rest) != 1:
        raise TypeError(f"A setting must have one type (optionally | None), not {hint!r}.")
    return rest[0]


Algorithm = Literal["kmeans", "agglomerative", "spectral", "hdbscan"]
Linkage = Literal["ward", "average", "complete"]
Reduction = Literal["auto", "umap", "none"]


FIT_SAMPLE = 20_000
"""Rows UMAP and the clusterer (with its search for k) are fitted on when there are more: a seeded sample, the other
rows placed and assigned afterwards, so those stages stop growing with n. At 20,000 rows the 5-d UMAP fit takes about
as long as placing 80,000 more, and clusters of Bank77's size (one per ~40 rows) keep hundreds of members in the
sample: bench_results/scale.md."""


@dataclass
class ClusteringSettings:
    """How a representation becomes clusters. Defaults: k-means; texts first go through 5-d cosine UMAP, as BERTopic does.

    With no `n_clusters`, k is chosen by silhouette between `k_min` and `k_max` (None: about n/15, see
    `default_k_range`).
    """

    algorithm: Algorithm = option("kmeans", "Algorithm", "k-means suits most data; agglomerative builds a tree; "
                                  "HDBSCAN finds the number of clusters itself and leaves outliers unassigned.",
                                  choice_labels={"kmeans": "k-means", "agglomerative": "Agglomerative",
                                                 "spectral": "Spectral", "hdbscan": "HDBSCAN"})
    n_clusters: int | None = option(None, "Number of clusters", "Leave empty to let ClusterLens choose: the method's "
                                    "own choice or the best silhouette, inside the range of k below.", minimum=2,
                                    when={"algorithm": ("kmeans", "agglomerative", "spectral")},
                                    empty="chosen for you")
    k_min: int = option(2, "Smallest k to try", minimum=2, advanced=True,
                        when={"algorithm": ("kmeans", "agglomerative", "spectral")})
    k_max: int | None = option(None, "Largest k to try", "Empty: about one cluster per 15 rows (20 to 300).",
                               minimum=2, advanced=True, when={"algorithm": ("kmeans", "agglomerative", "spectral")},
                               empty="about rows / 15")
    linkage: Linkage = option("ward", "Linkage", "How the distance between two groups is measured.",
                              when={"algorithm": ("agglomerative",)}, advanced=True)
    reduce: Reduction = option("auto", "Reduce before clustering",
                               "auto: 5-d cosine UMAP for texts (worth 4-8 ACC points on short texts), none for tables.",
                               choice_labels={"auto": "auto (UMAP for texts)", "umap": "UMAP", "none": "none"},
                               advanced=True)
    reduce_components: int = option(5, "UMAP dimensions", minimum=2, maximum=100, advanced=True, form=False)
    min_cluster_size: int | None = option(None, "Smallest cluster (HDBSCAN)", "Empty: 10, BERTopic's default.",
                                          minimum=2, when={"algorithm": ("hdbscan",)}, advanced=True, empty="10")
    n_init: int = option(10, "k-means restarts", minimum=1, advanced=True, form=False)
    seed: int = option(42, "Seed", "The same seed gives the same clusters.", advanced=True)
    fit_sample: int | None = option(FIT_SAMPLE, "Rows to fit on", "Above this many rows, UMAP and the clustering "
                                    "are fitted on a seeded sample of this size and the other rows are assigned. "
                                    "Empty: fit on every row.", minimum=100, advanced=True, form=False,
                                    empty="every row")


@dataclass
class RunConfig:
    """Everything needed to repeat a run: the data's shape, the method and its settings, the clustering.

    `task` is "cluster" (the method's run), or "retrain": fine-tune on the person's edits of the run in the folder
    `source` and cluster again (the new run keeps the source's method and settings)."""

    method: str
    dataset: str
    kind: str
    roles: dict[str, str]
    method_settings: dict[str, Any] = field(default_factory=dict)
    clustering: ClusteringSettings = field(default_factory=ClusteringSettings)
    device: str = "auto"
    task: Literal["cluster", "retrain"] = "cluster"
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "RunConfig":
        values = dict(values)
        values["clustering"] = settings_from_dict(ClusteringSettings, values.get("clustering") or {})
        known = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(f"Unknown run setting(s) {', '.join(unknown)}. Known: {', '.join(sorted(known))}.")
        return cls(**values)


def values_of(settings: Any, part: type) -> dict[str, Any]:
    """The values of `settings` for the fields of `part` (a dataclass it extends), e.g. an estimator's parameters."""
    return {item.name: getattr(settings, item.name) for item in dataclasses.fields(part)}
