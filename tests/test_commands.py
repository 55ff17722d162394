"""The CLI: help for every command, every command and option documented (read from the real click group
in ccmonitor.cli), time parsing, the timezone boundary end to end, prune/export/stats from the terminal."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pytest
from click.testing import CliRunner, Result

from ccmonitor import commands
from ccmonitor.cli import main
from ccmonitor.queries import reader
from ccmonitor.queries.status import database_stats
from test_periods import midnight_session
from test_retention import OLD, fill

ROOT = Path(__file__).parent.parent
DOCS = {p.name: p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]}


def group() -> click.Group:
    """The real `ccmonitor` group, plus this issue's commands should cli.py not have them yet."""
    g = click.Group("ccmonitor", commands=dict(main.commands))
    for command in commands.COMMANDS:
        g.commands.setdefault(command.name or "", command)
    return g


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    if path:
        yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from walk(sub, (*path, name))


ALL_COMMANDS = list(walk(group()))
IDS = [" ".join(p) for p, _ in ALL_COMMANDS]


def run(*args: str, **kw: object) -> Result:
    return CliRunner().invoke(group(), list(args), catch_exceptions=False, **kw)  # type: ignore[arg-type]


def test_this_issues_commands_are_registered_in_the_real_cli() -> None:
    missing = [c.name for c in commands.COMMANDS if main.commands.get(c.name or "") is not c]
    assert not missing, f"cli.main lacks {missing}: add `for c in commands.COMMANDS: main.add_command(c)` to cli.py"


@pytest.mark.parametrize(("path", "command"), ALL_COMMANDS, ids=IDS)
def test_help(path: tuple[str, ...], command: click.Command) -> None:
    result = run(*path, "--help")
    assert result.exit_code == 0, result.output
    assert f"{' '.join(path)} [OPTIONS]" in result.output
    for param in command.params:
        for flag in param.opts if isinstance(param, click.Option) else ():
            assert flag in result.output, flag


def sections(text: str) -> dict[str, str]:
    """Markdown heading -> the text under it, down to the next heading of the same or a higher level."""
    lines, out = text.splitlines(), {}
    for i, line in enumerate(lines):
        level = len(line) - len(line.lstrip("#"))
        if level and line[level:].startswith(" "):
            end = next((j for j in range(i + 1, len(lines)) if re.match(rf"#{{1,{level}}} ", lines[j])), len(lines))
            out[line] = "\n".join(lines[i:end])
    return out


def documentation(path: tuple[str, ...]) -> str:
    """The doc sections headed `ccmonitor <path>` (or a parent command), and the docs they link to."""
    found = []
    for depth in range(len(path), 0, -1):
        name = "`ccmonitor " + " ".join(path[:depth]) + "`"
        for text in DOCS.values():
            found += [body for heading, body in sections(text).items() if name in heading]
    for link in re.findall(r"\]\((?:docs/)?([\w.-]+\.md)\)", "\n".join(found)):
        found.append(DOCS.get(link, ""))
    return "\n".join(found)


@pytest.mark.parametrize(("path", "command"), ALL_COMMANDS, ids=IDS)
def test_every_command_and_option_is_documented(path: tuple[str, ...], command: click.Command) -> None:
    text = documentation(path)
    assert text, f"no section headed `ccmonitor {' '.join(path)}` in README.md or docs/*.md"
    for param in command.params:
        if isinstance(param, click.Option) and "--help" not in param.opts:
            flags = [f for f in (*param.opts, *param.secondary_opts) if f.startswith("--")]
            assert any(f in text for f in flags), f"`ccmonitor {' '.join(path)}` option {flags} is not documented"


# ------------------------------------------------------------------ time parsing
NOW = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(("text", "end", "expected"), [
    ("7d", False, NOW - timedelta(days=7)),
    ("90m", False, NOW - timedelta(minutes=90)),
    ("2026-11-27", False, datetime(2026, 11, 27, 5, tzinfo=UTC)),  # New York midnight
    ("20261127", False, datetime(2026, 11, 27, 5, tzinfo=UTC)),
    ("2026-11-27", True, datetime(2026, 11, 28, 5, tzinfo=UTC)),  # --until: the whole day
    ("2026-11-27T09:30", False, datetime(2026, 11, 27, 14, 30, tzinfo=UTC)),
    ("2026-11-27T09:30Z", False, datetime(2026, 11, 27, 9, 30, tzinfo=UTC)),
], ids=["days ago", "minutes ago", "date", "compact date", "until date", "wall time", "utc time"])
def test_when(text: str, end: bool, expected: datetime) -> None:
    assert commands.when(text, NY, end=end, now=NOW) == expected


