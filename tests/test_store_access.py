"""Tokens and secrets in the database (store/access.py), on both backends: what the CLI writes, every
receiver on the database sees at once; tokens are stored hashed; secrets are made once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import stored
from ccmonitor.store import Store, open_store
from ccmonitor.store.access import token_hash

NOW, LATER = "2026-11-30 10:00:00.000", "2026-11-30 11:00:00.000"


@pytest.fixture
def store(db_target: Path | str) -> Iterator[Store]:
    opened = open_store(db_target)
    try:
        yield opened
    finally:
        opened.close()


def test_a_token_is_stored_hashed_and_found_by_its_text(store: Store, db_target: Path | str) -> None:
    text = store.create_token("laptop-ana", "ingest", {"team": "platform"}, NOW)
    assert text.startswith("ccm_") and len(text) > 40
    rows = stored.rows(db_target, "SELECT name, token_hash FROM tokens")
    assert rows == [("laptop-ana", token_hash(text))]
    assert text not in repr(stored.rows(db_target, "SELECT * FROM tokens"))
    found = store.token(text=text)
    assert found is not None and (found.name, found.role, found.attributes) == ("laptop-ana", "ingest",
                                                                                {"team": "platform"})
    assert found.active and found.created_at == NOW and found.last_used_at is None
    assert store.token(text=text + "x") is None and store.token(text="") is None


def test_a_name_is_taken_until_revoked_then_reusable(store: Store) -> None:
    first = store.create_token("ci", "ingest", {}, NOW)
    with pytest.raises(ValueError, match="exists; revoke it first"):
        store.create_token("ci", "admin", {}, NOW)
    assert store.revoke_token("ci", LATER) is True
    assert store.revoke_token("ci", LATER) is False  # already revoked
    assert store.revoke_token("nobody", LATER) is False
    revoked = store.token(text=first)
    assert revoked is not None and not revoked.active and revoked.revoked_at == LATER
    second = store.create_token("ci", "viewer", {}, LATER)
    assert store.token(text=first) is None  # the old text opens nothing any more
    renewed = store.token(text=second)
    assert renewed is not None and renewed.active and renewed.role == "viewer"


def test_two_stores_on_one_database_see_each_others_tokens(store: Store, db_target: Path | str) -> None:
    other = open_store(db_target)
    try:
        assert not other.any_token()
        text = store.create_token("laptop", "ingest", {}, NOW)
        assert other.any_token() and other.token(text=text) is not None
        other.revoke_token("laptop", LATER)
        found = store.token(text=text)
        assert found is not None and not found.active  # revoked through one, seen by the other at once
    finally:
        other.close()


def test_last_used_only_moves_forward(store: Store) -> None:
    store.create_token("a", "ingest", {}, NOW)
    store.create_token("b", "viewer", {}, NOW)
    store.touch_tokens({"a": LATER, "b": NOW})
    store.touch_tokens({"a": NOW})  # an older flush never moves it back
    assert {t.name: t.last_used_at for t in store.tokens()} == {"a": LATER, "b": NOW}


def test_a_secret_is_made_once_and_shared(store: Store, db_target: Path | str) -> None:
    key = store.secret("session")
    assert len(key) == 32 and store.secret("session") == key
    assert store.secret("email-hash") != key
    other = open_store(db_target, write=False)
    try:
        assert other.secret("session") == key
    finally:
        other.close()
