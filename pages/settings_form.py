"""A settings form built from a settings dataclass's own metadata (labels, help, choices, bounds, when it applies),
so a new method, or a new option, needs no page code of its own."""
from __future__ import annotations

from typing import Any

import streamlit as st

from core.settings import FieldSpec, fields_of


def settings_form(settings_type: type, key: str, *, kind: str | None = None,
                  values: dict[str, Any] | None = None) -> dict[str, Any]:
    """One widget per field that applies to data of `kind`; the common ones first, the rest in an "Advanced" fold.

    Returns every shown field's value (fields left off keep their defaults when the settings are built). `values`
    pre-fills the widgets (e.g. a run's saved settings)."""
    specs = [spec for spec in fields_of(settings_type) if spec.option.form]
    chosen: dict[str, Any] = {}
    start = dict(values or {})

    def shown(spec: FieldSpec) -> bool:
        return spec.applies(kind, {**{s.name: s.default for s in specs}, **start, **chosen})

    for spec in [spec for spec in specs if not spec.option.advanced]:
        if shown(spec):
            chosen[spec.name] = field_widget(spec, f"{key}-{spec.name}", start.get(spec.name, spec.default))
    advanced = [spec for spec in specs if spec.option.advanced]
    if advanced:
        with st.expander("Advanced settings"):
            for spec in advanced:
                if shown(spec):
                    chosen[spec.name] = field_widget(spec, f"{key}-{spec.name}", start.get(spec.name, spec.default))
    return chosen


def field_widget(spec: FieldSpec, widget_key: str, value: Any) -> Any:
    """The widget for one field: checkbox, choice, number, text or text area, labelled and explained."""
    label, help_text = spec.option.label, spec.option.help or None
    if spec.choices:
        options = list(spec.choices)
        return st.selectbox(label, options, index=options.index(value) if value in options else 0, key=widget_key,
                            format_func=spec.choice_label, help=help_text)
    if spec.base_type is bool:
        return st.checkbox(label, value=bool(value), key=widget_key, help=help_text)
    if spec.option.long_text:
        return st.text_area(label, value or "", height=150, key=widget_key, help=help_text)
    if spec.option.suggestions:
        options = list(spec.option.suggestions) if value in spec.option.suggestions else [value,
                                                                                             *spec.option.suggestions]
        return st.selectbox(label, options, index=options.index(value), key=widget_key, accept_new_options=True,
                            format_func=spec.choice_label, help=help_text)
    if spec.base_type in (int, float) and not spec.optional:
        number = int if spec.base_type is int else float
        low, high = spec.option.minimum, spec.option.maximum
        return number(st.number_input(label, value=number(value), step=1 if number is int else None,
                                      min_value=None if low is None else number(low),
                                      max_value=None if high is None else number(high),
                                      format=None if number is int else "%g", key=widget_key, help=help_text))
    text = st.text_input(label, "" if value is None else str(value), key=widget_key, help=help_text,
                         placeholder=f"empty: {spec.option.empty}" if spec.optional else None)
    return typed_text(spec, text)


def typed_text(spec: FieldSpec, text: str) -> Any:
    """An optional number typed as text: empty is None; anything else is kept for the settings check to judge."""
    if not spec.optional or spec.base_type is str:
        return text if text or not spec.optional else None
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return spec.base_type(stripped)
    except ValueError:
        return stripped  # the settings check names the field and what it expects
