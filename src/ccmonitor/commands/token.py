"""`ccmonitor token create|list|revoke`: a token per machine or person, with a role (credentials.py).

They write the database `serve` reads (`--db`), so every receiver on it sees a new or revoked token
at once, without a restart. `create` prints only the token on stdout (for `$(...)` and pipes); it is
shown once and stored hashed.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime

import click

from ccmonitor import reports
from ccmonitor.commands.options import attributes, database, db_option
from ccmonitor.credentials import ADMIN_NAME, OPEN_NAME, ROLES, TOKEN_ATTRIBUTE
from ccmonitor.errors import CcmonitorError
from ccmonitor.queries.filters import ATTRIBUTE_KEY
from ccmonitor.store import Store, open_store
from ccmonitor.telemetry import is_custom, utc_text

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def _open(db: str | None) -> Store:
    try:
        return open_store(database(db), queue_max_records=1)
    except CcmonitorError as exc:
        raise click.ClickException(str(exc)) from None


def _now() -> str:
    return utc_text(datetime.now(UTC))


@click.group("token")
def token_group() -> None:
    """Tokens for laptops (role ingest), dashboard readers (viewer) and administrators (admin)."""


@token_group.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="ingest", show_default=True,
              help="ingest: send telemetry only; viewer: every number, no prompt text; admin: everything.")
@click.option("--attr", "attrs", multiple=True, metavar="KEY=VALUE",
              help="Added to the resource attributes of everything this token sends, e.g. team=platform"
                   " (repeatable; the token's value wins over the client's).")
@db_option
def create_command(name: str, role: str, attrs: tuple[str, ...], db: str | None) -> None:
    """Create a token named NAME and print it (only it) on stdout."""
    if not NAME.match(name) or name in (ADMIN_NAME, OPEN_NAME):
        raise click.BadParameter(f"{name!r}: use 1-64 letters, digits and _ . @ - (not {ADMIN_NAME} or {OPEN_NAME})",
                                 param_hint="NAME")
    pairs = dict(attributes(attrs))
    for key in pairs:
        if not ATTRIBUTE_KEY.match(key) or not is_custom(key) or key == TOKEN_ATTRIBUTE:
            raise click.BadParameter(f"{key!r} is not a custom attribute name (team, department, cost_center, ...)",
                                     param_hint="--attr")
    store = _open(db)
    try:
        text = store.create_token(name, role, pairs, _now())
    except (ValueError, CcmonitorError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    click.echo(f"token {name!r} ({role}) created; it is shown only now:", err=True)
    click.echo(text)


@token_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@db_option
def list_command(as_json: bool, db: str | None) -> None:
    """Every token: name, role, attributes, created, last used, revoked (never the token itself)."""
    store = _open(db)
    try:
        tokens = store.tokens()
    except CcmonitorError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    rows = [{"name": t.name, "role": t.role, "attributes": _pairs(t.attributes),
             "created": t.created_at, "last_used": t.last_used_at, "revoked": t.revoked_at} for t in tokens]
    if as_json:
        reports.write_json(rows, sys.stdout)
    elif not rows:
        click.echo("no tokens yet: ccmonitor token create NAME [--role ingest|viewer|admin]")
    else:
        reports.console(sys.stdout).print(reports.table(rows, None, "tokens (times in UTC)"))


def _pairs(attrs: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(attrs.items()))


@token_group.command("revoke")
@click.argument("name")
@db_option
def revoke_command(name: str, db: str | None) -> None:
    """Revoke the token NAME: every receiver on the database refuses it from now on."""
    store = _open(db)
    try:
        done = store.revoke_token(name, _now())
    except CcmonitorError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    if not done:
        raise click.ClickException(f"no active token named {name!r} (ccmonitor token list)")
    click.echo(f"token {name!r} revoked")
