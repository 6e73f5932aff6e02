"""Which LLM endpoints a run may reach and which key each one gets: the operator's choice, never the user's.

A run setting may only *name* an endpoint (`api_base`: its name or its exact URL); the URL and the key come from
here. The key is passed to litellm with every request, so litellm never falls back to a key from the environment
for a host the operator did not name: an endpoint without a key gets the placeholder NO_KEY.

The operator lists endpoints in CLUSTERLENS_LLM_ENDPOINTS, an environment variable or a Streamlit secret holding
JSON (or the path of a JSON file) with a list of
    {"name": "lab-vllm", "api_base": "http://10.0.0.5:8000/v1", "key_name": "LAB_VLLM_KEY", "models": ["openai/*"]}
`api_base` null means the provider's own host for the model (api.openai.com for "openai/..."); `key_name` names the
secret or environment variable holding the key (null: no key); `models` are glob patterns of litellm model strings
(default: any). The list replaces DEFAULT_ENDPOINTS, which apply without it: hosted providers at their own hosts,
and Ollama on this machine.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import SettingsError
from core.settings import register_value_check

ENDPOINTS_VARIABLE = "CLUSTERLENS_LLM_ENDPOINTS"
NO_KEY = "no-key"
"""Sent as the key to endpoints that need none, so that litellm never substitutes one from the environment."""
_MODEL = re.compile(r"(?!.*://)(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._:/@+-]*")  # no scheme, "..", spaces: no host


@dataclass(frozen=True)
class Endpoint:
    """One server the operator allows: `api_base` None is the provider's own host for the model."""

    name: str
    api_base: str | None = None
    key_name: str | None = None
    models: tuple[str, ...] = ("*",)

    def serves(self, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.models)


DEFAULT_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("openai", None, "OPENAI_API_KEY", ("openai/*", "gpt-*", "o1*", "o3*", "o4*")),
    Endpoint("anthropic", None, "ANTHROPIC_API_KEY", ("anthropic/*", "claude-*")),
    Endpoint("gemini", None, "GEMINI_API_KEY", ("gemini/*",)),
    Endpoint("mistral", None, "MISTRAL_API_KEY", ("mistral/*",)),
    Endpoint("groq", None, "GROQ_API_KEY", ("groq/*",)),
    Endpoint("ollama", None, None, ("ollama/*", "ollama_chat/*")),
)


class Providers:
    """The allowed endpoints, and the secrets their keys are read from (then the environment).

    Keys are looked up when a request is made and never shown: `repr` lists endpoint names only.
    """

    def __init__(self, endpoints: Sequence[Endpoint] = DEFAULT_ENDPOINTS,
                 secrets: Mapping[str, Any] | None = None) -> None:
        self.endpoints = tuple(endpoints)
        self._secrets = {name: value for name, value in (secrets or {}).items() if isinstance(value, str)}

    def __repr__(self) -> str:
        return f"Providers({', '.join(endpoint.name for endpoint in self.endpoints)})"

    def named(self, api_base: str) -> Endpoint:
        """The endpoint a run setting names, by name or exact URL; SettingsError for any other address."""
        wanted = _normalised_url(api_base)
        for endpoint in self.endpoints:
            url = _normalised_url(endpoint.api_base) if endpoint.api_base else None
            if api_base.strip() == endpoint.name or url == wanted:
                return endpoint
        allowed = [endpoint.name for endpoint in self.endpoints if endpoint.api_base]
        offer = f"Use one of: {', '.join(allowed)}." if allowed else "Leave it empty to use the provider's own server."
        raise SettingsError(f"The LLM server {_shown(api_base)} is not one this server's operator allows. {offer} "
                            f"The operator adds servers in {ENDPOINTS_VARIABLE}.")

    def endpoint_for(self, model: str, api_base: str | None = None) -> Endpoint:
        """Where `model` is asked: the endpoint named by `api_base`, else the first keyless-URL endpoint serving it."""
        if not _MODEL.fullmatch(model or ""):
            raise SettingsError(f"{_shown(model)} is not a model name. Write it as litellm does, e.g. "
                                "'openai/gpt-4o-mini' or 'ollama/llama3.1'.")
        if api_base:
            endpoint = self.named(api_base)
            if not endpoint.serves(model):
                raise SettingsError(f"The LLM server {endpoint.name!r} does not serve {model!r}; it serves "
                                    f"{', '.join(endpoint.models)}. Pick one of those models.")
            return endpoint
        for endpoint in self.endpoints:
            if endpoint.api_base is None and endpoint.serves(model):
                return endpoint
        served = sorted({pattern for endpoint in self.endpoints if endpoint.api_base is None
                         for pattern in endpoint.models})
        raise SettingsError(f"This server's operator allows no provider for {model!r}. Models allowed without a "
                            f"server address: {', '.join(served) or 'none'}; or name a server the operator allows.")

    def key(self, endpoint: Endpoint) -> str | None:
        """The endpoint's key from the secrets, else the environment; None when it needs none or none is set."""
        if endpoint.key_name is None:
            return None
        return self._secrets.get(endpoint.key_name) or os.environ.get(endpoint.key_name) or None


