"""Judges: strict parsing, the litellm judge over real HTTP to a fake OpenAI-compatible server, embedding, oracle."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.errors import ModelUnavailableError, SettingsError
from core.llm import (EmbeddingJudge, Endpoint, JudgeUnavailableError, LiteLLMJudge, OracleJudge, PromptTemplate,
                      Providers, judge_from_spec, parse_pair_answer, parse_triplet_answer)


@pytest.mark.parametrize("raw, expected", [
    ("Choice 1", 1), ("choice 2", 2), ("Choice 2.", 2), ("'Choice 1'", 1), ("**Choice 2**", 2), (" CHOICE 1\n", 1),
    ("Choice  1", 1), ("1", None), ("Choice 3", None), ("Choice 1 or Choice 2", None), ("I think Choice 1", None),
    ("Choice 1. Because the query asks about cards.", None), ("", None), (None, None), ("Yes", None),
])
def test_triplet_answers_are_parsed_strictly(raw, expected):
    assert parse_triplet_answer(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("Yes", True), ("no", False), ("Yes.", True), ("\"No\"", False), ("YES!", True), ("Yes, they do", None),
    ("Probably yes", None), ("N", None), ("Choice 1", None), ("", None), ("No. Because the intents differ.", None),
])
def test_pair_answers_are_parsed_strictly(raw, expected):
    assert parse_pair_answer(raw) is expected


def test_prompt_follows_the_paper_and_versions_by_text():
    template = PromptTemplate("banking customer utterance", "intent")
    prompt = template.triplet_prompt("card lost", "card stolen", "refund late")
    assert prompt.startswith("Select the banking customer utterance that better corresponds with the Query in terms "
                             "of intent.\n\nQuery: card lost\nChoice 1: card stolen\nChoice 2: refund late\n\n")
    assert prompt.endswith("Please respond with 'Choice 1' or 'Choice 2' without explanation.")
    assert "same intent category" in template.pair_prompt("a {b}", "c")
    assert "a {b}" in template.pair_prompt("a {b}", "c")  # braces in data are not placeholders
    assert PromptTemplate("banking customer utterance", "intent").version == template.version
    assert PromptTemplate("banking customer utterance", "domain").version != template.version
    with pytest.raises(SettingsError):
        PromptTemplate(triplet="Which is closer to {query}? {choice1} or {choice2} by {colour}")
    with pytest.raises(SettingsError):
        PromptTemplate(pair="Same? {first}")


class FakeOpenAI:
    """An OpenAI-compatible /chat/completions server on 127.0.0.1 answering from a script of steps:
    ("ok", text) | ("status", code) | ("slow", seconds, text). The last step repeats."""

    def __init__(self, script):
        self.script = list(script)
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                step = fake.script.pop(0) if len(fake.script) > 1 else fake.script[0]
                if step[0] == "status":
                    self._send(step[1], {"error": {"message": "boom", "type": "server_error"}})
                    return
                if step[0] == "slow":
                    time.sleep(step[1])
                text = step[-1]
                self._send(200, {"id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": text}}],
                                 "usage": {"prompt_tokens": 40, "completion_tokens": 2, "total_tokens": 42}})

            def _send(self, code, payload):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def judge_for(server: FakeOpenAI, **kw) -> LiteLLMJudge:
    providers = Providers([Endpoint("fake", server.api_base, "FAKE_LLM_KEY", ("openai/*",))])
    return LiteLLMJudge("openai/local-test", PromptTemplate("customer message", "intent"), api_base=server.api_base,
                        providers=providers, backoff=0.01, **kw)


@pytest.fixture(autouse=True)
def fake_key(monkeypatch):
    monkeypatch.setenv("FAKE_LLM_KEY", "sk-test-secret")


def test_litellm_judge_round_trip_sends_the_prompt_at_temperature_zero():
    with FakeOpenAI([("ok", "Choice 2"), ("ok", "Yes.")]) as server:
        judge = judge_for(server)
        triplet = judge.answer_triplet("where is my card", "refund please", "card not arrived")
        pair = judge.answer_pair("where is my card", "card not arrived")
    assert (triplet.choice, triplet.raw, triplet.tokens, triplet.source) == (2, "Choice 2", 42, "judge")
    assert triplet.latency > 0 and triplet.cost == 0.0  # a local model has no price
    assert pair.choice is True
    first = server.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["body"]["temperature"] == 0
    assert first["body"]["messages"][0]["content"].startswith("Select the customer message that better corresponds")
    assert "Choice 1: refund please\nChoice 2: card not arrived" in first["body"]["messages"][0]["content"]
    assert first["auth"] == "Bearer sk-test-secret"
    assert judge.name == f"openai/local-test@{server.api_base}"
    assert "sk-test-secret" not in repr(vars(judge))  # the key is read at call time, never kept


def test_litellm_judge_records_garbage_as_unparseable():
    with FakeOpenAI([("ok", "Both are about cards, so Choice 1 I guess"), ("ok", "Maybe")]) as server:
        judge = judge_for(server)
        triplets = judge.answer_triplets([("a", "b", "c")])
        pairs = judge.answer_pairs([("a", "b")])
    assert triplets[0].choice is None and triplets[0].raw.startswith("Both are about cards")
    assert pairs[0].choice is None and pairs[0].raw == "Maybe"


def test_litellm_judge_retries_server_errors_then_succeeds():
    with FakeOpenAI([("status", 500), ("status", 503), ("ok", "Choice 1")]) as server:
        answer = judge_for(server, max_retries=3).answer_triplet("a", "b", "c")
    assert answer.choice == 1
    assert len(server.requests) == 3


def test_litellm_judge_gives_up_after_its_retries():
    with FakeOpenAI([("status", 500)]) as server:
        with pytest.raises(JudgeUnavailableError, match="did not answer after 3 attempts"):
            judge_for(server, max_retries=2).answer_triplet("a", "b", "c")
    assert len(server.requests) == 3


def test_litellm_judge_times_out_on_a_slow_answer():
    with FakeOpenAI([("slow", 3.0, "Choice 1")]) as server:
        start = time.perf_counter()
        with pytest.raises(JudgeUnavailableError):
            judge_for(server, timeout=0.3, max_retries=1).answer_triplet("a", "b", "c")
        assert time.perf_counter() - start < 2.5
    assert len(server.requests) == 2


def test_litellm_judge_keeps_several_requests_in_flight():
    questions = [(f"anchor {i}", "b", "c") for i in range(8)]
    with FakeOpenAI([("slow", 0.4, "Choice 1")]) as server:
        start = time.perf_counter()
        answers = judge_for(server, concurrency=4).answer_triplets(questions)
        elapsed = time.perf_counter() - start
    assert [a.choice for a in answers] == [1] * 8 and len(server.requests) == 8
    assert elapsed < 8 * 0.4 * 0.6  # one at a time would take 3.2 s
    asked = [r["body"]["messages"][0]["content"] for r in server.requests]
    assert sorted(asked) == sorted(judge_for(server).template.triplet_prompt(*q) for q in questions)


def test_answers_paid_before_a_provider_failure_are_kept_and_not_paid_again(tmp_path):
    from core.llm import CachingJudge, JudgmentStore

    store = JudgmentStore(tmp_path / "catalogue.sqlite")
    questions = [(f"anchor {i}", "b", "c") for i in range(6)]
    script = [("ok", "Choice 1"), ("ok", "Choice 2"), ("ok", "Choice 1"), ("status", 500), ("status", 500),
              ("ok", "Choice 2")]
    with FakeOpenAI(script) as server:
        judge = CachingJudge(judge_for(server, max_retries=1, concurrency=1), store, "run-1")
        with pytest.raises(JudgeUnavailableError, match="did not answer"):
            judge.answer_triplets(questions)
        kept = store.list("run-1", kind="triplet")
        assert [(j.texts, j.answer) for j in kept] == [(questions[0], 1), (questions[1], 2), (questions[2], 1)]

        again = CachingJudge(judge_for(server, concurrency=1), store, "run-1")
        answers = again.answer_triplets(questions)
    assert [a.choice for a in answers] == [1, 2, 1, 2, 2, 2]
    assert len(server.requests) == 5 + 3  # the second pass asked only the three never answered
    assert again.queries_ == 3


def test_litellm_judge_with_mock_response_needs_no_server():
    judge = LiteLLMJudge("openai/gpt-4o-mini", mock_response="Choice 1")
    answer = judge.answer_triplet("a", "b", "c")
    assert answer.choice == 1 and answer.raw == "Choice 1" and answer.tokens > 0
    assert answer.cost > 0  # priced from litellm's bundled cost map
    assert LiteLLMJudge("openai/gpt-4o-mini", mock_response="Sure!").answer_pair("a", "b").choice is None


def test_oracle_answers_from_labels_and_skips_undecidable_triplets():
    oracle = OracleJudge(["a1", "a2", "b1", "b2"], ["A", "A", "B", "B"])
    assert oracle.answer_triplet("a1", "b1", "a2").choice == 2
    assert oracle.answer_triplet("a1", "a2", "b1").choice == 1
    assert oracle.answer_triplet("a1", "b1", "b2").choice is None  # neither shares the anchor's label
    assert oracle.answer_triplet("b1", "b2", "b2").choice is None  # both do
    assert oracle.answer_triplet("a1", "a2", "unknown").choice is None
    assert [a.choice for a in oracle.answer_pairs([("a1", "a2"), ("a1", "b1")])] == [True, False]


def test_embedding_judge_answers_by_cosine(fake_embedder):
    judge = EmbeddingJudge(fake_embedder, pair_threshold=0.3)
    assert judge.answer_triplet("my card is late", "refund my order", "my card never came").choice == 2
    assert judge.answer_triplet("my card is late", "my card never came", "refund my order").choice == 1
    assert judge.answer_triplet("x y", "z w", "z w").choice is None  # a tie is not decided
    pairs = judge.answer_pairs([("my card is late", "my card never came"), ("my card is late", "refund order")])
    assert [a.choice for a in pairs] == [True, False]
    assert len(fake_embedder.calls) == 4  # one encode per batch


def test_embedding_judge_says_how_to_install_a_missing_model():
    def missing(spec):
        raise ModelUnavailableError("MPNet is not installed. Run `python -m core setup-models`.")

    judge = judge_from_spec("embedding", embedders=missing)
    with pytest.raises(ModelUnavailableError, match="setup-models"):
        judge.answer_pair("a", "b")


def test_judge_from_spec():
    assert isinstance(judge_from_spec("litellm:ollama/llama3"), LiteLLMJudge)
    assert judge_from_spec("embedding:minilm").name.startswith("embedding:minilm")
    assert isinstance(judge_from_spec("oracle", texts=["a"], labels=["x"]), OracleJudge)
    with pytest.raises(SettingsError):
        judge_from_spec("oracle")
    with pytest.raises(SettingsError):
        judge_from_spec("gpt4")


def test_embedding_judge_leaves_close_calls_undecided(fake_embedder):
    sure = EmbeddingJudge(fake_embedder, min_margin=0.0)
    careful = EmbeddingJudge(fake_embedder, min_margin=0.99)
    question = ("my card is late", "refund my order", "my card never came")
    assert sure.answer_triplet(*question).choice == 2
    undecided = careful.answer_triplet(*question)
    assert undecided.choice is None and undecided.raw.startswith("cos1=")  # the cosines stay visible for review
    assert sure.name != careful.name  # the answer store keeps their answers apart


def test_embedding_judge_keeps_its_name_after_answering(fake_embedder):
    """Its answers are stored under its name: resolving the model on first use must not rename it."""
    judge = EmbeddingJudge("mpnet", resolve=lambda spec: fake_embedder, min_margin=0.1)
    before = judge.name
    judge.answer_triplet("my card is late", "refund my order", "my card never came")
    assert judge.name == before == "embedding:mpnet:t=0.5:m=0.1"
    judge.answer_pair("a", "b")
    assert len(fake_embedder.calls) == 2  # resolved once, reused


def test_embedding_judge_with_neighbours_answers_only_where_the_neighbourhood_agrees(fake_embedder):
    """Cosine alone must pick one choice even when neither shares the anchor's topic; the neighbourhood check
    leaves such a question undecided, and keeps the answers its neighbours back."""
    corpus = ["my card is late", "my card is lost", "my card is stuck", "my card is gone",
              "refund is late", "refund the payment", "refund not received", "refund request please",
              "reset my password", "password link expired", "forgot the password", "password change please"]
    plain = EmbeddingJudge(fake_embedder)
    checked = EmbeddingJudge(fake_embedder, corpus=corpus, neighbours=3)
    same_topic = ("my card is late", "refund is late", "my card is lost")
    neither = ("my card is late", "refund is late", "password link expired")
    assert plain.answer_triplet(*same_topic).choice == checked.answer_triplet(*same_topic).choice == 2
    assert plain.answer_triplet(*neither).choice is not None
    undecided = checked.answer_triplet(*neither)
    assert undecided.choice is None and "near=0" in undecided.raw
    assert checked.answer_triplet("my card is late", "refund is late", "not in the corpus").choice == 1
    assert checked.name.endswith(":nn=3") and ":nn=" not in plain.name  # their answers are stored apart
    assert EmbeddingJudge(fake_embedder, neighbours=3).neighbours == 0  # no corpus, no check
