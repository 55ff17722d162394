"""The CLI: help for every command, every command and option documented (read from the real click group
in ccmonitor.cli), clear errors from the terminal. Each command module has its own tests/test_commands_*.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from ccmonitor import commands
from ccmonitor.cli import main

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


@pytest.mark.parametrize(("args", "message"), [
    (("report", "daily", "--db", "/nonexistent/x.db"), "no database at"),
    (("report", "daily", "--tz", "Mars/Olympus"), "unknown time zone"),
    (("report", "daily", "--attr", "team"), "KEY=VALUE"),
    (("report", "tools", "--breakdown"), "--breakdown applies to"),
    (("report", "daily", "--since", "soon"), "not a date"),
    (("prune",), "--older-than"),
], ids=["missing db", "bad zone", "bad attr", "breakdown of tools", "bad since", "prune without age"])
def test_clear_errors(captures_db: Path | str, args: tuple[str, ...], message: str) -> None:
    result = run(*args, env={"CCMONITOR_DB": str(captures_db)})
    assert result.exit_code != 0 and message in result.output
