"""The in-memory data set every method reads: a frame, its kind, and the role of each column."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

from core.data.roles import decide_kind, numbers_where_numeric
from core.errors import IntakeError

Kind = Literal["table", "text"]
Role = Literal["numeric", "categorical", "text", "id", "label", "group", "ignore"]
ROLES: tuple[str, ...] = ("numeric", "categorical", "text", "id", "label", "group", "ignore")
FEATURE_ROLES: tuple[str, ...] = ("numeric", "categorical", "text")


@dataclass(frozen=True)
class Dataset:
    """A loaded data set: `frame` holds the rows, `roles` maps every column to one of ROLES.

    `kind` is "text" when the rows are documents to embed (one text column carries the content) and
    "table" when they are records whose numeric/categorical columns are the features.
    """

    frame: pd.DataFrame
    kind: Kind
    roles: dict[str, str]
    name: str = "data"
    source: str = ""
    notes: tuple[str, ...] = field(default=())

    def columns_with(self, role: str) -> list[str]:
        """Columns that carry `role`, in frame order."""
        return [c for c in self.frame.columns if self.roles.get(c) == role]

    @property
    def text_column(self) -> str | None:
        """The column holding the documents (the first text column), if any."""
        texts = self.columns_with("text")
        return texts[0] if texts else None

    @property
    def label_column(self) -> str | None:
        """The column holding known classes, used only for scoring, if any."""
        labels = self.columns_with("label")
        return labels[0] if labels else None

    @property
    def group_column(self) -> str | None:
        """The column that splits rows into groups (CACTUS), if any."""
        groups = self.columns_with("group")
        return groups[0] if groups else None

    @property
    def feature_columns(self) -> list[str]:
        """Columns a method may read as features: numeric, categorical and text."""
        return [c for c in self.frame.columns if self.roles.get(c) in FEATURE_ROLES]

    def texts(self) -> list[str]:
        """The documents of a text data set, as strings (missing values become empty strings)."""
        column = self.text_column
        if column is None:
            raise IntakeError("No text column is chosen. Pick the column that holds the texts.")
        return self.frame[column].fillna("").astype(str).tolist()

    def labels(self) -> list[str] | None:
        """Known classes as strings, or None when no label column is chosen."""
        column = self.label_column
        if column is None:
            return None
        return self.frame[column].astype(str).tolist()

    def sampled(self, rows: int | None, seed: int = 0) -> "Dataset":
        """The data set cut to `rows` rows drawn at random (seeded, original order kept); all of it when rows is
        None or not below the size."""
        if rows is None or rows >= len(self.frame):
            return self
        keep = np.sort(np.random.default_rng(seed).choice(len(self.frame), rows, replace=False))
        return replace(self, frame=self.frame.iloc[keep].reset_index(drop=True),
                       notes=(*self.notes, f"A seeded sample of {rows:,} of {len(self.frame):,} rows."))

    def with_roles(self, overrides: Mapping[str, str], kind: Kind | Literal["auto"] | None = None) -> "Dataset":
        """A copy with any number of column roles changed, validated: the Data page's one call for role edits.

        Columns newly marked numeric are converted to numbers (IntakeError naming a value that is not one; infinities
        become missing values, noted). `kind` None keeps the kind, "auto" decides it again from the new roles.
        """
        unknown = [c for c in overrides if c not in self.frame.columns]
        if unknown:
            raise IntakeError(f"No column named {unknown[0]!r}. Columns are: {', '.join(map(str, self.frame.columns))}.")
        bad = {c: r for c, r in overrides.items() if r not in ROLES}
        if bad:
            column, role = next(iter(bad.items()))
            raise IntakeError(f"Unknown role {role!r} for column {column!r}. Use one of: {', '.join(ROLES)}.")
        roles = {**self.roles, **overrides}
        newly_numeric = {c: "numeric" for c, r in overrides.items() if r == "numeric" and self.roles.get(c) != r}
        frame, notes = numbers_where_numeric(self.frame, newly_numeric)
        new = replace(self, frame=frame, roles=roles, notes=(*self.notes, *notes),
                      kind=decide_kind(frame, roles) if kind == "auto" else kind or self.kind)
        new.validate()
        return new

    def with_role(self, columns: Iterable[str], role: str, kind: Kind | Literal["auto"] | None = None) -> "Dataset":
        """A copy with one role for many columns at once (e.g. every coded column back to "numeric"); see with_roles."""
        return self.with_roles(dict.fromkeys(columns, role), kind)

    def validate(self) -> None:
        """Raise IntakeError when the roles cannot feed a method (no text column for texts, no features for tables)."""
        if len(self.columns_with("label")) > 1:
            raise IntakeError("More than one column is marked as label. Keep one and mark the others 'ignore'.")
        if self.kind == "text" and self.text_column is None:
            raise IntakeError("This data set is treated as texts but no column is marked 'text'. Mark the column that holds the texts.")
        if self.kind == "table" and not [c for c in self.feature_columns]:
            raise IntakeError("No usable feature column: mark at least one column as numeric, categorical or text.")
