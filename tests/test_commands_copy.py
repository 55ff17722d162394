"""`ccmonitor copy`: a SQLite history (every capture replayed through a real server, plus a demo history
for volume, some rows without their own attribute set as before migration 0004) moved into a fresh
PostgreSQL database gives the same reports and overview, with rollups equal to the rows; a second run
adds nothing; a copy killed mid-way and run again gives the same totals; rows PostgreSQL cannot hold are
reported with a nonzero exit; bad arguments are one clear line."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

import stored
from capture import STANDARD, replay_scenario
from ccmonitor.cli import main
from ccmonitor.demo import history
from ccmonitor.demo.sinks import into_database
from ccmonitor.queries.filters import EARLIEST, LATEST, Filters
from ccmonitor.queries.periods import REPORTS, report
from ccmonitor.queries.tiles import tiles
from ccmonitor.store import Reader
from conftest import RunningServer, make_config
from test_store_postgres_writer import rollup_mismatches

TABLES = ("metrics", "events", "spans", "metric_series", "attribute_sets", "session_attribute_sets")
FILTERS = {
    "everything": Filters(since=EARLIEST, until=LATEST),
    "team platform (captures)": Filters(since=EARLIEST, until=LATEST, attributes=(("team", "platform"),)),
    "team infra (demo)": Filters(since=EARLIEST, until=LATEST, attributes=(("team", "infra"),)),
}


@pytest.fixture(scope="module")
def history_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every capture through a real server, then a demo history; a third of the rows lose their own
    attribute set (stored before migration 0004: they read their session's)."""
    db = tmp_path_factory.mktemp("copy") / "history.db"
    running = RunningServer(make_config(db))
    try:
        for scenario in (*STANDARD, "old-client-2.1.197-http-protobuf", "api-error-500"):
            replay_scenario(scenario, running.ports)
    finally:
        running.stop()
    end = datetime(2026, 11, 27, 12, tzinfo=UTC)
    asyncio.run(into_database(db, history(4, 7, end, 12.0, 1, 0.5), lambda n: None))
    for table in ("metrics", "events"):
        stored.execute(db, f"UPDATE {table} SET attribute_set = NULL WHERE id % 3 = 0")
    return db


@pytest.fixture
def source(history_db: Path, tmp_path: Path) -> Path:
    db = tmp_path / "history.db"
    shutil.copy(history_db, db)
    return db


def copy(source: Path | str, target: str) -> Result:
    return CliRunner().invoke(main, ["copy", "--from", str(source), "--to", target], catch_exceptions=False)


def summary(result: Result) -> dict[str, tuple[int, ...]]:
    """The summary table: table -> (read, stored, already there, refused)."""
    rows = re.findall(r"^│ (\w+) +│ +([\d,]+) │ +([\d,]+) │ +([\d,]+) │ +([\d,]+) │$", result.stdout, re.M)
    return {name: tuple(int(n.replace(",", "")) for n in numbers) for name, *numbers in rows}


def documents(db: Path | str) -> dict[str, Any]:
    """Every report and the overview's tiles over all time, whole and per team."""
    def read(r: Reader) -> dict[str, Any]:
        return {f"{case} {name}": report(r, name, f, ZoneInfo("UTC")) for case, f in FILTERS.items()
                for name in REPORTS} | {f"{case} tiles": tiles(r, f) for case, f in FILTERS.items()}
    return stored.read(db, read)


def counts(db: Path | str) -> dict[str, int]:
    return {t: stored.scalar(db, f"SELECT COUNT(*) FROM {t}") for t in TABLES}


def test_the_copy_gives_the_same_documents_and_exact_rollups(source: Path, postgres_url: str) -> None:
    result = copy(source, postgres_url)
    assert result.exit_code == 0, result.output
    assert counts(postgres_url) == counts(source)
    assert summary(result) == {t: (n, n, 0, 0) for t, n in counts(source).items()}
    assert stored.scalar(postgres_url, "SELECT COUNT(*) FROM metrics WHERE attribute_set != 0") \
        == stored.scalar(source, "SELECT COUNT(*) FROM metrics WHERE COALESCE(attribute_set, (SELECT attribute_set"
                                 " FROM session_attribute_sets WHERE session = session_id), 0) != 0") > 0
    assert documents(postgres_url) == documents(source)
    assert rollup_mismatches(postgres_url) == {}
    assert "metrics" in result.stderr and "0:00:" in result.stderr  # the progress bars


