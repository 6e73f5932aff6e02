"""The method registry: every method the app, the CLI and the benchmark can run, by name."""
from __future__ import annotations

from typing import Any

from core.errors import SettingsError
from core.methods.base import Method, Representation, RunContext
from core.methods.baseline import Baseline, BaselineSettings
from core.methods.cactus import CACTUSMethod
from core.methods.clusterllm import ClusterLLMMethod
from core.methods.erasmo import ERASMOMethod
from core.settings import settings_from_dict

METHODS: dict[str, Method] = {method.name: method
                              for method in (Baseline(), ClusterLLMMethod(), ERASMOMethod(), CACTUSMethod())}


def get_method(name: str) -> Method:
    """The registered method called `name`, or a SettingsError listing the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise SettingsError(f"Unknown method {name!r}. Available: {', '.join(METHODS)}.") from None


def has_own_page(name: str) -> bool:
    """Whether a method is run from its own page (CACTUS) rather than the Run page, so Explore cannot open its runs."""
    return getattr(METHODS.get(name), "page", None) is not None


def method_settings(method: Method, values: dict[str, Any] | None) -> Any:
    """The method's typed settings from a plain dict (as saved in a run's config)."""
    return settings_from_dict(method.settings_type, values or {})


__all__ = ["METHODS", "get_method", "has_own_page", "method_settings", "Method", "Representation", "RunContext",
           "Baseline", "BaselineSettings"]
