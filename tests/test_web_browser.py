"""The dashboard in a real browser (headless Chromium + chromedriver, Debian packages `chromium` and
`chromium-driver`) against a server filled by replaying the captures: every panel renders, shown
values equal the API's, filters change the numbers and live in the URL, the session page tells the
captured prompt's story, and a prompt full of HTML stays inert text. Also saves docs/dashboard.png.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from capture import STANDARD, replay_scenario
from ccmonitor.demo import demo_command
from conftest import BACKENDS, RunningServer, make_config, module_database
from otlp_builders import event_request

pytestmark = pytest.mark.browser
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,1000")
HOUR = "range=custom&from=2026-11-27T16:00:00.000Z&to=2026-11-27T17:00:00.000Z"
XSS = '<script>document.body.dataset.xss="script"</script><img src=x onerror="document.body.dataset.xss=1">'
XSS_TIME = 1_795_797_000_000_000_000  # 2026-11-27 16:30 UTC, inside HOUR
DOCS = Path(__file__).parent.parent / "docs"


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: the browser tests need Chromium; install with: {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="ccmonitor-chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The replayed captures plus one session whose prompt and tool parameters are HTML, per backend."""
    db = module_database(request, tmp_path_factory, request.param, "browser")
    running = RunningServer(make_config(db))
    for scenario in (*STANDARD, "old-client-2.1.197-http-protobuf", "api-error-500"):
        replay_scenario(scenario, running.ports)
    common = {"session.id": "xss-session", "prompt.id": "xss-prompt", "user.id": "xss-user"}
    request = event_request([
        {**common, "event.name": "user_prompt", "_time": XSS_TIME, "prompt": XSS, "prompt_length": len(XSS)},
        {**common, "event.name": "tool_decision", "_time": XSS_TIME + 10**9, "tool_name": "Bash", "decision": "accept",
         "source": "config", "tool_use_id": "t1", "tool_parameters": json.dumps({"full_command": XSS})},
    ], resource={"service.name": "claude-code", "team": "platform"})
    r = httpx.post(f"http://127.0.0.1:{running.http_port}/v1/logs", content=request.SerializeToString(),
                   headers={"content-type": "application/x-protobuf"}, timeout=10)
    assert r.status_code == 200
    yield running
    running.stop()


def open_page(browser: webdriver.Chrome, url: str) -> None:
    browser.get("about:blank")
    browser.get_log("browser")  # drop what an earlier test's page logged after its server stopped
    browser.get(url)
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.body.dataset.loads") == "1")


def wait_reloaded(browser: webdriver.Chrome, before: str) -> None:
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.body.dataset.loads") != before)


def loads(browser: webdriver.Chrome) -> str:
    return browser.execute_script("return document.body.dataset.loads")


def tile(browser: webdriver.Chrome, name: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, f'[data-tile="{name}"] .value').get_attribute("data-value")


def console_errors(browser: webdriver.Chrome) -> list[dict[str, Any]]:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_every_panel_renders_and_shows_the_api_values(browser: webdriver.Chrome, server: RunningServer) -> None:
    open_page(browser, server.url(f"/?{HOUR}"))
    api = httpx.get(server.url(f"/api/overview?{HOUR}"), timeout=10).json()["panels"]
    for name, value in api["tiles"].items():
        assert tile(browser, name) == ("" if value is None else json.dumps(value)), name
    assert browser.find_element(By.CSS_SELECTOR, '[data-tile="input_tokens"] .value').text == "61,200"
    for chart in ("tokens", "cost", "lines", "active_time"):
        sums = browser.execute_script(
            "return Object.fromEntries(Chart.getChart(arguments[0]).data.datasets.map("
            "d => [d.label, d.data.reduce((a, b) => a + b, 0)]))", browser.find_element(By.ID, f"chart-{chart}"))
        want = {name: sum(values) for name, values in api[chart]["series"].items()}
        if chart == "tokens":
            want = dict(zip(["Input", "Output", "Cache read", "Cache creation"], want.values(), strict=True))
        assert sums == pytest.approx(want), chart
    tools = browser.execute_script("return Chart.getChart(arguments[0]).data.datasets[0].data",
                                   browser.find_element(By.ID, "chart-tools"))
    assert tools == [t["uses"] for t in api["tools"]]
    for panel, rows in (("models", api["models"]), ("tools", api["tools"]), ("prompts", api["prompts"]),
                        ("requests", api["requests"]), ("errors", api["errors"])):
        shown = browser.find_elements(By.CSS_SELECTOR, f'[data-panel="{panel}"] tbody tr')
        assert len(shown) == len(rows) > 0, panel
    first_model = browser.find_element(By.CSS_SELECTOR, '[data-panel="models"] tbody tr td[data-field="model"]')
    assert first_model.text == api["models"][0]["model"]
    error = browser.find_element(By.CSS_SELECTOR, '[data-panel="errors"] td[data-field="error"]').text
    assert error == api["errors"][0]["error"] == "Mock api_error (HTTP 500)"
    decisions = browser.find_element(By.CSS_SELECTOR, '[data-panel="edit_decisions"] td[data-field="tool-Write"]')
    assert decisions.text == "12 / 0"
    assert browser.find_element(By.ID, "empty").get_attribute("hidden") is not None
    assert not console_errors(browser)  # includes Content-Security-Policy violations