@pytest.mark.parametrize("bad", ["yesterday", "7 days", "2026-13-01"])
def test_when_rejects_nonsense(bad: str) -> None:
    with pytest.raises(click.BadParameter):
        commands.when(bad, NY)


# ------------------------------------------------------------------ report
def test_timezone_boundary_end_to_end(server) -> None:
    midnight_session(server)
    db = str(server.db_path)

    def days(*args: str) -> dict[str, int]:
        result = run("report", "daily", "--db", db, "--json", *args)
        assert result.exit_code == 0, result.output
        return {r["period"]: r["input_tokens"] for r in json.loads(result.stdout)["rows"]}

    assert days("--tz", "America/New_York") == {"2026-11-27": 100, "2026-11-28": 200}
    assert days("--tz", "UTC") == {"2026-11-28": 300}
    assert days("--tz", "America/New_York", "--since", "2026-11-28", "--until", "2026-11-28") == {"2026-11-28": 200}
    assert days("--tz", "America/New_York", "--until", "2026-11-27") == {"2026-11-27": 100}
    csv = run("report", "daily", "--db", db, "--csv", "--tz", "America/New_York").stdout.splitlines()
    assert csv[0].startswith("period,input_tokens,") and len(csv) == 3


def test_report_reads_ccmonitor_db_and_prints_a_table(captures_db: Path) -> None:
    result = run("report", "monthly", "--tz", "UTC", env={"CCMONITOR_DB": str(captures_db)})
    assert result.exit_code == 0 and "2026-11" in result.stdout and "61,200" in result.stdout
    result = run("report", "users", "--db", str(captures_db), "--attr", "team=platform", "--breakdown", "--json")
    assert {r["model"] for r in json.loads(result.stdout)["rows"]} == {"claude-opus-5-5", "claude-opus-4-8",
                                                                      "claude-opus-4-8[1m]"}


@pytest.mark.parametrize(("args", "message"), [
    (("report", "daily", "--db", "/nonexistent/x.db"), "no database at"),
    (("report", "daily", "--tz", "Mars/Olympus"), "unknown time zone"),
    (("report", "daily", "--attr", "team"), "KEY=VALUE"),
    (("report", "tools", "--breakdown"), "--breakdown applies to"),
    (("report", "daily", "--since", "soon"), "not a date"),
    (("prune",), "--older-than"),
], ids=["missing db", "bad zone", "bad attr", "breakdown of tools", "bad since", "prune without age"])
def test_clear_errors(captures_db: Path, args: tuple[str, ...], message: str) -> None:
    result = run(*args, env={"CCMONITOR_DB": str(captures_db)})
    assert result.exit_code != 0 and message in result.output


# ------------------------------------------------------------------ prune, export, stats
def test_prune_dry_run_then_prune(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    fill(db, 120, OLD)
    fill(db, 30, datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.000"), prompt="recent")
    dry = run("prune", "--db", str(db), "--older-than", "30d", "--dry-run")
    assert dry.exit_code == 0 and re.search(r"events\s*│\s*120", dry.stdout)
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM events").fetchone()[0] == 150
    done = run("prune", "--db", str(db), "--older-than", "30d", "--prompts-older-than", "0m")
    assert done.exit_code == 0 and "pages_freed" in done.stdout and "done" in done.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*), COUNT(prompt) FROM events").fetchone() == (30, 0)
    conn.close()


def test_export_to_a_file(captures_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "metrics.jsonl"
    result = run("export", "--db", str(captures_db), "--table", "metrics", "--format", "jsonl", "-o", str(out))
    lines = out.read_text().splitlines()
    assert result.exit_code == 0 and f"exported {len(lines)} metrics rows" in result.stderr
    assert len(lines) == sqlite3.connect(captures_db).execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    first = run("export", "--db", str(captures_db), "--table", "spans", "--since", "2026-11-27").stdout
    assert first.startswith("id,timestamp,end_timestamp,")


def test_stats_is_what_stats_says(captures_db: Path) -> None:
    result = run("stats", "--db", str(captures_db), "--json")
    with closing(reader(captures_db)) as conn:
        expected = database_stats(conn, captures_db)
    body = json.loads(result.stdout)
    assert {k: body[k] for k in expected} == expected and body["rows"]["events"] == 197
    assert "rows.events" in run("stats", "--db", str(captures_db)).stdout
