"""Small bundled data sets an analyst can pick in the app to try every method without uploading anything."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core.data.dataset import Dataset, Kind
from core.data.intake import dataset_from_frame, load_dataset
from core.errors import IntakeError

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "samples"


@dataclass(frozen=True)
class Sample:
    """What the app shows about a bundled data set before loading it."""

    name: str
    title: str
    description: str
    kind: Kind


SAMPLES: dict[str, Sample] = {
    sample.name: sample
    for sample in (
        Sample(
            "penguins", "Palmer penguins",
            "344 penguins from three islands: bill, flipper and body measurements and sex. "
            "Species (3) is the known answer; the study year is ignored.",
            "table",
        ),
        Sample(
            "wine", "Wine recognition",
            "178 Italian wines described by 13 chemical measurements. Cultivar (3) is the known answer.",
            "table",
        ),
        Sample(
            "cars", "Cars of the 1970s",
            "406 cars from 1970-1982: name, fuel economy, cylinders, engine size, power, weight, acceleration and "
            "model year. Origin (USA, Europe, Japan) is the known answer.",
            "table",
        ),
        Sample(
            "support_requests", "Customer support requests",
            "300 short customer messages across 10 topics such as refunds, shipping delays and password resets. "
            "Topic is the known answer.",
            "text",
        ),
    )
}


def load_sample(name: str) -> Dataset:
    """The bundled data set called `name` (a key of SAMPLES)."""
    if name not in SAMPLES:
        raise IntakeError(f"No sample called {name!r}. Samples are: {', '.join(SAMPLES)}.")
    return _LOADERS[name]()


# The sample packages are imported when a sample is loaded: importing scikit-learn costs about a second.


def _penguins() -> Dataset:
    import palmerpenguins

    # The year is when a bird was measured, not what it is: left in, it would split species by field season.
    return dataset_from_frame(
        palmerpenguins.load_penguins(), name="penguins", source="palmerpenguins",
        kind="table", label_column="species", roles={"year": "ignore"},
    )


def _wine() -> Dataset:
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    frame = bunch.frame.rename(columns={"target": "cultivar"})
    frame["cultivar"] = frame["cultivar"].map(dict(enumerate(bunch.target_names))).astype(str)
    return dataset_from_frame(frame, name="wine", source="sklearn.datasets.load_wine", kind="table",
                              label_column="cultivar")


def _cars() -> Dataset:
    from vega_datasets import data

    # The package ships cars.json in its wheel (a local data set, no download); the year is kept as a number.
    frame = data.cars()
    frame["Year"] = frame["Year"].dt.year
    return dataset_from_frame(frame, name="cars", source="vega_datasets.data.cars", kind="table",
                              label_column="Origin", roles={"Name": "categorical", "Year": "numeric"})


def _support_requests() -> Dataset:
    return load_dataset(SAMPLES_DIR / "support_requests.csv", kind="text", text_column="text",
                        label_column="topic", name="support_requests")


_LOADERS: dict[str, Callable[[], Dataset]] = {
    "penguins": _penguins,
    "wine": _wine,
    "cars": _cars,
    "support_requests": _support_requests,
}
