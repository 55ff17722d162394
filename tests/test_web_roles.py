"""The viewer role, crawled: records carrying a unique marker in every field that can hold what a
developer typed or pasted (prompt, tool parameters and input, error message, request and response
bodies, span attributes, status message and events) are ingested; then every page and every API route
the app has (listed from its own routers, each path parameter filled, CSV and JSON alike) is fetched
as a viewer, and no marker appears anywhere. The same crawl as admin finds every marker, so the
crawl reaches them; and every number a viewer gets equals the admin's. The pages, rendered in
Chromium for a viewer logged in through the form, show no marker either."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from ccmonitor.cli import main
from ccmonitor.config import Config
from ccmonitor.queries.panels import PANELS
from ccmonitor.queries.periods import REPORTS
from ccmonitor.web import api, pages
from otlp_builders import T0, event_request, kv
from test_web_browser import browser  # noqa: F401  (the module's Chromium fixture)

ADMIN = "admin-secret-for-the-crawl"
MARKERS = {field: f"zqmark{field.replace('_', '')}zq" for field in (
    "prompt", "tool_parameters", "tool_input", "error", "request_body", "response_body", "span_command",
    "span_file", "span_status", "span_event", "custom_text")}
RANGE = {"range": "custom", "from": "2026-11-01T00:00:00Z", "to": "2026-12-31T00:00:00Z"}
SESSION, PROMPT = "sess-crawl", "prompt-crawl"
PB = {"content-type": "application/x-protobuf"}


def events() -> list[dict[str, Any]]:
    common = {"session.id": SESSION, "prompt.id": PROMPT, "user.email": "ana@example.com"}
    m = MARKERS
    return [
        {**common, "event.name": "user_prompt", "prompt": f"please {m['prompt']}", "prompt_length": 20, "_time": T0},
        {**common, "event.name": "tool_decision", "tool_name": "Bash", "decision": "accept", "source": "config",
         "tool_use_id": "t1", "_time": T0 + 1_000_000},
        {**common, "event.name": "tool_result", "tool_name": "Bash", "success": "true", "duration_ms": 12,
         "tool_use_id": "t1", "tool_parameters": json.dumps({"full_command": f"echo {m['tool_parameters']}"}),
         "tool_input": json.dumps({"file_path": "/x", "content": m["tool_input"]}), "_time": T0 + 2_000_000},
        {**common, "event.name": "api_request", "model": "claude-sonnet-4-5", "cost_usd": 0.25, "input_tokens": 10,
         "output_tokens": 20, "duration_ms": 900, "note": m["custom_text"], "_time": T0 + 3_000_000},
        {**common, "event.name": "api_error", "model": "claude-sonnet-4-5", "status_code": 500,
         "error": f"upstream {m['error']}", "attempt": 1, "duration_ms": 50, "_time": T0 + 4_000_000},
        {**common, "event.name": "api_request_body", "body": json.dumps({"messages": [m["request_body"]]}),
         "body_length": 30, "_time": T0 + 5_000_000},
        {**common, "event.name": "api_response_body", "body": json.dumps({"content": [m["response_body"]]}),
         "body_length": 30, "_time": T0 + 6_000_000},
    ]


def spans() -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([kv("service.name", "claude-code")])
    ss = rs.scope_spans.add()
    trace = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    for i, (name, attrs) in enumerate((
            ("claude_code.interaction", {"session.id": SESSION, "prompt.id": PROMPT}),
            ("claude_code.tool", {"session.id": SESSION, "tool_name": "Bash",
                                  "full_command": f"rm {MARKERS['span_command']}",
                                  "file_path": f"/tmp/{MARKERS['span_file']}"}))):
        span = ss.spans.add(trace_id=trace, span_id=bytes([i + 1] * 8), name=name, kind=1,
                            start_time_unix_nano=T0 + i, end_time_unix_nano=T0 + 5_000_000)
        if i:
            span.parent_span_id = bytes([1] * 8)
            span.status.message = f"failed {MARKERS['span_status']}"
            span.status.code = 2
            event = span.events.add(name="tool.output", time_unix_nano=T0 + 2)
            event.attributes.extend([kv("output", MARKERS["span_event"])])
        span.attributes.extend(kv(k, v) for k, v in attrs.items())
    return req


def filled(path: str) -> list[str]:
    """Every concrete URL of a route path: each parameter replaced by each value it can take."""
    names = re.findall(r"{(\w+)[^}]*}", path)
    if not names:
        return [path]
    values = {"session_id": [SESSION], "prompt_id": [PROMPT]}
    name = names[0]
    if name == "name":
        choices = list(PANELS) if "/panels/" in path else list(REPORTS) if "/reports/" in path else None
    else:
        choices = values.get(name)
    assert choices is not None, f"the crawl does not know how to fill {{{name}}} in {path}: teach it"
    return [u for c in choices for u in filled(re.sub(r"{" + name + r"[^}]*}", c, path, count=1))]


def urls() -> list[str]:
    config = Config.load({"db": "unused.db"}, env={})
    page_paths = [r.path for r in pages.routes(config)]  # type: ignore[attr-defined]
    api_paths = ["/api" + r.path for r in api.app(None).routes]  # type: ignore[arg-type,attr-defined]
    return [u for p in (*page_paths, *api_paths, "/stats") for u in filled(p)]


def crawl(server: Any, headers: dict[str, str]) -> dict[str, httpx.Response]:
    out = {}
    for url in urls():
        for params in (RANGE, {**RANGE, "format": "csv"}):
            r = httpx.get(server.url(url), params=params, headers=headers, timeout=30)
            out[f"{url}?{'csv' if 'format' in params else 'json'}"] = r
    return out


@pytest.fixture
def filled_server(server_factory: Any, db_target: Path | str) -> tuple[Any, str]:
    server = server_factory(auth_token=ADMIN, redact="off")
    bearer = {**PB, "authorization": f"Bearer {ADMIN}"}
    for signal, body in (("logs", event_request(events()).SerializeToString()),
                         ("traces", spans().SerializeToString())):
        r = httpx.post(f"http://127.0.0.1:{server.http_port}/v1/{signal}", content=body, headers=bearer, timeout=30)
        assert r.status_code == 200, r.text
    result = CliRunner().invoke(main, ["token", "create", "lead", "--role", "viewer", "--db", str(db_target)])
    assert result.exit_code == 0, result.output
    return server, result.stdout.strip()


def test_a_viewer_finds_no_marker_on_any_route(filled_server: tuple[Any, str]) -> None:
    server, viewer = filled_server
    as_admin = crawl(server, {"authorization": f"Bearer {ADMIN}"})
    seen = {field for field, marker in MARKERS.items() if any(marker in r.text for r in as_admin.values())}
    # the crawl reaches the text: an admin sees prompts, tool parameters, errors and span details
    assert {"prompt", "tool_parameters", "error", "span_command", "span_file"} <= seen, seen
    as_viewer = crawl(server, {"authorization": f"Bearer {viewer}"})
    for url, r in as_viewer.items():
        assert r.status_code in (200, 403, 404), (url, r.status_code)
        leaked = [field for field, marker in MARKERS.items() if marker in r.text]
        assert not leaked, (url, leaked)
    assert as_viewer[f"/api/prompts/{PROMPT}?json"].status_code == 403


def test_a_viewer_sees_every_number(filled_server: tuple[Any, str]) -> None:
    server, viewer = filled_server
    for path in ("/api/overview", f"/api/sessions/{SESSION}", "/api/sessions", "/stats"):
        admin = httpx.get(server.url(path), params=RANGE, headers={"authorization": f"Bearer {ADMIN}"}, timeout=30)
        seen = httpx.get(server.url(path), params=RANGE, headers={"authorization": f"Bearer {viewer}"}, timeout=30)
        assert seen.status_code == admin.status_code == 200
        assert numbers(seen.json()) == numbers(admin.json()) and numbers(admin.json()), path


def numbers(doc: Any, prefix: str = "") -> dict[str, float]:
    """Every number in a JSON document by its path (times and uptimes excluded: they move)."""
    out: dict[str, float] = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            out |= numbers(v, f"{prefix}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out |= numbers(v, f"{prefix}[{i}]")
    elif isinstance(doc, int | float) and not isinstance(doc, bool) and "since_start" not in prefix \
            and "uptime" not in prefix and "bytes" not in prefix:
        out[prefix] = doc
    return out


def test_a_viewer_in_chromium_sees_no_marker_on_any_page(filled_server: tuple[Any, str], browser: Any) -> None:  # noqa: F811
    """The pages as rendered (their scripts fill them from the JSON twins): logged in through the form
    as a viewer, no page shows a marker; as admin, the session page shows the prompt's."""
    server, viewer = filled_server
    query = "?" + "&".join(f"{k}={v}" for k, v in RANGE.items())
    pages_ = ["/", "/sessions", f"/sessions/{SESSION}", "/team"]

    def rendered(token: str) -> dict[str, str]:
        browser.delete_all_cookies()
        browser.get(server.url("/login"))
        browser.find_element(By.ID, "login-token").send_keys(token)
        browser.find_element(By.ID, "login-submit").click()
        WebDriverWait(browser, 20).until(lambda d: d.current_url == server.url("/"))
        out = {}
        for page in pages_:
            browser.get(server.url(page + query))
            WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.body.dataset.loads") == "1")
            out[page] = browser.execute_script("return document.body.innerText")
        return out

    admin = rendered(ADMIN)
    assert MARKERS["prompt"] in admin[f"/sessions/{SESSION}"]  # the pages do show the text to an admin
    for page, text in rendered(viewer).items():
        leaked = [field for field, marker in MARKERS.items() if marker in text]
        assert not leaked, (page, leaked)
    browser.get(server.url(f"/sessions/{SESSION}{query}"))
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.body.dataset.loads") == "1")
    assert "hidden from viewers" in browser.execute_script("return document.body.innerText")
