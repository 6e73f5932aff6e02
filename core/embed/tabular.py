"""Classic features for tables: scaled numeric columns and one-hot categorical ones."""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import IntakeError


class TableFeatures:
    """Standardised numeric columns (missing values get the median) and one-hot categories (missing = its own value).

    Infinities count as missing, and each numeric column is divided by its largest magnitude before it is
    standardised (which the division does not change), so values near 1e308 cannot overflow the variance.
    sklearn-style: `fit(frame)` learns magnitudes, medians, scales and categories; `transform(frame)` gives a float32
    matrix.
    """

    def __init__(self, numeric: list[str], categorical: list[str], *, max_categories: int = 50) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.max_categories = max_categories

    def fit(self, frame: pd.DataFrame) -> "TableFeatures":
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        if not self.numeric and not self.categorical:
            raise IntakeError("No numeric or categorical column to build features from. Mark at least one column.")
        largest = {column: _finite_numbers(frame[column]).abs().max() for column in self.numeric}
        self.magnitudes_ = {column: float(value) if value > 0 else 1.0 for column, value in largest.items()}
        parts = []
        if self.numeric:
            parts.append(("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), self.numeric))
        if self.categorical:
            encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=self.max_categories,
                                    sparse_output=False)
            parts.append(("categorical", encoder, self.categorical))
        self.transformer_ = ColumnTransformer(parts, sparse_threshold=0.0)
        self.transformer_.fit(self._prepared(frame))
        self.feature_names_ = list(self.transformer_.get_feature_names_out())
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.transformer_.transform(self._prepared(frame)), dtype=np.float32)

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)

    def _prepared(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Numeric columns as floats over their magnitude (inf as missing); categorical ones as strings with missing
        values named."""
        prepared = pd.DataFrame(index=frame.index)
        for column in self.numeric:
            prepared[column] = _finite_numbers(frame[column]) / self.magnitudes_[column]
        for column in self.categorical:
            prepared[column] = frame[column].astype("object").where(frame[column].notna(), "(missing)").astype(str)
        return prepared


def _finite_numbers(values: pd.Series) -> pd.Series:
    """A column as floats, with anything that is not a finite number (words, inf) as missing."""
    return pd.to_numeric(values, errors="coerce").astype(float).replace([np.inf, -np.inf], np.nan)


def table_features(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> np.ndarray:
    """Scaled numeric + one-hot categorical features of a table's feature columns."""
    return TableFeatures(numeric, categorical).fit_transform(frame)
