"""Driving Streamlit widgets from Playwright."""
from __future__ import annotations


def choose(page, label: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox (a first click may only move the focus away from a number field
    being edited, so the list is opened again when it did not appear)."""
    box = page.get_by_role("combobox", name=label)
    wanted = page.get_by_role("option", name=option, exact=True)
    for _ in range(3):
        box.click()
        try:
            wanted.wait_for(timeout=5_000)
            break
        except Exception:  # Playwright's TimeoutError: the list did not open; try again
            continue
    wanted.click()


def open_advanced(page, title: str = "Advanced settings") -> None:
    """Unfold a settings form's advanced fold (its widgets are only visible, and fillable, when open)."""
    page.get_by_text(title, exact=True).first.click()
