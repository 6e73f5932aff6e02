"""LLM providers failing, over real HTTP to a fake server on loopback (#11 items 1 and 4).

Whatever the provider does, everything paid for is stored, budgets hold across reruns of a run, cancel takes effect
within a chunk, the operator's key never goes to a host the operator did not allow, and no message carries the
remote reply or the key.
"""
from __future__ import annotations

import json
import os
import threading
import time

import pytest

from core.errors import RunCancelled, SettingsError
from core.llm import (Budget, BudgetExhaustedError, CachingJudge, Endpoint, JudgeUnavailableError, JudgmentStore,
                      LiteLLMJudge, PromptTemplate, Providers, judge_from_spec)
from core.llm.providers import ENDPOINTS_VARIABLE, NO_KEY
from core.methods import get_method
from core.methods.registry import method_settings
from tests.faults.fake_llm import REMOTE_TEXT, FakeLLM

OPERATOR_KEY = "sk-operator-secret-1234"
QUESTIONS = [(f"anchor {i}", "choice one", "choice two") for i in range(8)]


@pytest.fixture(autouse=True)
def operator_key_in_environment(monkeypatch):
    """The server's own key sits in the environment, where litellm would pick it up for any host."""
    monkeypatch.setenv("OPENAI_API_KEY", OPERATOR_KEY)
    monkeypatch.setenv("LAB_KEY", "sk-lab-key")
    monkeypatch.delenv(ENDPOINTS_VARIABLE, raising=False)


@pytest.fixture
def store(tmp_path) -> JudgmentStore:
    return JudgmentStore(tmp_path / "catalogue.sqlite")


def judge_at(server: FakeLLM, model: str = "openai/local-test", **settings) -> LiteLLMJudge:
    providers = Providers([Endpoint("lab", server.url, "LAB_KEY", ("openai/*",))])
    settings = {"backoff": 0.01, "max_retries": 1, "concurrency": 1, **settings}
    return LiteLLMJudge(model, PromptTemplate("message", "intent"), api_base="lab", providers=providers, **settings)


def assert_clean(message: str) -> None:
    assert REMOTE_TEXT not in message and OPERATOR_KEY not in message and "sk-lab-key" not in message
    assert "\n" not in message


# ---------------------------------------------------------------- paid answers are kept


@pytest.mark.parametrize("refusal, status", [(("context",), "HTTP 400"), (("status", 401), "HTTP 401"),
                                             (("status", 403), "HTTP 403"), (("status", 400), "HTTP 400")])
def test_a_refusal_keeps_every_answer_paid_before_it(store, refusal, status):
    with FakeLLM([("ok", "Choice 1")] * 3 + [refusal]) as server:
        judge = CachingJudge(judge_at(server), store, "run-1")
        with pytest.raises(JudgeUnavailableError) as raised:
            judge.answer_triplets(QUESTIONS)
        assert len(server.requests) == 4  # refusals are not retried
    assert [j.texts for j in store.list("run-1")] == QUESTIONS[:3]
    assert status in str(raised.value) and "refused" in str(raised.value)
    assert_clean(str(raised.value))


@pytest.mark.parametrize("failure", [("status", 500), ("garbage",), ("slow", 3.0, "Choice 1")])
def test_a_server_that_stops_answering_keeps_every_answer_paid_before_it(store, failure):
    with FakeLLM([("ok", "Choice 2")] * 2 + [failure]) as server:
        judge = CachingJudge(judge_at(server, timeout=0.5), store, "run-1")
        with pytest.raises(JudgeUnavailableError, match="did not answer after 2 attempts") as raised:
            judge.answer_triplets(QUESTIONS)
    assert [(j.texts, j.answer) for j in store.list("run-1")] == [(QUESTIONS[0], 2), (QUESTIONS[1], 2)]
    assert_clean(str(raised.value))


