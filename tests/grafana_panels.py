"""The provisioned Grafana dashboards as the tests see them: each datasource's dashboard JSON, and a
connection that runs a panel's SQL the way that datasource would, after Grafana's expansion
(grafana_macros.py).

SQLite is opened like frser-sqlite-datasource opens it (read-only, query_only). PostgreSQL is queried
as a role that has SELECT only (the grants of deploy/postgres/initdb/10-ccmonitor-roles.sh), in
read-only transactions, in a session whose time zone is not UTC (Asia/Kolkata, +05:30): hours and
days must be UTC ones whatever zone Grafana's connection has.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg import sql

import grafana_macros

ROOT = Path(__file__).parents[1]
GRAFANA = ROOT / "deploy" / "grafana"
sys.path.insert(0, str(GRAFANA))
import dashboards  # noqa: E402  (deploy/grafana/dashboards.py: the catalogue both JSON files are written from)

FOLDERS = {"sqlite": "dashboards", "postgres": "dashboards-postgres"}
PROVISIONING = {"sqlite": "provisioning", "postgres": "provisioning-postgres"}
SESSION_ZONE = "Asia/Kolkata"
Range = tuple[int, int]  # epoch ms, as Grafana's time picker hands them over


def dashboard(backend: str) -> dict[str, Any]:
    return json.loads((GRAFANA / FOLDERS[backend] / dashboards.FILE).read_text())  # type: ignore[no-any-return]


def datasource(backend: str) -> dict[str, Any]:
    path = GRAFANA / PROVISIONING[backend] / "datasources" / "ccmonitor.yaml"
    return yaml.safe_load(path.read_text())["datasources"][0]  # type: ignore[no-any-return]


def sql_of(target: Mapping[str, Any]) -> str:
    return str(target.get("rawQueryText") or target.get("rawSql"))


def variables(board: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in board["templating"]["list"]}


@dataclass
class Grafana:
    """One dashboard and one database of the same backend."""
    backend: str
    board: dict[str, Any]
    execute: Any  # (sql) -> (columns, rows)

    def panel(self, title: str) -> dict[str, Any]:
        (found,) = [p for p in self.board["panels"] if p["title"] == title]
        return found  # type: ignore[no-any-return]

    def expand(self, text: str, rng: Range, selected: Mapping[str, Sequence[str]] | None = None,
               interval_ms: int = 60_000) -> str:
        return grafana_macros.expand(self.backend, text, variables(self.board), *rng, selected, interval_ms)

    def run(self, title: str, rng: Range, selected: Mapping[str, Sequence[str]] | None = None,
            interval_ms: int = 60_000) -> tuple[list[str], list[tuple[Any, ...]]]:
        return self.execute(self.expand(sql_of(self.panel(title)["targets"][0]), rng, selected, interval_ms))

    def rows(self, title: str, rng: Range, selected: Mapping[str, Sequence[str]] | None = None,
             interval_ms: int = 60_000) -> list[dict[str, Any]]:
        columns, rows = self.run(title, rng, selected, interval_ms)
        return [dict(zip(columns, r, strict=True)) for r in rows]

    def value(self, title: str, rng: Range, selected: Mapping[str, Sequence[str]] | None = None) -> Any:
        return self.run(title, rng, selected)[1][0][0]

    def variable(self, name: str, rng: Range) -> list[Any]:
        columns, rows = self.execute(self.expand(variables(self.board)[name]["query"], rng))
        assert len(columns) == 1, f"variable {name} must return one column"
        return [r[0] for r in rows]


@contextmanager
def sqlite_grafana(db: Path) -> Iterator[Grafana]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        conn.execute("PRAGMA query_only = 1")

        def execute(text: str) -> tuple[list[str], list[tuple[Any, ...]]]:
            cursor = conn.execute(text)
            return [d[0] for d in cursor.description], cursor.fetchall()

        yield Grafana("sqlite", dashboard("sqlite"), execute)


@contextmanager
def reader_role(url: str) -> Iterator[str]:
    """A role with the read-only grants of the init script on the database at `url`, dropped afterwards."""
    role = f"grafana_reader_{uuid.uuid4().hex[:12]}"
    name = sql.Identifier(role)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(name))
        try:
            for grant in ("GRANT USAGE ON SCHEMA public TO {}", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}"):
                admin.execute(sql.SQL(grant).format(name))
            yield role
        finally:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(name))
            admin.execute(sql.SQL("DROP ROLE {}").format(name))


@contextmanager
def postgres_grafana(url: str) -> Iterator[Grafana]:
    with reader_role(url) as role, psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("SET TIME ZONE {}").format(sql.Literal(SESSION_ZONE)))
        conn.execute("SET default_transaction_read_only = on")

        def execute(text: str) -> tuple[list[str], list[tuple[Any, ...]]]:
            cursor = conn.execute(text)  # no parameters: psycopg sends the text as it is (a % included)
            return [d.name for d in cursor.description or ()], cursor.fetchall()

        yield Grafana("postgres", dashboard("postgres"), execute)


@contextmanager
def grafana(db: Path | str) -> Iterator[Grafana]:
    """The dashboard of the backend `db` is on, and a connection to it as that datasource has."""
    if isinstance(db, str):
        with postgres_grafana(db) as g:
            yield g
    else:
        with sqlite_grafana(db) as g:
            yield g
