"""AppTest helpers: run the real app script on a chosen page with a fixed workspace id."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def workspace() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def app(workspace):
    """A factory: app(page) gives an AppTest already run on that page of this test's workspace."""

    def open_page(page: str = "pages/data.py") -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["ws"] = workspace
        at.run()
        if page != "pages/data.py":
            at.switch_page(page).run()
        assert not at.exception, at.exception
        return at

    return open_page
