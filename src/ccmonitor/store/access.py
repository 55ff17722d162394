"""Tokens and server secrets, kept in the database every receiver on it shares (SQLite migration 0007,
PostgreSQL 0002), so a token created with the CLI on one machine opens every receiver at once, and a
revoked one closes them all at once.

A token is stored as the SHA-256 of its text (tokens are 256 random bits, so a fast hash is enough: no
guessing, and a lookup by hash is one index probe). A revoked token keeps its row, so the name its
records carry still means something and `token list` shows when it went; `token create` may reuse the
name of a revoked one. Secrets are random keys made once per database (the session cookies' signing
key, the e-mail hashing key): the first receiver to ask creates one, every later one reads the same.

The SQL is the same on both backends (`?` placeholders; PostgreSQL's store turns them into `%s`).
Changes run on a short-lived connection of their own (`Changes`), reads on the store's pool.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ccmonitor.store import Reader

# One transaction over (sql, params) statements on its own connection; the rows of the last one.
Changes = Callable[[Sequence[tuple[str, Sequence[object]]]], list[Any]]
SECRET_BYTES = 32


@dataclass(frozen=True)
class Token:
    name: str
    role: str
    attributes: dict[str, str]
    created_at: str
    last_used_at: str | None
    revoked_at: str | None
    fingerprint: str  # the first 16 hex digits of its hash: binds a login session to this very token

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def token_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


_COLUMNS = "name, role, attributes, created_at, last_used_at, revoked_at, token_hash"


def _token(row: Any) -> Token:
    return Token(row[0], row[1], json.loads(row[2] or "{}"), row[3], row[4], row[5], row[6][:16])


def find(conn: Reader, *, text: str | None = None, name: str | None = None) -> Token | None:
    """The token whose text is `text`, or named `name` (revoked ones too: the caller decides)."""
    where, param = ("token_hash = ?", token_hash(text)) if text is not None else ("name = ?", name)
    row = conn.execute(f"SELECT {_COLUMNS} FROM tokens WHERE {where}", [param]).fetchone()
    return _token(row) if row else None


def listed(conn: Reader) -> list[Token]:
    return [_token(r) for r in conn.execute(f"SELECT {_COLUMNS} FROM tokens ORDER BY name").fetchall()]


def any_token(conn: Reader) -> bool:
    return bool(conn.execute("SELECT EXISTS(SELECT 1 FROM tokens)").fetchone()[0])


def create(change: Changes, name: str, role: str, attributes: dict[str, str], now: str) -> str:
    """A new token's text (shown once, never stored); ValueError when an active token has the name."""
    text = "ccm_" + secrets.token_urlsafe(32)
    rows = change([
        ("DELETE FROM tokens WHERE name = ? AND revoked_at IS NOT NULL", [name]),
        ("INSERT INTO tokens (name, token_hash, role, attributes, created_at) VALUES (?, ?, ?, ?, ?)"
         " ON CONFLICT (name) DO NOTHING RETURNING name",
         [name, token_hash(text), role, json.dumps(attributes, sort_keys=True), now]),
    ])
    if not rows:
        raise ValueError(f"a token named {name!r} exists; revoke it first (ccmonitor token revoke {name})")
    return text


def revoke(change: Changes, name: str, now: str) -> bool:
    """True when an active token of that name was revoked."""
    return bool(change([("UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL"
                         " RETURNING name", [now, name])]))


def touch(change: Changes, used: dict[str, str]) -> None:
    """Record when tokens were last used (batched by the caller: not a write per request)."""
    if used:
        change([("UPDATE tokens SET last_used_at = ? WHERE name = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                 [when, name, when]) for name, when in sorted(used.items())])


def secret(read: Callable[[Callable[[Reader], Any]], Any], change: Changes, name: str) -> bytes:
    """The database's secret `name`, made on first use; the same for every receiver on the database."""
    row = read(lambda conn: conn.execute("SELECT value FROM secrets WHERE name = ?", [name]).fetchone())
    if row is None:
        change([("INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                 [name, secrets.token_hex(SECRET_BYTES)])])
        row = read(lambda conn: conn.execute("SELECT value FROM secrets WHERE name = ?", [name]).fetchone())
    return bytes.fromhex(row[0])