def test_filters_change_the_numbers_and_live_in_the_url(browser: webdriver.Chrome, server: RunningServer) -> None:
    open_page(browser, server.url(f"/?{HOUR}"))
    assert tile(browser, "input_tokens") == "61200"
    before = loads(browser)
    Select(browser.find_element(By.ID, "f-model")).select_by_value("claude-opus-5-5")
    wait_reloaded(browser, before)
    assert tile(browser, "input_tokens") == str(11 * 5100)
    assert "model=claude-opus-5-5" in browser.current_url
    before = loads(browser)
    Select(browser.find_element(By.CSS_SELECTOR, '[data-attribute="team"]')).select_by_value("platform")
    wait_reloaded(browser, before)
    assert "attr.team=platform" in browser.current_url
    shared = browser.current_url
    open_page(browser, shared)  # the URL alone restores the view
    model = Select(browser.find_element(By.ID, "f-model")).first_selected_option
    assert model.get_attribute("value") == "claude-opus-5-5"
    assert tile(browser, "input_tokens") == str(11 * 5100)
    before = loads(browser)
    Select(browser.find_element(By.ID, "f-range")).select_by_value("1h")
    wait_reloaded(browser, before)
    assert "range=1h" in browser.current_url and "from=" not in browser.current_url


def test_custom_range_in_the_browser_zone(browser: webdriver.Chrome, server: RunningServer) -> None:
    browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "America/New_York"})
    try:
        open_page(browser, server.url("/"))
        Select(browser.find_element(By.ID, "f-range")).select_by_value("custom")
        for field, value in (("f-from", "2026-11-27T11:00"), ("f-to", "2026-11-27T12:00")):  # 16:00-17:00 UTC
            browser.execute_script("arguments[0].value = arguments[1]", browser.find_element(By.ID, field), value)
        before = loads(browser)
        browser.find_element(By.ID, "f-apply").click()
        wait_reloaded(browser, before)
        assert "from=2026-11-27T16%3A00%3A00.000Z" in browser.current_url
        assert tile(browser, "sessions") == "13"
        assert browser.find_element(By.ID, "tz").text == "America/New_York"
        newest = browser.find_element(By.CSS_SELECTOR, '[data-panel="requests"] td[data-field="timestamp"]').text
        assert "11:21" in newest  # 16:21 UTC shown as 11:21 in New York
    finally:
        browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "UTC"})


def test_session_page_tells_the_captured_prompt(browser: webdriver.Chrome, server: RunningServer) -> None:
    session_id = next(s["session_id"] for s in httpx.get(server.url(f"/api/sessions?{HOUR}"), timeout=10).json()
                      ["sessions"] if s["api_requests"] == 4 and s["start"].startswith("2026-11-27T16:21"))
    open_page(browser, server.url(f"/sessions?{HOUR}"))
    browser.find_element(By.CSS_SELECTOR, f'tr[data-session="{session_id}"] a').click()
    WebDriverWait(browser, 20).until(lambda d: "/sessions/" in d.current_url and loads(d) == "1")
    card = browser.find_element(By.CSS_SELECTOR, "article.prompt:not(#preamble)")
    assert card.find_element(By.CSS_SELECTOR, "pre.prompt-full").text == "create hello.txt then run echo hi"
    assert len(card.find_elements(By.CSS_SELECTOR, 'li[data-kind="request"]')) == 4
    tools = [li.get_attribute("data-tool") for li in card.find_elements(By.CSS_SELECTOR, 'li[data-kind="tool"]')]
    assert tools == ["Write", "Bash", "Bash"]
    assert "rejected" in card.find_elements(By.CSS_SELECTOR, 'li[data-kind="tool"]')[2].text
    card.find_element(By.CSS_SELECTOR, "details.spans summary").click()
    spans = card.find_elements(By.CSS_SELECTOR, "details.spans li")
    assert len(spans) == 13 and spans[0].text.startswith("interaction")
    assert browser.find_element(By.CSS_SELECTOR, '[data-tile="api_requests"] .value').text == "4"


