"""A misbehaving OpenAI-compatible server on 127.0.0.1, in a thread, answering from a script of steps.

Steps: ("ok", text) | ("slow", seconds, text) | ("status", code) | ("context",) (400, context length exceeded) |
("garbage",) (200 with HTML) | ("empty",) (200 with no choices). The last step repeats. Every error body carries
REMOTE_TEXT and echoes the key it was sent, as real providers do, so tests can check neither reaches a message.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REMOTE_TEXT = "REMOTE-BODY-7f3a"


class FakeLLM:
    def __init__(self, script: list[tuple]) -> None:
        self.script = list(script)
        self.requests: list[dict] = []
        self.first_request = threading.Event()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                auth = self.headers.get("Authorization") or ""
                with fake._lock:
                    fake.requests.append({"body": body, "auth": auth})
                    step = fake.script.pop(0) if len(fake.script) > 1 else fake.script[0]
                fake.first_request.set()
                kind = step[0]
                if kind == "status":
                    self._send(step[1], {"error": {"message": f"{REMOTE_TEXT} you sent {auth}", "type": "x"}})
                elif kind == "context":
                    self._send(400, {"error": {"message": f"This model's maximum context length is 8192 tokens. "
                                                          f"{REMOTE_TEXT}", "type": "invalid_request_error",
                                               "code": "context_length_exceeded"}})
                elif kind == "garbage":
                    self._send_raw(200, f"<html>{REMOTE_TEXT} {auth}</html>".encode())
                elif kind == "empty":
                    self._send(200, {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                                     "choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 0,
                                                              "total_tokens": 40}})
                else:
                    if kind == "slow":
                        time.sleep(step[1])
                    self._send(200, {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                                     "choices": [{"index": 0, "finish_reason": "stop",
                                                  "message": {"role": "assistant", "content": step[-1]}}],
                                     "usage": {"prompt_tokens": 40, "completion_tokens": 2, "total_tokens": 42}})

            def _send(self, code: int, payload: dict) -> None:
                self._send_raw(code, json.dumps(payload).encode())

            def _send_raw(self, code: int, data: bytes) -> None:
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeouts)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> "FakeLLM":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
