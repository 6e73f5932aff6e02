"""The method registry: every method the app, the command line and the benchmark can run, by name."""
from __future__ import annotations

from typing import Any

from core.errors import SettingsError
from core.methods.base import Method, View
from core.settings import settings_from_dict

METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Make a method available everywhere (app, CLI, bench) under its name; the last registration of a name wins."""
    METHODS[method.name] = method
    return method


def get_method(name: str) -> Method:
    """The registered method called `name`, or a SettingsError listing the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise SettingsError(f"Unknown method {name!r}. Available: {', '.join(METHODS)}.") from None


def methods_for(kind: str | None = None, view: View | None = None) -> list[Method]:
    """Registered methods that work on data of `kind` and whose runs are shown on `view` (either may be None)."""
    return [method for method in METHODS.values()
            if (kind is None or kind in method.kinds) and (view is None or method.view == view)]


def method_settings(method: Method, values: dict[str, Any] | None) -> Any:
    """The method's typed, checked settings from a plain dict (as saved in a run's config)."""
    return settings_from_dict(method.settings_type, values or {})
