"""A judge backed by any litellm model: OpenAI, Anthropic, Ollama, vLLM or a local OpenAI-compatible server.

Answers are parsed strictly: "Choice 1"/"Choice 2" and "Yes"/"No", tolerant only of case, surrounding quotes,
markdown and punctuation. Anything else is kept as raw text with choice None, never guessed. Where a model is asked
and with which key is the operator's `Providers` configuration (core.llm.providers): the key is looked up at call
time, sent explicitly, and never stored. A provider's own error text never reaches a message: it may echo the
remote reply or the key, so errors say the error class, the HTTP status and what to do.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from typing import Any

from core.errors import SettingsError
from core.llm.judges import Answer, JudgeUnavailableError, Pair, Triplet, answer_concurrently
from core.llm.prompts import PromptTemplate
from core.llm.providers import NO_KEY, Providers, current_providers

_EDGE = " \t\r\n'\"`*_.!,:;()[]"
_TRIPLET = re.compile(r"choice\s*([12])")
_PAIR = re.compile(r"(yes|no)")


def _normalised(raw: str | None) -> str:
    return re.sub(r"\s+", " ", (raw or "").strip(_EDGE)).lower()


def parse_triplet_answer(raw: str | None) -> int | None:
    """1 or 2 when the answer is exactly "Choice 1" or "Choice 2" (any case, quotes, trailing period), else None."""
    match = _TRIPLET.fullmatch(_normalised(raw))
    return int(match.group(1)) if match else None


def parse_pair_answer(raw: str | None) -> bool | None:
    """True for exactly "Yes", False for exactly "No" (any case, quotes, trailing period), else None."""
    match = _PAIR.fullmatch(_normalised(raw))
    return match.group(1) == "yes" if match else None


def _litellm():
    """Import litellm only when a query is made (it is slow to import), with the bundled cost map (no download)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # else every provider error also prints a help banner
    return litellm


def _transient_errors(litellm: Any) -> tuple[type[BaseException], ...]:
    errors = litellm.exceptions
    return (errors.Timeout, errors.APIConnectionError, errors.RateLimitError, errors.InternalServerError,
            errors.ServiceUnavailableError, errors.BadGatewayError)


def _error_summary(error: BaseException) -> str:
    """A provider error as it may be shown: its class and HTTP status, never its text (the remote reply, the key)."""
    status = getattr(error, "status_code", None)
    return type(error).__name__ + (f", HTTP {status}" if isinstance(status, int) else "")


def _advice(error: BaseException) -> str:
    """What to do about a provider's refusal, in our words."""
    name = type(error).__name__
    if name == "ContextWindowExceededError":
        return "a question is longer than the model's context window: use shorter texts or a model with a longer one"
    if name in ("AuthenticationError", "PermissionDeniedError"):
        return "the server refused the API key: the operator must check the key of this endpoint"
    if name == "NotFoundError":
        return "the server does not know this model: check the model name"
    return "the server refused the request: check the model name and the server"


def _provider_error() -> type[BaseException]:
    """The base class of every provider error litellm raises: the openai package's (litellm's own `OpenAIError` is
    another class)."""
    import openai  # installed with litellm, already imported by it

    return openai.OpenAIError


