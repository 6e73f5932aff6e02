"""A form section built from a method's settings dataclass, so a new method needs no page code of its own."""
from __future__ import annotations

import dataclasses
import typing
from typing import Any

import streamlit as st

from core.embed.registry import OFFLINE_MODELS

CHOICES: dict[str, list[str]] = {
    "embedder": list(OFFLINE_MODELS),
    "judge": ["embedding", "oracle", "litellm:gpt-4o-mini", "litellm:ollama/llama3.1"],
    "table_representation": ["features", "text"],
    "sampling": ["entropy", "random"],
    "verbalize": ["", "words", "bins"],
    "pooling": ["mean", "values", "predictive", "last"],
    "postprocess": ["standardize", "whiten", "none"],
    "model": ["smollm2"],
    "encoder": list(OFFLINE_MODELS),
    "attention": ["sia", "nia", "fia"],
    "loss": ["augmented", "triplet"],
}
OPEN_ENDED = {"embedder", "judge", "model", "encoder"}  # a folder, a Hugging Face id or a litellm model may be typed in
LONG_TEXT = {"triplet_prompt", "pair_prompt", "pair_examples"}  # edited in a text area, inside the "Prompts" expander


def settings_form(settings_type: type, key: str, *, hidden: tuple[str, ...] = ()) -> dict[str, Any]:
    """One widget per setting (checkbox, number, choice or text) with the dataclass default; returns the values."""
    hints = typing.get_type_hints(settings_type)
    values: dict[str, Any] = {}
    long_texts = [field for field in dataclasses.fields(settings_type) if field.name in LONG_TEXT]
    for field in dataclasses.fields(settings_type):
        if field.name in hidden or field.name in LONG_TEXT:
            continue
        label = field.name.replace("_", " ")
        widget_key = f"{key}-{field.name}"
        kind = hints[field.name]
        default = field.default
        if kind is bool:
            values[field.name] = st.checkbox(label, value=default, key=widget_key)
        elif kind is int:
            values[field.name] = int(st.number_input(label, value=default, step=1, key=widget_key))
        elif kind is float:
            values[field.name] = float(st.number_input(label, value=default, format="%g", key=widget_key))
        elif field.name in CHOICES:
            options = CHOICES[field.name] if default in CHOICES[field.name] else [default, *CHOICES[field.name]]
            values[field.name] = st.selectbox(label, options, index=options.index(default), key=widget_key,
                                              accept_new_options=field.name in OPEN_ENDED)
        elif typing.get_origin(kind) in (typing.Union, __import__("types").UnionType):
            text = st.text_input(f"{label} (empty: none)", "" if default is None else str(default), key=widget_key)
            values[field.name] = _optional_number(text, float in typing.get_args(kind))
        else:
            values[field.name] = st.text_input(label, "" if default is None else str(default), key=widget_key)
    if long_texts:
        with st.expander("Prompts"):
            st.caption("{item_type} and {aspect} are filled from the settings above; every edit is a new prompt "
                       "version, stored with each answer.")
            for field in long_texts:
                values[field.name] = st.text_area(field.name.replace("_", " "), field.default, height=150,
                                                  key=f"{key}-{field.name}")
    return values


def _optional_number(text: str, is_float: bool) -> Any:
    """An optional numeric setting typed as text: empty means None; anything else must parse."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text) if is_float else int(text)
    except ValueError:
        return text  # kept as typed: the settings check reports it with the field's name
