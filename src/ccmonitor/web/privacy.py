"""What a viewer may not read: text that can hold what a developer typed or pasted (prompts, tool
parameters, error messages, request and response bodies, span attributes and messages). Every number
stays.

The rule is applied to the answer, not in each query: every JSON answer under /api/ a viewer gets
passes through `scrub`, which blanks the values of PRIVATE_KEYS wherever they appear, so a route or
a field added later is covered unless it invents a new key for such text (the role crawl in
tests/test_web_roles.py plants unique markers in every such field and looks for them on every
route). Routes that exist only to show such text (a prompt's full text) are refused outright
(PRIVATE_ROUTES, 403). HTML pages are shells that their scripts fill from this same JSON.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ccmonitor.queries import encoding

# Keys whose values are text a developer wrote or pasted; their values become null for a viewer.
PRIVATE_KEYS = frozenset({
    "prompt", "prompt_text", "preview", "user_prompt",  # prompt text and its preview
    "tool_parameters", "full_command", "file_path", "command_line",  # tool input
    "error", "status_message", "error_message",  # error messages (counts are other keys)
    "body", "request_body", "response_body", "span_events", "custom_attributes",
})
# A span's or step's attributes: only these pass (numbers, names chosen by Claude Code, not text typed).
SAFE_ATTRIBUTES = frozenset({"model", "tool_name", "input_tokens", "output_tokens", "cache_read_tokens",
                             "cache_creation_tokens", "ttft_ms", "attempt", "success", "decision", "source",
                             "stop_reason"})
PRIVATE_ROUTES = ("/api/prompts/",)


def scrub(value: Any) -> Any:
    """The value with every private field blanked, at any depth."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in PRIVATE_KEYS and not (key == "error" and isinstance(item, dict)):
                out[key] = None  # an API error's own {"code", "message"} stays: it is about the request
            elif key == "attributes" and isinstance(item, dict) and not _is_attribute_catalogue(item):
                out[key] = {k: v for k, v in item.items() if k in SAFE_ATTRIBUTES}
            else:
                out[key] = scrub(item)
        return out
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return value


def _is_attribute_catalogue(item: dict[str, Any]) -> bool:
    """The facets' {key: [values]} of custom resource attributes (team names, ...): filters, not text."""
    return all(isinstance(v, list) for v in item.values())


class ViewerFilter:
    """Wraps one response of a viewer's request: a JSON body is scrubbed before it leaves."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            await _send_scrubbed(start, b"".join(chunks), send)

        await self.app(scope, receive, capture)


async def _send_scrubbed(start: Message, body: bytes, send: Send) -> None:
    headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    if content_type.startswith(b"application/json") and body:
        body = encoding.dumps(scrub(json.loads(body))).encode()
    headers.append((b"content-length", str(len(body)).encode()))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body})