def test_a_second_run_adds_nothing(source: Path, postgres_url: str) -> None:
    assert copy(source, postgres_url).exit_code == 0
    before = counts(postgres_url), documents(postgres_url)
    again = copy(source, postgres_url)
    assert again.exit_code == 0, again.output
    assert summary(again) == {t: (n, 0, n, 0) for t, n in counts(source).items()}
    assert (counts(postgres_url), documents(postgres_url)) == before


KILLED = """
import os, signal, sys
from ccmonitor.store import open_store
from ccmonitor.transfer import Transfer

done = 0
def progress(table, n):
    global done
    done += n if table == "events" else 0
    if done >= 1_500:
        os.kill(os.getpid(), signal.SIGKILL)

Transfer(open_store(sys.argv[1], write=False), open_store(sys.argv[2]), progress, batch_rows=500).run()
"""


def test_a_copy_killed_midway_and_run_again_gives_the_same_totals(source: Path, postgres_url: str) -> None:
    killed = subprocess.run([sys.executable, "-c", KILLED, str(source), postgres_url], capture_output=True,
                            timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    copied = stored.scalar(postgres_url, "SELECT COUNT(*) FROM events")
    assert 1_500 <= copied < counts(source)["events"]
    assert stored.scalar(postgres_url, "SELECT COUNT(*) FROM spans") == 0
    resumed = copy(source, postgres_url)
    assert resumed.exit_code == 0, resumed.output
    assert summary(resumed)["events"][1:] == (counts(source)["events"] - copied, copied, 0)
    assert counts(postgres_url) == counts(source)
    assert documents(postgres_url) == documents(source)
    assert rollup_mismatches(postgres_url) == {}


def test_rows_postgresql_cannot_hold_are_reported_with_a_nonzero_exit(source: Path, postgres_url: str) -> None:
    stored.execute(source, "UPDATE events SET timestamp = 'last tuesday' WHERE id = 42")
    stored.execute(source, "UPDATE spans SET end_timestamp = 'never' WHERE id = 3")
    result = copy(source, postgres_url)
    assert result.exit_code == 1
    assert "error: 2 rows were refused: PostgreSQL cannot hold them" in result.stderr
    assert "events id 42: timestamp 'last tuesday' is not a time" in result.stderr
    assert "spans id 3: timestamp 'never' is not a time" in result.stderr
    assert summary(result)["events"][3] == summary(result)["spans"][3] == 1
    assert stored.scalar(postgres_url, "SELECT COUNT(*) FROM events") == counts(source)["events"] - 1


def test_arguments_are_checked_with_one_clear_line(tmp_path: Path, postgres_url: str) -> None:
    (tmp_path / "notes.txt").write_text("not a database")
    stored.execute(tmp_path / "old.db", "CREATE TABLE metrics (id INTEGER PRIMARY KEY, metric_value REAL)")
    stored.execute(tmp_path / "other.db", "CREATE TABLE things (id INTEGER PRIMARY KEY)")
    cases = {
        (tmp_path / "missing.db", postgres_url): "Invalid value for --from: no SQLite file at",
        (tmp_path / "notes.txt", postgres_url): "is not a SQLite database",
        (postgres_url, postgres_url): "Invalid value for --from: no SQLite file at postgresql://",
        (tmp_path / "old.db", "sqlite.db"): "Invalid value for --to: 'sqlite.db' is not a postgresql:// URL",
        (tmp_path / "old.db", postgres_url): "written by an older ccmonitor: run `ccmonitor serve --db",
        (tmp_path / "other.db", postgres_url): "has no ccmonitor tables",
    }
    for (source, target), message in cases.items():
        result = copy(source, target)
        assert result.exit_code in (1, 2) and message in result.stderr, (source, target, result.output)


def test_an_unreachable_postgresql_is_one_line(source: Path) -> None:
    result = copy(source, "postgresql://nobody@127.0.0.1:1/none")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot open the database postgresql://nobody@127.0.0.1:1/none")
