"""Guessing column roles and the kind of a data set."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data.dataset import ROLES
from core.data.roles import as_numbers, decide_kind, infer_role, infer_roles

N = 40


@pytest.fixture
def customers() -> pd.DataFrame:
    """A realistic mixed table: ids, dates, numbers, categories, free text, a label and dead columns."""
    rng = np.random.default_rng(0)
    reviews = [f"The {word} arrived late and the box was damaged, review number {i}" for i, word in
               zip(range(N), rng.choice(["lamp", "chair", "desk"], N))]
    return pd.DataFrame(
        {
            "customerId": rng.permutation(np.arange(1000, 1000 + N)),
            "row": np.arange(N),
            "signup": pd.date_range("2024-01-01", periods=N).strftime("%Y-%m-%d"),
            "age": rng.integers(18, 80, N),
            "visits": rng.integers(0, 5, N),
            "spend": [f"{v:.2f}" for v in rng.uniform(0, 500, N)],
            "plan": rng.choice(["basic", "plus", "pro"], N),
            "churned": rng.choice([True, False], N),
            "review": reviews,
            "segment": rng.choice(["a", "b", "c", "d"], N),
            "Category": rng.choice(["retail", "online"], N),
            "country": ["NZ"] * N,
            "notes": [None] * N,
            "email": [f"user{i}@example.com" for i in range(N)],
            "order_id": np.repeat(np.arange(N // 2), 2),
        }
    )


def test_roles_of_a_mixed_table(customers: pd.DataFrame) -> None:
    assert infer_roles(customers) == {
        "customerId": "id",
        "row": "id",
        "signup": "ignore",
        "age": "numeric",
        "visits": "numeric",
        "spend": "numeric",
        "plan": "categorical",
        "churned": "categorical",
        "review": "text",
        "segment": "categorical",
        "Category": "label",
        "country": "ignore",
        "notes": "ignore",
        "email": "id",
        "order_id": "ignore",
    }
    assert set(infer_roles(customers).values()) <= set(ROLES)


@pytest.mark.parametrize(
    ("name", "values", "role"),
    [
        ("y", [0.1, 0.7, 0.3, 0.9], "numeric"),  # label-named but every value distinct
        ("species", ["a", "b", "a", "b"], "label"),
        ("TOPIC", ["x", "x", "y", "y"], "label"),
        ("rank", [1, 2, 3, 4], "id"),  # counts up from 1
        ("rank", [2, 3, 4, 5], "numeric"),
        ("uuid", ["9f1c", "77ab", "0c3e", "d2d2"], "id"),
        ("text", ["hi", "hello", "hey", "yo"], "text"),  # short, but named and distinct
        ("status", ["waiting for the parts to arrive", "closed by the customer himself"] * 3, "categorical"),
        ("when", pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-03-02"]), "ignore"),
        ("stamp", ["03/01/2024", "4/1/2024", "05.01.24", "06/01/2024"], "ignore"),
        ("count", [1, 2, 2, 3], "numeric"),
        ("flag", [True, False, None, True], "categorical"),
        ("seen", ["yes", None, None, None], "categorical"),  # one value and gaps: present or not is information
    ],
)
def test_single_column_roles(name: str, values: list, role: str) -> None:
    assert infer_role(name, pd.Series(values)) == role


def test_kind_text_with_at_most_one_side_feature() -> None:
    frame = pd.DataFrame(columns=["id", "body", "channel", "topic"])
    roles = {"id": "id", "body": "text", "channel": "categorical", "topic": "label"}
    assert decide_kind(frame, roles) == "text"
    frame["score"] = []
    assert decide_kind(frame, {**roles, "score": "numeric"}) == "table"
    assert decide_kind(frame, {**roles, "body": "ignore"}) == "table"


def test_as_numbers() -> None:
    assert as_numbers(pd.Series(["1", " 2.5", None])).tolist()[:2] == [1.0, 2.5]
    assert as_numbers(pd.Series(["1", "two"])) is None
    assert as_numbers(pd.Series([True, False])).tolist() == [1, 0]
    assert as_numbers(pd.Series([None, None], dtype=object)) is None