def load_providers(secrets: Mapping[str, Any] | None = None) -> Providers:
    """The operator's configuration: endpoints from CLUSTERLENS_LLM_ENDPOINTS (in `secrets`, else the environment)
    or DEFAULT_ENDPOINTS, with keys read from `secrets` and then the environment. Nothing is written anywhere."""
    secrets = dict(secrets or {})
    listed = secrets.get(ENDPOINTS_VARIABLE, os.environ.get(ENDPOINTS_VARIABLE))
    endpoints = DEFAULT_ENDPOINTS if listed in (None, "") else _parse_endpoints(listed)
    return Providers(endpoints, secrets)


_secrets: dict[str, Any] = {}


def use_secrets(secrets: Mapping[str, Any]) -> Providers:
    """Make `secrets` (e.g. Streamlit's `st.secrets`) the ones every judge of this process reads its endpoints and
    keys from; they stay in memory and never reach `os.environ`. Returns the configuration they give."""
    global _secrets
    _secrets = dict(secrets)
    return current_providers()


SECRETS_FILES = (Path.home() / ".streamlit" / "secrets.toml", Path(".streamlit") / "secrets.toml")
"""Where Streamlit reads the operator's secrets (the global file, then the app folder's, which wins)."""


def secrets_from_files(files: Sequence[Path] = SECRETS_FILES) -> dict[str, Any]:
    """The operator's Streamlit secrets read as Streamlit would, for a process that is not the app (a run's worker
    subprocess), so a judge there gets the same keys; a missing or unreadable file gives nothing."""
    merged: dict[str, Any] = {}
    for path in files:
        try:
            merged.update(tomllib.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
    return merged


def current_providers() -> Providers:
    """The configuration from the secrets given to `use_secrets` and the environment, as they are now."""
    return load_providers(_secrets)


def check_api_base(value: Any) -> None:
    """The settings check of every `api_base`: it must name an endpoint the operator allows (SettingsError)."""
    if value:
        current_providers().named(str(value))


register_value_check("api_base", check_api_base)


def _parse_endpoints(listed: Any) -> tuple[Endpoint, ...]:
    """Endpoints from JSON text, a JSON file's path, or an already parsed list (a TOML array in Streamlit secrets)."""
    if isinstance(listed, str):
        text = listed.strip()
        if not text.startswith("["):
            path = Path(text).expanduser()
            if not path.is_file():
                raise SettingsError(f"{ENDPOINTS_VARIABLE} is neither a JSON list nor the path of a JSON file.")
            text = path.read_text(encoding="utf-8")
        try:
            listed = json.loads(text)
        except json.JSONDecodeError as error:
            raise SettingsError(f"{ENDPOINTS_VARIABLE} is not valid JSON ({error.msg}, line {error.lineno}).") from None
    if not isinstance(listed, Sequence) or isinstance(listed, str):
        raise SettingsError(f"{ENDPOINTS_VARIABLE} must be a list of endpoints.")
    return tuple(_endpoint(entry) for entry in listed)


def _endpoint(entry: Any) -> Endpoint:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
        raise SettingsError(f"Every entry of {ENDPOINTS_VARIABLE} needs a \"name\".")
    unknown = sorted(set(entry) - {"name", "api_base", "key_name", "models"})
    if unknown:
        raise SettingsError(f"{ENDPOINTS_VARIABLE} entry {entry['name']!r}: unknown field(s) {', '.join(unknown)}.")
    api_base, key_name, models = entry.get("api_base"), entry.get("key_name"), entry.get("models", ["*"])
    if api_base is not None and not (isinstance(api_base, str) and re.match(r"https?://[^\s/]+", api_base)):
        raise SettingsError(f"{ENDPOINTS_VARIABLE} entry {entry['name']!r}: api_base must be an http(s) URL or null.")
    if key_name is not None and not isinstance(key_name, str):
        raise SettingsError(f"{ENDPOINTS_VARIABLE} entry {entry['name']!r}: key_name must name a secret or be null.")
    if isinstance(models, str) or not all(isinstance(model, str) for model in models):
        raise SettingsError(f"{ENDPOINTS_VARIABLE} entry {entry['name']!r}: models must be a list of patterns.")
    return Endpoint(entry["name"].strip(), api_base, key_name, tuple(models))


def _normalised_url(url: str) -> str:
    return url.strip().rstrip("/").lower()


def _shown(text: str | None) -> str:
    """A user's value quoted for a message, cut short (it may be long or odd)."""
    text = str(text or "")
    return repr(text if len(text) <= 60 else text[:57] + "...")
