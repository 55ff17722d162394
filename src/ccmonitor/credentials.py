"""Who a request is: the admin token of `--auth-token`, or one of the tokens in the database
(`ccmonitor token create`), each with a role. The OTLP receivers and the dashboard's guard
(web/auth.py) both ask the Gate here.

Roles: `ingest` sends telemetry and nothing else; `viewer` reads every number but no text that may
hold prompts or secrets (web/privacy.py); `admin` does everything. `--auth-token` is an admin token.
Once `--auth-token` is set or any token exists (revoked ones count: revoking the last one must not
open the server), every request needs one; a server with neither stays open, as before.

Tokens are looked up on every request (one index probe on the pooled read side), so a revoke takes
effect at once on every receiver of the database. Last use is recorded in memory and written in
batches (flush), not once per request.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote

from ccmonitor.errors import Forbidden, Unauthenticated
from ccmonitor.telemetry import utc_text

TOKEN_ATTRIBUTE = "ccmonitor.token"  # the resource attribute that names the token a record came with
ROLES = ("ingest", "viewer", "admin")
ADMIN_NAME = "auth-token"  # the Sender of --auth-token (a token name `token create` refuses)
OPEN_NAME = "anonymous"  # the Sender of a server that asks for no token
OPEN_RECHECK_S = 1.0
MESSAGE = "missing or invalid token: send 'Authorization: Bearer <token>'"


@dataclass(frozen=True)
class Sender:
    """Who a request proved to be: a token's name and role, and the resource attributes the server
    adds to what it sends (its `--attr` values and its own name under TOKEN_ATTRIBUTE)."""
    name: str
    role: str
    attributes: tuple[tuple[str, str], ...] = ()
    fingerprint: str = ""  # of the token's hash: a login session is bound to this very token


class Tokens(Protocol):
    """The store's side of tokens (store/access.py)."""

    def token(self, *, text: str | None = None, name: str | None = None) -> Any: ...
    def any_token(self) -> bool: ...
    def touch_tokens(self, used: dict[str, str]) -> None: ...


def bearer_forms(header: str | None) -> set[str]:
    """The token a Bearer header may carry: as sent, with only the separator decoded, and fully
    decoded. HTTP exporters don't decode OTEL_EXPORTER_OTLP_HEADERS, so `Bearer%20token` arrives
    literally; a token that itself holds `%41` must still match as sent."""
    raw = (header or "").strip()
    forms = {raw, unquote(raw)}
    if raw[:9].lower() == "bearer%20":
        forms.add("Bearer " + raw[9:])
    out = set()
    for form in forms:
        scheme, _, value = form.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            out.add(value.strip())
    return out


def check_token(header: str | None, token: str | None) -> None:
    """Raise Unauthenticated unless the header carries `token` as a Bearer token (or no token is set)."""
    if token and not any(hmac.compare_digest(form.encode(), token.encode()) for form in bearer_forms(header)):
        raise Unauthenticated("missing or invalid bearer token")


class Gate:
    def __init__(self, admin_token: str | None, tokens: Tokens | None, key: bytes = b"") -> None:
        self.admin_token = admin_token
        self.tokens = tokens
        # the admin token's fingerprint is keyed: a session cookie never carries a plain hash of it
        fingerprint = hmac.new(key, (admin_token or "").encode(), "sha256").hexdigest()[:16]
        self.admin = Sender(ADMIN_NAME, "admin", (), fingerprint)
        self._required = bool(admin_token)  # once true, stays true: tokens are never deleted
        self._checked = 0.0  # when an open server last looked for tokens
        self._used: dict[str, float] = {}
        self._lock = threading.Lock()

    def required(self) -> bool:
        if not self._required and self.tokens is not None and self.tokens.any_token():
            self._required = True
        self._checked = time.monotonic()
        return self._required

    async def check(self, candidates: set[str], *roles: str) -> Sender:
        """identify() off the event loop when it needs the database, then the role: Forbidden unless
        the Sender's role is one of `roles`. An open server looks for a first token at most once a
        second, so it asks for nothing on its hot path."""
        if self.admin_token and any(hmac.compare_digest(t.encode(), self.admin_token.encode()) for t in candidates):
            sender = self.admin
        elif not self._required and time.monotonic() - self._checked < OPEN_RECHECK_S:
            sender = Sender(OPEN_NAME, "admin")
        else:
            sender = await asyncio.to_thread(self.identify, candidates)
        permit(sender, *roles)
        return sender

    def identify(self, candidates: set[str]) -> Sender:
        """The Sender of one of the presented token texts; Unauthenticated if none opens the server.
        Blocking (a database lookup): call it off the event loop."""
        if not self.required():
            return Sender(OPEN_NAME, "admin")
        for text in candidates:
            if self.admin_token and hmac.compare_digest(text.encode(), self.admin_token.encode()):
                return self.admin
        for text in candidates:
            token = self.tokens.token(text=text) if self.tokens is not None and text else None
            if token is not None and token.active:
                self._note(token.name)
                return sender_of(token)
        raise Unauthenticated(MESSAGE)

    def session(self, name: str, fingerprint: str) -> Sender | None:
        """The Sender of a login session's token, if it still opens the server (not revoked, not
        replaced, and for --auth-token, not changed since the login)."""
        if name == ADMIN_NAME:
            return self.admin if self.admin_token and hmac.compare_digest(fingerprint, self.admin.fingerprint) \
                else None
        token = self.tokens.token(name=name) if self.tokens is not None else None
        if token is None or not token.active or not hmac.compare_digest(token.fingerprint, fingerprint):
            return None
        self._note(name)
        return sender_of(token)

    def _note(self, name: str) -> None:
        with self._lock:
            self._used[name] = time.time()

    def flush(self) -> None:
        """Write when tokens were last used (the server calls this every half minute and at stop)."""
        with self._lock:
            used, self._used = self._used, {}
        if used and self.tokens is not None:
            self.tokens.touch_tokens({name: utc_text(datetime.fromtimestamp(t, UTC)) for name, t in used.items()})


def permit(sender: Sender, *roles: str) -> None:
    if roles and sender.role not in roles:
        raise Forbidden(f"token {sender.name!r} has the role {sender.role}; this needs {' or '.join(roles)}")


def sender_of(token: Any) -> Sender:
    attributes = {**token.attributes, TOKEN_ATTRIBUTE: token.name}
    return Sender(token.name, token.role, tuple(sorted(attributes.items())), token.fingerprint)
