"""The dashboard's login (web/login.py, web/auth.py) on a real server: a token typed into /login
becomes a signed, HttpOnly, SameSite=Strict session cookie; the form and every state-changing request
need the CSRF token; a revoked token ends its sessions at once; and in real Chromium a viewer logs in
through the form, sees the dashboard fill, and logs out."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from ccmonitor.cli import main
from test_web_browser import browser  # noqa: F401  (the module's Chromium fixture)

ADMIN = "admin-token-for-login"


def create(db: Path | str, name: str, role: str) -> str:
    result = CliRunner().invoke(main, ["token", "create", name, "--role", role, "--db", str(db)])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def client(server: Any) -> httpx.Client:
    return httpx.Client(base_url=server.url(), timeout=30, follow_redirects=False)


def log_in(c: httpx.Client, token: str, next_path: str = "/") -> httpx.Response:
    form = c.get("/login", params={"next": next_path})
    assert form.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    return c.post("/login", data={"token": token, "csrf": csrf.group(1), "next": next_path})


@pytest.fixture
def guarded(server_factory: Any, db_target: Path | str) -> tuple[Any, Path | str]:
    return server_factory(auth_token=ADMIN), db_target


def test_a_login_sets_a_strict_http_only_cookie_that_opens_the_dashboard(guarded: Any) -> None:
    server, db = guarded
    viewer = create(db, "lead", "viewer")
    with client(server) as c:
        r = log_in(c, viewer, "/sessions?range=7d")
        assert r.status_code == 303 and r.headers["location"] == "/sessions?range=7d"
        cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("ccmonitor_session="))
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # no TLS here; under --tls-cert it is Secure
        assert viewer not in cookie  # the cookie names the token, never holds it
        assert c.get("/").status_code == 200 and c.get("/api/overview").status_code == 200
        assert c.get("/api/prompts/x").status_code == 403  # a viewer's session is a viewer


@pytest.mark.parametrize("who,status,words", [
    ("ingest", 403, "only send telemetry"), ("wrong", 401, "does not open"), ("empty", 401, "does not open")])
def test_tokens_that_may_not_log_in_are_told_why(guarded: Any, who: str, status: int, words: str) -> None:
    server, db = guarded
    token = {"ingest": create(db, "laptop", "ingest"), "wrong": "ccm_nope", "empty": ""}[who]
    with client(server) as c:
        r = log_in(c, token)
        assert r.status_code == status and words in r.text
        assert not any(v.startswith("ccmonitor_session=") and "Max-Age=0" not in v
                       for v in r.headers.get_list("set-cookie"))
        assert c.get("/").status_code == 303


def test_the_login_form_needs_its_csrf_value(guarded: Any) -> None:
    server, _ = guarded
    with client(server) as c:
        c.get("/login")
        r = c.post("/login", data={"token": ADMIN, "csrf": "forged", "next": "/"})
        assert r.status_code == 403 and "expired" in r.text
    with client(server) as fresh:  # no login cookie at all (a cross-site form)
        r = fresh.post("/login", data={"token": ADMIN, "csrf": "x", "next": "/"})
        assert r.status_code == 403


def test_next_never_leaves_the_site(guarded: Any) -> None:
    server, _ = guarded
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        with client(server) as c:
            assert log_in(c, ADMIN, target).headers["location"] == "/"


def test_state_changing_requests_need_the_csrf_token(guarded: Any) -> None:
    server, _ = guarded
    with client(server) as c:
        assert log_in(c, ADMIN).status_code == 303
        assert c.post("/api/overview").status_code == 403  # cookie, no X-CSRF-Token
        page = c.get("/")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None, "the page carries its session's CSRF token (the log-out form)"
        assert c.post("/api/overview", headers={"x-csrf-token": csrf.group(1)}).status_code == 405  # let through
        assert c.post("/logout", data={"csrf": "forged"}).status_code == 403
        out = c.post("/logout", data={"csrf": csrf.group(1)})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert c.get("/").status_code == 303
    basic = httpx.post(server.url("/api/overview"), auth=("me", ADMIN), timeout=30)
    assert basic.status_code == 403  # Basic credentials (resent by browsers) may only read
    bearer = httpx.post(server.url("/api/overview"), headers={"authorization": f"Bearer {ADMIN}"}, timeout=30)
    assert bearer.status_code == 405


def test_revoking_a_token_ends_its_sessions_at_once(guarded: Any) -> None:
    server, db = guarded
    viewer = create(db, "lead", "viewer")
    with client(server) as c:
        log_in(c, viewer)
        assert c.get("/api/overview").status_code == 200
        assert CliRunner().invoke(main, ["token", "revoke", "lead", "--db", str(db)]).exit_code == 0
        assert c.get("/api/overview").status_code == 401
        create(db, "lead", "viewer")  # a new token of the same name does not revive the old session
        assert c.get("/api/overview").status_code == 401


def test_a_tampered_or_foreign_cookie_is_no_session(guarded: Any, server_factory: Any, tmp_path: Path) -> None:
    server, _ = guarded
    with client(server) as c:
        log_in(c, ADMIN)
        value = c.cookies["ccmonitor_session"]
    payload, _, signature = value.partition(".")
    for forged in (payload + "." + "0" * len(signature), payload[:-2] + "." + signature, "garbage", ""):
        r = httpx.get(server.url("/api/overview"), cookies={"ccmonitor_session": forged}, timeout=30)
        assert r.status_code == 401, forged
    other = server_factory(db=tmp_path / "other.db", auth_token=ADMIN)  # another database, another key
    assert httpx.get(other.url("/api/overview"), cookies={"ccmonitor_session": value}, timeout=30).status_code == 401


def test_a_viewer_logs_in_with_chromium(guarded: Any, browser: Any) -> None:  # noqa: F811
    server, db = guarded
    viewer = create(db, "lead", "viewer")
    browser.delete_all_cookies()
    browser.get(server.url("/sessions"))
    WebDriverWait(browser, 20).until(lambda d: d.current_url.startswith(server.url("/login")))
    browser.find_element(By.ID, "login-token").send_keys(viewer)
    browser.find_element(By.ID, "login-submit").click()
    WebDriverWait(browser, 20).until(lambda d: d.current_url == server.url("/sessions"))
    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.body.dataset.loads") == "1")
    assert browser.execute_script("return document.getElementById('error').hidden") is True
    assert browser.execute_script("return document.cookie") == ""  # HttpOnly: no script reads it
    assert browser.execute_script("return document.body.dataset.role") == "viewer"  # "hidden from viewers"
    browser.find_element(By.CSS_SELECTOR, "form.logout button").click()
    WebDriverWait(browser, 20).until(lambda d: d.current_url == server.url("/login"))
    browser.get(server.url("/"))
    WebDriverWait(browser, 20).until(lambda d: d.current_url.startswith(server.url("/login")))
