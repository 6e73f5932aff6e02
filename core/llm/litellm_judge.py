"""A judge backed by any litellm model: OpenAI, Anthropic, Ollama, vLLM or a local OpenAI-compatible server.

Answers are parsed strictly: "Choice 1"/"Choice 2" and "Yes"/"No", tolerant only of case, surrounding quotes,
markdown and punctuation. Anything else is kept as raw text with choice None, never guessed. API keys are read from
the environment at call time (by litellm itself, or from the variable named in `api_key_env`) and never stored.
"""
from __future__ import annotations

import os
import re
import time
from typing import Any

from collections.abc import Sequence

from core.llm.judges import Answer, JudgeUnavailableError, Pair, Triplet, answer_concurrently
from core.llm.prompts import PromptTemplate

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

    return litellm


def _transient_errors(litellm: Any) -> tuple[type[BaseException], ...]:
    errors = litellm.exceptions
    return (errors.Timeout, errors.APIConnectionError, errors.RateLimitError, errors.InternalServerError,
            errors.ServiceUnavailableError, errors.BadGatewayError)


class LiteLLMJudge:
    """Asks `model` (a litellm model string such as "openai/gpt-4o-mini" or "ollama/llama3") at temperature 0, with
    up to `concurrency` requests in flight for a batch.

    Transient provider errors (timeouts, 5xx, rate limits, refused connections) are retried `max_retries` times with
    exponential backoff (`backoff`, 2·backoff, ...); then, or on any other provider error, JudgeUnavailableError.
    `mock_response` is litellm's own canned-answer switch, for trying the pipeline without a provider.
    """

    def __init__(self, model: str, template: PromptTemplate | None = None, *, api_base: str | None = None,
                 api_key_env: str | None = None, timeout: float = 30.0, max_retries: int = 3, backoff: float = 1.0,
                 max_tokens: int = 8, concurrency: int = 4, mock_response: str | None = None) -> None:
        self.model = model
        self.template = template or PromptTemplate()
        self.api_base = api_base
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_tokens = max_tokens
        self.concurrency = concurrency
        self.mock_response = mock_response

    @property
    def name(self) -> str:
        """The model as the answer store knows it: the same model string on another server is another model."""
        return f"{self.model}@{self.api_base}" if self.api_base else self.model

    @property
    def prompt_version(self) -> str:
        return self.template.version

    def answer_triplet(self, anchor: str, a: str, b: str) -> Answer:
        raw, tokens, cost, latency = self.ask(self.template.triplet_prompt(anchor, a, b))
        return Answer(parse_triplet_answer(raw), raw, tokens, cost, latency)

    def answer_pair(self, x: str, y: str) -> Answer:
        raw, tokens, cost, latency = self.ask(self.template.pair_prompt(x, y))
        return Answer(parse_pair_answer(raw), raw, tokens, cost, latency)

    def answer_triplets(self, triplets: Sequence[Triplet]) -> list[Answer]:
        return answer_concurrently(self.answer_triplet, triplets, self.concurrency)

    def answer_pairs(self, pairs: Sequence[Pair]) -> list[Answer]:
        return answer_concurrently(self.answer_pair, pairs, self.concurrency)

    def ask(self, prompt: str) -> tuple[str, int, float, float]:
        """Send one prompt; return (raw text, total tokens, cost in USD, seconds), retrying transient failures."""
        litellm = _litellm()
        transient = _transient_errors(litellm)
        for attempt in range(self.max_retries + 1):
            start = time.perf_counter()
            try:
                response = litellm.completion(**self._request(prompt))
            except transient as exc:
                if attempt == self.max_retries:
                    raise JudgeUnavailableError(
                        f"{self.name} did not answer after {attempt + 1} attempts ({type(exc).__name__}: "
                        f"{str(exc)[:200]}). Check that the server is up and api_base is right; questions already "
                        "answered are kept.") from exc
                time.sleep(self.backoff * 2 ** attempt)
                continue
            except litellm.exceptions.APIError as exc:
                raise JudgeUnavailableError(
                    f"{self.name} refused the question ({type(exc).__name__}: {str(exc)[:200]}). Check the model "
                    "name and that its API key is set in the environment.") from exc
            latency = time.perf_counter() - start
            return self._content(response), self._tokens(response), self._cost(litellm, response), latency
        raise AssertionError("unreachable")

    def _request(self, prompt: str) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model, "messages": [{"role": "user", "content": prompt}], "temperature": 0,
            "max_tokens": self.max_tokens, "timeout": self.timeout, "num_retries": 0, "max_retries": 0,
        }
        if self.api_base:
            request["api_base"] = self.api_base
        if self.api_key_env:
            request["api_key"] = os.environ.get(self.api_key_env)
        if self.mock_response is not None:
            request["mock_response"] = self.mock_response
        return request

    @staticmethod
    def _content(response: Any) -> str:
        return response.choices[0].message.content or ""

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
