"""The Team page in a real browser (headless Chromium, the `browser` fixture of test_web_browser) over a
demo history with teams and departments, per backend: shown values equal /api/team's, sorting works,
group-by switches and lives in the URL, and the CSV link downloads the numbers the table shows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from ccmonitor.demo import demo_command
from conftest import BACKENDS, RunningServer, make_config, module_database
from test_web_browser import browser, console_errors, loads, open_page, wait_reloaded  # noqa: F401

pytestmark = pytest.mark.browser
END = "2026-11-27T12:00:00Z"
# 3 days 5 h 17 min inside the 4-day history: both ends cut through hours
RANGE = "range=custom&from=2026-11-24T06:43:00.000Z&to=2026-11-27T12:00:00.000Z"


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    db = module_database(request, tmp_path_factory, request.param, "team")
    result = CliRunner().invoke(demo_command, ["--users", "6", "--days", "4", "--end", END, "--traces", "0",
                                               "--db", str(db)])
    assert result.exit_code == 0, result.output
    running = RunningServer(make_config(db))
    yield running
    running.stop()


def api(server: RunningServer, query: str) -> dict[str, Any]:
    r = httpx.get(server.url(f"/api/team?{query}"), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def shown(browser: webdriver.Chrome, field: str) -> list[str]:  # noqa: F811
    return [td.get_attribute("data-value") for td in browser.find_elements(
        By.CSS_SELECTOR, f'[data-panel="leaderboard"] tbody td[data-field="{field}"]')]


def number(text: str) -> float | None:
    return None if text == "" else float(text)


def test_team_page_shows_the_api_values(browser: webdriver.Chrome, server: RunningServer) -> None:  # noqa: F811
    open_page(browser, server.url(f"/team?{RANGE}"))
    doc = api(server, RANGE)
    users = doc["leaderboard"]["users"]
    assert len(users) == 6 and shown(browser, "user") == [u["user"] for u in users]
    for field in ("cost_usd", "tokens", "sessions", "active_days", "cost_per_active_day", "lines_added",
                  "accept_rate", "commits", "pull_requests"):
        assert [number(v) for v in shown(browser, field)] == [u[field] for u in users], field
    assert shown(browser, "last_seen") == [u["last_seen"] for u in users]
    first = browser.find_element(By.CSS_SELECTOR, '[data-panel="leaderboard"] tbody td[data-field="cost_usd"]')
    assert first.text.startswith("$") and first.text != "$0.0000"
    for key in ("dau", "wau", "mau"):
        tile = browser.find_element(By.CSS_SELECTOR, f'[data-tile="{key}"] .value')
        assert int(tile.get_attribute("data-value")) == doc["adoption"][key]["users"]
    versions = browser.find_elements(By.CSS_SELECTOR, '[data-panel="versions"] tbody tr')
    assert len(versions) == len(doc["adoption"]["versions"]) > 0
    chart = browser.execute_script("return Chart.getChart(arguments[0]).data.datasets.map("
                                   "d => d.data.reduce((a, b) => a + b, 0))",
                                   browser.find_element(By.ID, "chart-team-cost"))
    assert sum(chart) == pytest.approx(doc["leaderboard"]["total"]["cost_usd"], abs=1e-4)
    assert browser.find_element(By.ID, "groups").get_attribute("hidden") is not None  # no group chosen
    assert not console_errors(browser)  # includes Content-Security-Policy violations


def test_sorting(browser: webdriver.Chrome, server: RunningServer) -> None:  # noqa: F811
    open_page(browser, server.url(f"/team?{RANGE}"))
    costs = [float(v) for v in shown(browser, "cost_usd")]
    assert costs == sorted(costs, reverse=True) and len(set(costs)) > 1
    header = browser.find_element(By.CSS_SELECTOR, '[data-panel="leaderboard"] th[data-sort="tokens"]')
    header.click()
    tokens = [float(v) for v in shown(browser, "tokens")]
    assert tokens == sorted(tokens, reverse=True) and "sort=-tokens" in browser.current_url
    browser.find_element(By.CSS_SELECTOR, '[data-panel="leaderboard"] th[data-sort="tokens"]').click()
    assert [float(v) for v in shown(browser, "tokens")] == sorted(tokens)
    browser.find_element(By.CSS_SELECTOR, '[data-panel="leaderboard"] th[data-sort="user"]').click()
    names = shown(browser, "user")
    assert names == sorted(names)


def test_group_by_switches_and_the_csv_link_has_the_shown_numbers(browser: webdriver.Chrome,  # noqa: F811
                                                                   server: RunningServer) -> None:
    open_page(browser, server.url(f"/team?{RANGE}"))
    WebDriverWait(browser, 20).until(lambda d: len(Select(d.find_element(By.ID, "t-by")).options) > 1)
    for key in ("team", "department"):
        before = loads(browser)
        Select(browser.find_element(By.ID, "t-by")).select_by_value(key)
        wait_reloaded(browser, before)
        assert f"by={key}" in browser.current_url
        doc = api(server, f"{RANGE}&by={key}")
        groups = doc["leaderboard"]["groups"]
        cards = [c.get_attribute("data-group") for c in browser.find_elements(By.CSS_SELECTOR,
                                                                              "#groups [data-group]")]
        assert cards == [g["group"] for g in groups] and len(groups) > 1, key
        series = browser.execute_script("return Chart.getChart(arguments[0]).data.datasets.map(d => d.label)",
                                        browser.find_element(By.ID, "chart-team-cost"))
        assert sorted(series) == sorted(g["group"] for g in groups)
    Select(browser.find_element(By.ID, "t-rows")).select_by_value("groups")
    assert shown(browser, "group") == [g["group"] for g in groups] and "rows=groups" in browser.current_url
    href = browser.find_element(By.ID, "t-csv").get_attribute("href")
    text = browser.execute_async_script(
        "fetch(arguments[0]).then(r => r.text()).then(arguments[arguments.length - 1])", href)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["group"] for r in rows] == shown(browser, "group")
    for field in ("cost_usd", "tokens", "sessions", "active_days", "accept_rate", "commits"):
        assert [number(r[field]) for r in rows] == [number(v) for v in shown(browser, field)], field
    assert not console_errors(browser)
