"""Driving Streamlit widgets from Playwright."""
from __future__ import annotations


def choose(page, label: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox."""
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()