def test_a_partial_batch_keeps_the_answers_in_flight(store):
    """Four slow answers in flight when the next requests are refused: the four are kept, the rest is not asked."""
    many = [(f"anchor {i}", "b", "c") for i in range(16)]
    with FakeLLM([("slow", 0.3, "Choice 1")] * 4 + [("status", 401)]) as server:
        judge = CachingJudge(judge_at(server, concurrency=4), store, "run-1")
        with pytest.raises(JudgeUnavailableError):
            judge.answer_triplets(many)
        asked = len(server.requests)
    kept = store.list("run-1")
    assert len(kept) == 4 and all(j.answer == 1 for j in kept)
    assert asked <= 8


def test_an_empty_reply_is_an_unparseable_answer_not_a_crash(store):
    with FakeLLM([("empty",)]) as server:
        answers = CachingJudge(judge_at(server), store, "run-1").answer_triplets(QUESTIONS[:2])
    assert [(a.choice, a.raw) for a in answers] == [(None, ""), (None, "")]
    assert len(store.list("run-1")) == 2


def test_unparseable_answers_are_kept_for_review_and_asked_again(store):
    with FakeLLM([("ok", "Hmm, both?"), ("ok", "Choice 2")]) as server:
        first = CachingJudge(judge_at(server), store, "run-1").answer_triplets(QUESTIONS[:1])
        assert first[0].choice is None
        assert [(j.raw, j.answer) for j in store.list("run-1")] == [("Hmm, both?", None)]
        again = CachingJudge(judge_at(server), store, "run-1").answer_triplets(QUESTIONS[:1])
        assert len(server.requests) == 2
    assert again[0].choice == 2
    (row,) = store.list("run-1")
    assert (row.raw, row.answer) == ("Choice 2", 2)
    assert store.spent("run-1")["queries"] == 2  # both attempts were paid
    third = CachingJudge(judge_at(server), store, "run-2").answer_triplets(QUESTIONS[:1])
    assert third[0].choice == 2 and len(server.requests) == 2  # a decided answer is served from the store


# ---------------------------------------------------------------- budgets and cancel


def test_the_query_budget_holds_across_reruns_of_a_run(store):
    with FakeLLM([("ok", "Choice 1")]) as server:
        for attempt in range(3):
            judge = CachingJudge(judge_at(server), store, "run-1", budget=Budget(max_queries=5))
            with pytest.raises(BudgetExhaustedError, match="paid for 5 questions"):
                judge.answer_triplets(QUESTIONS)
        paid = len(server.requests)
    assert paid == 5 and store.spent("run-1")["queries"] == 5


def test_the_cost_budget_holds_across_reruns_of_a_run(store):
    """gpt-4o-mini at the lab endpoint is priced from litellm's list, so each answer costs a few micro-dollars."""
    with FakeLLM([("ok", "Choice 1")]) as server:
        one = judge_at(server, model="openai/gpt-4o-mini").answer_triplet("a", "b", "c").cost
        assert one > 0
        cap = 3.5 * one
        for attempt in range(2):
            judge = CachingJudge(judge_at(server, model="openai/gpt-4o-mini"), store, "run-1",
                                 budget=Budget(max_cost=cap), chunk_size=1)
            with pytest.raises(BudgetExhaustedError):
                judge.answer_triplets(QUESTIONS)
        paid = len(server.requests) - 1
    assert paid == 4 and store.spent("run-1")["cost"] == pytest.approx(4 * one)


def test_cancel_while_asking_takes_effect_within_a_chunk(store):
    stop = threading.Event()
    many = [(f"anchor {i}", "b", "c") for i in range(48)]
    with FakeLLM([("slow", 0.2, "Choice 1")]) as server:
        judge = CachingJudge(judge_at(server, concurrency=4), store, "run-1", chunk_size=8, should_stop=stop.is_set)
        threading.Thread(target=lambda: server.first_request.wait(5) and stop.set(), daemon=True).start()
        start = time.perf_counter()
        with pytest.raises(RunCancelled, match="answers paid so far are saved"):
            judge.answer_triplets(many)
        elapsed = time.perf_counter() - start
        asked = len(server.requests)
    assert asked == 8 and len(store.list("run-1")) == 8  # one chunk asked, paid and kept
    assert elapsed < 2.0  # 48 questions would take ~2.4 s


# ---------------------------------------------------------------- keys and hosts


