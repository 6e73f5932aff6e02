"""Guessing column roles and the kind of a data set."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data.dataset import ROLES
from core.data.roles import as_numbers, decide_kind, infer_role, infer_roles
from core.errors import IntakeError

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


# ---------------------------------------------------------------- issue #12: roles a probe guessed wrong


def test_a_table_of_coded_categories_is_categorical() -> None:
    """UCI's soybean: 35 columns of small integer codes are categories, not measurements."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({f"attribute-{i}": rng.integers(0, 2 + i % 6, 120) for i in range(35)})
    frame["class"] = rng.choice(["brown-spot", "frog-eye", "rot"], 120)
    roles = infer_roles(frame)
    assert {roles[column] for column in frame.columns[:35]} == {"categorical"}
    assert roles["class"] == "label"


def test_one_small_count_among_measurements_stays_numeric(customers: pd.DataFrame) -> None:
    assert infer_roles(customers)["visits"] == "numeric"
    assert infer_roles(pd.DataFrame({"a": [0, 1, 2, 1] * 5, "b": [1, 2, 1, 2] * 5}))["a"] == "numeric"


def test_free_text_with_repeated_values_is_text() -> None:
    replies = [f"my order number {i} has not arrived after two weeks" for i in range(40)]
    values = replies + ["thanks, that solved it!"] * 60 + ["where is my parcel please"] * 60
    assert infer_role("message", pd.Series(values)) == "text"
    long_statuses = ["waiting for the parts to arrive", "closed by the customer himself"] * 80
    assert infer_role("status", pd.Series(long_statuses)) == "categorical"  # two values: a category


def test_the_one_column_of_a_one_column_file_is_its_texts(tmp_path) -> None:
    from core.data.intake import load_dataset

    lines = [f"Support ticket {i % 300}: the app crashes when I open the settings page" for i in range(3000)]
    path = tmp_path / "tickets.csv"
    pd.DataFrame({"ticket": lines}).to_csv(path, index=False)
    data = load_dataset(path)
    assert data.roles == {"ticket": "text"} and data.kind == "text"


@pytest.mark.parametrize(("values", "role"), [
    ([f"{i:08x}-1d2c-4e5f-9a8b-{i * 7919:012x}" for i in range(40)], "id"),  # UUIDs: long, but not prose
    ([f"https://example.org/items/{i * 37}" for i in range(40)], "id"),
    (list(np.random.default_rng(0).permutation(np.arange(1001, 1041))), "id"),  # shuffled row numbers
    ([f"ORD-{i:05d}" for i in range(39)] + ["ORD-00003"], "id"),  # near-unique codes with one duplicate
    ([f"item {i}" for i in range(39)] + ["item 3"], "categorical"),  # near-unique but words: not a code
])
def test_identifiers(values: list, role: str) -> None:
    assert infer_role("ref", pd.Series(values)) == role


def test_roles_change_in_bulk_and_numbers_are_converted() -> None:
    from core.data.intake import dataset_from_frame

    frame = pd.DataFrame({f"code{i}": [0, 1, 2, 1, 0, 2] * 4 for i in range(4)})
    frame["note"] = ["1.5", "2", "inf", "4", "5", "6"] * 4
    frame["text"] = [f"a sentence about thing number {i}" for i in range(24)]
    data = dataset_from_frame(frame, kind="table", roles={"note": "categorical"})
    assert data.columns_with("categorical") == ["code0", "code1", "code2", "code3", "note"]
    numeric = data.with_role([f"code{i}" for i in range(4)], "numeric").with_roles({"note": "numeric"})
    assert numeric.columns_with("numeric") == ["code0", "code1", "code2", "code3", "note"]
    assert numeric.frame["note"].isna().sum() == 4 and numeric.frame["note"].dtype.kind == "f"
    assert any("'note': 4 infinite value(s)" in note for note in numeric.notes)
    assert data.with_role(data.feature_columns[:-1], "ignore", kind="auto").kind == "text"
    with pytest.raises(IntakeError, match="'text' is marked numeric.*e.g. 'a sentence"):
        data.with_roles({"text": "numeric"})


def test_sentences_without_spaces_are_still_text() -> None:
    sentences = [f"这是第{i}条关于银行卡丢失和退款问题的客户留言内容，请尽快处理" for i in range(30)]
    assert infer_role("留言", pd.Series(sentences)) == "text"
