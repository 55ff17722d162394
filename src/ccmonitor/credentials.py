"""The shared token: how a request proves it may send telemetry or read the dashboard (`--auth-token`).
Both the OTLP receivers and the dashboard's guard (web/auth.py) check it here."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import unquote

from ccmonitor.errors import Unauthenticated

TOKEN_ATTRIBUTE = "ccmonitor.token"  # the resource attribute that names the token a record came with
ROLES = ("ingest", "viewer", "admin")


@dataclass(frozen=True)
class Sender:
    """Who a request proved to be: a token's name and role, and the resource attributes the server
    adds to what it sends (its `--attr` values and its own name under TOKEN_ATTRIBUTE)."""
    name: str
    role: str
    attributes: tuple[tuple[str, str], ...] = ()


def check_token(header: str | None, token: str | None) -> None:
    """Accept `Bearer <token>` as sent or percent-encoded: HTTP exporters don't decode
    OTEL_EXPORTER_OTLP_HEADERS, so `Bearer%20token` arrives literally. The header is tried as sent,
    with only the separator decoded, and fully decoded, so a token that itself holds `%41` matches."""
    if not token:
        return
    raw = (header or "").strip()
    forms = {raw, unquote(raw)}
    if raw[:9].lower() == "bearer%20":
        forms.add("Bearer " + raw[9:])
    want = token.encode()
    matched = False
    for form in forms:
        scheme, _, value = form.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), want):
            matched = True
    if not matched:
        raise Unauthenticated("missing or invalid bearer token")