def test_a_server_the_operator_did_not_name_is_refused_at_submit_and_never_called(monkeypatch):
    with FakeLLM([("ok", "Choice 1")]) as allowed, FakeLLM([("ok", "Choice 1")]) as other:
        monkeypatch.setenv(ENDPOINTS_VARIABLE, json.dumps([{"name": "lab", "api_base": allowed.url,
                                                             "models": ["openai/*"]}]))
        clusterllm = get_method("clusterllm")
        with pytest.raises(SettingsError, match="not one this server's operator allows.*Use one of: lab"):
            method_settings(clusterllm, {"judge": "litellm:openai/x", "api_base": other.url})
        with pytest.raises(SettingsError, match="not one this server's operator allows"):
            judge_from_spec("litellm:openai/x", api_base=other.url)
        assert method_settings(clusterllm, {"api_base": "lab"}).api_base == "lab"
        assert method_settings(clusterllm, {"api_base": allowed.url + "/"}).api_base.startswith(allowed.url)
        assert other.requests == []


def test_the_environment_key_never_reaches_an_endpoint_without_a_key(monkeypatch):
    """The operator allows a keyless lab server; the environment's OpenAI key must not be sent there."""
    with FakeLLM([("ok", "Choice 1")]) as lab:
        monkeypatch.setenv(ENDPOINTS_VARIABLE, json.dumps([{"name": "lab", "api_base": lab.url}]))
        judge = judge_from_spec("litellm:openai/local-test", api_base="lab")
        assert judge.answer_triplet("a", "b", "c").choice == 1
        assert judge_from_spec("litellm:gpt-4o-mini", api_base=lab.url).answer_pair("a", "b").raw == "Choice 1"
    assert [request["auth"] for request in lab.requests] == [f"Bearer {NO_KEY}"] * 2


def test_each_endpoint_gets_only_its_own_key():
    with FakeLLM([("ok", "Choice 1")]) as lab:
        judge_at(lab).answer_triplet("a", "b", "c")
    assert [request["auth"] for request in lab.requests] == ["Bearer sk-lab-key"]


@pytest.mark.parametrize("model", ["huggingface/http://127.0.0.1:9/v1", "openai/gpt x", "openai/../../etc"])
def test_a_model_name_cannot_carry_a_host_or_escape_the_allow_list(model):
    with pytest.raises(SettingsError):
        judge_from_spec(f"litellm:{model}")


def test_secrets_give_keys_without_touching_the_environment(monkeypatch):
    import os

    from core.llm import current_providers, use_secrets

    monkeypatch.delenv("OPENAI_API_KEY")
    try:
        providers = use_secrets({"OPENAI_API_KEY": "sk-from-secrets", "unrelated": {"a": 1}})
        assert providers.key(providers.endpoint_for("openai/gpt-4o-mini")) == "sk-from-secrets"
        assert "OPENAI_API_KEY" not in os.environ and "sk-from-secrets" not in repr(current_providers())
    finally:
        use_secrets({})


def test_a_missing_key_is_a_settings_error_before_anything_is_asked(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(SettingsError, match="No API key.*OPENAI_API_KEY"):
        judge_from_spec("litellm:openai/gpt-4o-mini")


def test_a_worker_process_reads_the_operators_secrets_files(tmp_path, monkeypatch):
    """A run's worker subprocess is not the app: it reads the secrets files Streamlit reads, so its judge gets the
    operator's keys too (the app folder's file wins over the global one), still without the environment."""
    from core.llm.providers import secrets_from_files

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    global_file, app_file, broken = tmp_path / "global.toml", tmp_path / "app.toml", tmp_path / "broken.toml"
    global_file.write_text('OPENAI_API_KEY = "global"\nOTHER = "kept"\n')
    app_file.write_text('OPENAI_API_KEY = "app"\n')
    broken.write_text("this is = = not toml")
    secrets = secrets_from_files([global_file, app_file, broken, tmp_path / "missing.toml"])
    assert secrets == {"OPENAI_API_KEY": "app", "OTHER": "kept"}
    assert "OPENAI_API_KEY" not in os.environ
