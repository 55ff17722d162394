"""A scripted stand-in for the Anthropic Messages API, enough for a real `claude -p` session.

The real CLI only talks to `ANTHROPIC_BASE_URL`, so a loopback server that answers
`POST /v1/messages?beta=true` with a fixed conversation makes its telemetry fully deterministic:
the token counts below are what the client reports, and it prices them itself from the model name.

Which answer a request gets depends only on how many assistant messages it already carries (the
client resends the whole conversation every turn), so retries and concurrent sessions need no state.
The script is the one the captures in /work/shared/claude-code were made with (TELEMETRY.md §1):

  turn 1  Write <workdir>/hello.txt "hello\\nworld\\n"      tool turn: input 1200, output 80,
  turn 2  text + Bash `echo hi`  (allowed)                           cache read 5000, creation 300
  turn 3  Bash `python3 -c 'print(12345)'` (rejected in -p)
  turn 4  final text                                      input 1500, output 40, read 6000, creation 0

Streaming follows the Messages API SSE format: message_start, then per content block
content_block_start / content_block_delta (text_delta or input_json_delta) / content_block_stop,
then message_delta (stop_reason, cumulative usage) and message_stop.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

TOOL_TURN_USAGE = {
    "input_tokens": 1200,
    "output_tokens": 80,
    "cache_read_input_tokens": 5000,
    "cache_creation_input_tokens": 300,
}
FINAL_TURN_USAGE = {
    "input_tokens": 1500,
    "output_tokens": 40,
    "cache_read_input_tokens": 6000,
    "cache_creation_input_tokens": 0,
}
DEFAULT_MODEL = "claude-opus-5-5"


@dataclass(frozen=True)
class Turn:
    """One scripted assistant message: content blocks in the Messages API shape, plus its usage."""

    content: list[dict[str, Any]]
    usage: dict[str, int]

    @property
    def stop_reason(self) -> str:
        return "tool_use" if any(block["type"] == "tool_use" for block in self.content) else "end_turn"


def _tool_use(tool_id: str, name: str, tool_input: dict[str, str]) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def scripted_session(workdir: Path) -> list[Turn]:
    """The four-turn conversation of the captures, writing into `workdir`."""
    return [
        Turn(
            [
                _tool_use(
                    "toolu_mock_write_0001",
                    "Write",
                    {"file_path": str(workdir / "hello.txt"), "content": "hello\nworld\n"},
                )
            ],
            TOOL_TURN_USAGE,
        ),
        Turn(
            [
                _text("Now I'll run a command."),
                _tool_use("toolu_mock_bash_0002", "Bash", {"command": "echo hi", "description": "Print hi"}),
            ],
            TOOL_TURN_USAGE,
        ),
        Turn(
            [
                _tool_use(
                    "toolu_mock_bash_0003",
                    "Bash",
                    {"command": "python3 -c 'print(12345)'", "description": "Run python"},
                )
            ],
            TOOL_TURN_USAGE,
        ),
        Turn([_text("Done. I created hello.txt and ran echo hi.")], FINAL_TURN_USAGE),
    ]


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def _block_events(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    """content_block_start/delta.../stop for one block; tool input arrives as JSON fragments."""
    if block["type"] == "text":
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": part} for part in _halves(block["text"])]
    else:
        start = {**block, "input": {}}
        deltas = [
            {"type": "input_json_delta", "partial_json": part}
            for part in ["", *_halves(json.dumps(block["input"]))]
        ]
    return [
        {"type": "content_block_start", "index": index, "content_block": start},
        *({"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def _halves(text: str) -> list[str]:
    middle = len(text) // 2
    return [text[:middle], text[middle:]]


def stream_body(turn: Turn, *, message_id: str, model: str) -> bytes:
    """The whole SSE response for one turn (sent at once: the client parses it incrementally anyway)."""
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                # As the real API does: output_tokens here is a first count, message_delta has the total.
                "usage": {**turn.usage, "output_tokens": 1},
            },
        },
        {"type": "ping"},
    ]
    for index, block in enumerate(turn.content):
        events.extend(_block_events(index, block))
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": turn.stop_reason, "stop_sequence": None},
            "usage": dict(turn.usage),
        }
    )
    events.append({"type": "message_stop"})
    return b"".join(_sse(event) for event in events)


def message_body(turn: Turn, *, message_id: str, model: str) -> bytes:
    """Non-streaming answer (`stream: false`); the CLI always streams, this is for completeness."""
    return json.dumps(
        {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": turn.content,
            "stop_reason": turn.stop_reason,
            "stop_sequence": None,
            "usage": dict(turn.usage),
        }
    ).encode()


@dataclass(frozen=True)
class Exchange:
    """What the stand-in saw, for failure messages: no request bodies (they hold the prompt)."""

    method: str
    path: str
    status: int
    turn: int | None = None


@dataclass
class AnthropicStandin:
    """Loopback Messages API server on port 0; use as a context manager, then point the CLI at `.url`."""

    workdir: Path
    turns: list[Turn] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.turns = self.turns or scripted_session(self.workdir)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="anthropic-standin", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> AnthropicStandin:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def turn_for(self, request: dict[str, Any]) -> int:
        """1-based turn: one more than the assistant messages already in the conversation.

        Past the end of the script the final turn is repeated, so a stray extra request still ends
        the session (and shows up as a fifth api_request instead of a hang).
        """
        done = sum(1 for message in request.get("messages", []) if message.get("role") == "assistant")
        return min(done + 1, len(self.turns))

    def record(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)

    def summary(self) -> str:
        with self._lock:
            return (
                "\n".join(
                    f"{e.method} {e.path} -> {e.status}" + (f" turn {e.turn}" if e.turn else "")
                    for e in self.exchanges
                )
                or "(no requests)"
            )


def _handler_for(standin: AnthropicStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_HEAD(self) -> None:  # the 2.1.19x clients probe `HEAD /` before the first request
            self._reply(200, b"", "text/plain", head=True)

        def do_GET(self) -> None:
            self._error(404, "not_found_error", f"no GET {self.path} here")

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                request = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            except ValueError:
                self._error(400, "invalid_request_error", "body is not JSON")
                return
            if path == "/v1/messages":
                self._messages(request)
            elif path == "/v1/messages/count_tokens":
                self._reply(
                    200,
                    json.dumps({"input_tokens": FINAL_TURN_USAGE["input_tokens"]}).encode(),
                    "application/json",
                )
            else:
                self._error(404, "not_found_error", f"no POST {path} here")

        def _messages(self, request: dict[str, Any]) -> None:
            turn_number = standin.turn_for(request)
            turn = standin.turns[turn_number - 1]
            message_id = f"msg_mock_{uuid.uuid4().hex[:24]}"
            model = request.get("model") or DEFAULT_MODEL
            if request.get("stream"):
                body = stream_body(turn, message_id=message_id, model=model)
                self._reply(200, body, "text/event-stream", turn=turn_number)
            else:
                body = message_body(turn, message_id=message_id, model=model)
                self._reply(200, body, "application/json", turn=turn_number)

        def _error(self, status: int, kind: str, message: str) -> None:
            body = json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
            self._reply(status, body, "application/json")

        def _reply(
            self, status: int, body: bytes, content_type: str, *, head: bool = False, turn: int | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.send_header("request-id", f"req_mock_{uuid.uuid4().hex[:20]}")
            self.end_headers()
            if not head:
                self.wfile.write(body)
            standin.record(Exchange(self.command, self.path, status, turn))

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass  # exchanges are recorded instead; stderr stays clean under pytest

    return Handler