def test_html_in_prompts_and_tool_parameters_is_inert(browser: webdriver.Chrome, server: RunningServer) -> None:
    for url in (f"/?{HOUR}", "/sessions/xss-session"):
        open_page(browser, server.url(url))
        assert browser.execute_script("return document.body.dataset.xss") is None
        assert browser.execute_script("return document.querySelectorAll('img').length") == 0
        assert browser.execute_script("return document.scripts.length") == 2  # chart library + page module
        assert "<script>document.body.dataset.xss" in browser.find_element(By.TAG_NAME, "main").text
    params = browser.find_element(By.CSS_SELECTOR, "pre.params").text
    assert '<img src=x onerror=\\"document.body.dataset.xss=1\\">' in params


def test_empty_state(browser: webdriver.Chrome, db_target: Path | str) -> None:
    running = RunningServer(make_config(db_target))
    try:
        open_page(browser, running.url("/"))
        empty = browser.find_element(By.ID, "empty")
        assert empty.is_displayed()
        assert "export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:" in empty.text
        assert "export CLAUDE_CODE_ENABLE_TELEMETRY=1" in empty.text
    finally:
        running.stop()


def test_auto_refresh_picks_up_new_data(browser: webdriver.Chrome, db_target: Path | str) -> None:
    running = RunningServer(make_config(db_target))
    try:
        open_page(browser, running.url("/?refresh=10"))
        assert Select(browser.find_element(By.ID, "f-refresh")).first_selected_option.text == "10 s"
        assert tile(browser, "api_requests") == "0"
        a_minute_ago = time.time_ns() - 60 * 10**9
        request = event_request([{"event.name": "api_request", "session.id": "live", "model": "m",
                                  "_time": a_minute_ago}])
        httpx.post(f"http://127.0.0.1:{running.http_port}/v1/logs", content=request.SerializeToString(),
                   headers={"content-type": "application/x-protobuf"}, timeout=10)
        WebDriverWait(browser, 25).until(lambda d: tile(d, "api_requests") == "1")
    finally:
        browser.get("about:blank")  # its 10 s refresh must not fire at the stopped server
        running.stop()


def screenshot(browser: webdriver.Chrome, db: Path | str) -> bytes:
    """The overview of the demo week in `db`, the whole page (the status line, which tells the time, blanked)."""
    running = RunningServer(make_config(db))
    try:
        open_page(browser, running.url("/?range=custom&from=2026-11-20T18:00:00.000Z&to=2026-11-27T18:00:00.000Z"))
        browser.execute_script("document.getElementById('status').textContent = ''")
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1400, min(height, 3000))
        assert not console_errors(browser)
        return browser.get_screenshot_as_png()
    finally:
        browser.set_window_size(1400, 1000)
        running.stop()


def test_overview_screenshot_is_the_same_on_both_backends(browser: webdriver.Chrome, tmp_path: Path,
                                                         postgres_url: str) -> None:
    """docs/dashboard.png: a fixed demo week (20 users), so the picture only changes with the UI; the same
    history in PostgreSQL shows the same picture, pixel for pixel."""
    pictures = []
    for db in (tmp_path / "demo.db", postgres_url):
        result = CliRunner().invoke(demo_command, ["--users", "20", "--days", "7", "--end", "2026-11-27T18:00:00Z",
                                                   "--db", str(db)])
        assert result.exit_code == 0, result.output
        pictures.append(screenshot(browser, db))
    DOCS.mkdir(exist_ok=True)
    (DOCS / "dashboard.png").write_bytes(pictures[0])
    if pictures[1] != pictures[0]:
        (tmp_path / "dashboard-postgres.png").write_bytes(pictures[1])
        raise AssertionError(f"the PostgreSQL overview differs from SQLite's: {tmp_path / 'dashboard-postgres.png'}")