class LiteLLMJudge:
    """Asks `model` (a litellm model string such as "openai/gpt-4o-mini" or "ollama/llama3") at temperature 0, with
    up to `concurrency` requests in flight for a batch, at the endpoint `providers` allow for it (`api_base` may name
    one; SettingsError for any other, and for a missing key).

    Transient provider errors (timeouts, 5xx, rate limits, refused connections) are retried `max_retries` times with
    exponential backoff (`backoff`, 2·backoff, ...); then, or at once on any other provider error (a refused key, a
    question over the context length), JudgeUnavailableError. `mock_response` is litellm's own canned-answer switch,
    for trying the pipeline without a provider.
    """

    def __init__(self, model: str, template: PromptTemplate | None = None, *, api_base: str | None = None,
                 providers: Providers | None = None, timeout: float = 30.0, max_retries: int = 3,
                 backoff: float = 1.0, max_tokens: int = 8, concurrency: int = 4,
                 mock_response: str | None = None) -> None:
        self.model = model
        self.template = template or PromptTemplate()
        self.providers = providers or current_providers()
        self.endpoint = self.providers.endpoint_for(model, api_base)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_tokens = max_tokens
        self.concurrency = concurrency
        self.mock_response = mock_response
        if self.endpoint.key_name and mock_response is None and self.providers.key(self.endpoint) is None:
            raise SettingsError(f"No API key for the LLM endpoint {self.endpoint.name!r}: the server's operator must "
                                f"set {self.endpoint.key_name} (an environment variable or a Streamlit secret).")

    @property
    def name(self) -> str:
        """The model as the answer store knows it: the same model string on another server is another model."""
        return f"{self.model}@{self.endpoint.api_base}" if self.endpoint.api_base else self.model

    @property
    def prompt_version(self) -> str:
        return self.template.version

    def answer_triplet(self, anchor: str, a: str, b: str) -> Answer:
        raw, tokens, cost, latency = self.ask(self.template.triplet_prompt(anchor, a, b))
        choice = parse_triplet_answer(raw)
        return Answer(choice, raw, tokens, cost, latency, unparsed=choice is None)

    def answer_pair(self, x: str, y: str) -> Answer:
        raw, tokens, cost, latency = self.ask(self.template.pair_prompt(x, y))
        choice = parse_pair_answer(raw)
        return Answer(choice, raw, tokens, cost, latency, unparsed=choice is None)

    def answer_triplets(self, triplets: Sequence[Triplet]) -> list[Answer]:
        return answer_concurrently(self.answer_triplet, triplets, self.concurrency)

    def answer_pairs(self, pairs: Sequence[Pair]) -> list[Answer]:
        return answer_concurrently(self.answer_pair, pairs, self.concurrency)

    def ask(self, prompt: str) -> tuple[str, int, float, float]:
        """Send one prompt; return (raw text, total tokens, cost in USD, seconds), retrying transient failures."""
        litellm = _litellm()
        transient = _transient_errors(litellm)
        where = f"{self.model} at {self.endpoint.name}"
        for attempt in range(self.max_retries + 1):
            start = time.perf_counter()
            try:
                response = litellm.completion(**self._request(prompt))
            except transient as exc:
                if attempt == self.max_retries:
                    raise JudgeUnavailableError(
                        f"{where} did not answer after {attempt + 1} attempts ({_error_summary(exc)}). Check that the "
                        "server is up; questions already answered are kept.") from exc
                time.sleep(self.backoff * 2 ** attempt)
                continue
            except _provider_error() as exc:  # every other error litellm raises for a provider
                raise JudgeUnavailableError(f"{where} refused the question ({_error_summary(exc)}): {_advice(exc)}. "
                                            "Questions already answered are kept.") from exc
            latency = time.perf_counter() - start
            return self._content(response), self._tokens(response), self._cost(litellm, response), latency
        raise AssertionError("unreachable")

    def _request(self, prompt: str) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model, "messages": [{"role": "user", "content": prompt}], "temperature": 0,
            "max_tokens": self.max_tokens, "timeout": self.timeout, "num_retries": 0, "max_retries": 0,
            "api_key": self.providers.key(self.endpoint) or NO_KEY,
        }
        if self.endpoint.api_base:
            request["api_base"] = self.endpoint.api_base
        if self.mock_response is not None:
            request["mock_response"] = self.mock_response
        return request

    @staticmethod
    def _content(response: Any) -> str:
        """The answer's text; "" (unparseable, asked again next time) when the reply has no choice or no text."""
        choices = getattr(response, "choices", None) or [None]
        content = getattr(getattr(choices[0], "message", None), "content", None)
        return content if isinstance(content, str) else ""

    @staticmethod
    def _tokens(response: Any) -> int:
        usage = getattr(response, "usage", None)
        return int(getattr(usage, "total_tokens", 0) or 0)

    @staticmethod
    def _cost(litellm: Any, response: Any) -> float:
        """Cost from litellm's price list; 0 for models it has no price for (local servers)."""
        try:
            return float(litellm.completion_cost(completion_response=response) or 0.0)
        except Exception:  # unknown model prices raise various errors; an unpriced model costs nothing here
            return 0.0
