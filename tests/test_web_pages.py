"""The HTML pages: served with a strict Content-Security-Policy, every script and style local (no
CDN), the vendored chart library as documented, path input escaped, and the empty-state lines."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccmonitor.web.pages import setup_lines
from conftest import make_config

STATIC = Path(__file__).parent.parent / "src" / "ccmonitor" / "web" / "static"


@pytest.mark.parametrize(("path", "twin"), [
    ("/", "/api/overview"), ("/sessions", "/api/sessions"), ("/sessions/abc", "/api/sessions/abc")])
def test_pages_and_their_json_twins(server: Any, path: str, twin: str) -> None:
    r = httpx.get(server.url(path), timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert f'href="{twin}" id="twin"' in r.text
    for ref in re.findall(r'(?:src|href)="([^"]+)"', r.text):
        assert ref.startswith(("/", "data:")), ref  # nothing from another origin
        if ref.startswith("/static/"):
            assert httpx.get(server.url(ref), timeout=10).status_code == 200, ref


def test_path_input_is_escaped(server: Any) -> None:
    r = httpx.get(server.url("/sessions/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"), timeout=10)
    assert r.status_code == 200
    assert "<img src=x" not in r.text and "&lt;img src=x onerror=alert(1)&gt;" in r.text


def test_empty_state_tells_how_to_point_claude_code_here(server: Any) -> None:
    html = httpx.get(server.url("/"), timeout=10).text
    for line in ("CLAUDE_CODE_ENABLE_TELEMETRY=1", "OTEL_METRICS_EXPORTER=otlp", "OTEL_LOGS_EXPORTER=otlp",
                 "OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:"):
        assert f"export {line}" in html
    assert "ccmonitor configure" in html


def test_setup_lines_follow_the_config(tmp_path: Path) -> None:
    config = make_config(tmp_path / "x.db").replace(host="10.0.0.5", grpc_port=4317, auth_token="s3cret")
    lines = setup_lines(config)
    assert "OTEL_EXPORTER_OTLP_ENDPOINT=http://10.0.0.5:4317" in lines
    assert not [line for line in lines if "s3cret" in line]  # never print the secret itself
    assert setup_lines(config.replace(host="0.0.0.0"))[-2].endswith("//localhost:4317")


def test_prompt_privacy_note(server_factory: Any) -> None:
    assert 'id="prompts-off"' in httpx.get(server_factory(store_prompts=False).url("/"), timeout=10).text


def test_scripts_never_insert_html() -> None:
    for script in STATIC.glob("*.js"):
        text = script.read_text()
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", text), script.name


def test_vendored_chart_library_matches_its_note() -> None:
    note = (STATIC / "vendor" / "README.md").read_text()
    digest = hashlib.sha256((STATIC / "vendor" / "chart.umd.min.js").read_bytes()).hexdigest()
    assert digest in note
    version = re.search(r"\| `chart.umd.min.js` \| .*? \| ([0-9.]+) \|", note).group(1)
    assert (STATIC / "vendor" / "chart.umd.min.js").read_text()[:60].count(f"Chart.js v{version}") == 1
    assert (STATIC / "vendor" / "chart.js.LICENSE.md").exists()
