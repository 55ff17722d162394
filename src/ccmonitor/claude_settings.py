"""Claude Code's settings files: where they are, how they are read and merged, what Claude Code sees.

Claude Code reads its `env` block from user `~/.claude/settings.json`, then `<project>/.claude/settings.json`,
then `<project>/.claude/settings.local.json` (later files win), over the process environment.
`ccmonitor configure` writes one of these files and `ccmonitor doctor` reads them all; both share this
module. Writes merge into what is there: other keys are never touched, the old file is kept as
`settings.json.bak-<time>` before any change, and writing the same values again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

PROTOCOLS = ("grpc", "http/protobuf", "http/json")
DEFAULT_PORTS = {"grpc": 4317, "http/protobuf": 4318, "http/json": 4318}

# configure writes the file it names; doctor reads it with the user file under it.
project_option = click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    is_flag=False,
    flag_value=".",
    default=None,
    help="Use <DIR>/.claude/settings.json (the current directory if no DIR) instead of ~/.claude/.",
)


def settings_path(project: Path | None, home: Path | None = None) -> Path:
    if project is not None:
        return project / ".claude" / "settings.json"
    return (home or Path.home()) / ".claude" / "settings.json"


def settings_files(project: Path | None, home: Path | None = None) -> list[Path]:
    """User, then project, then project-local settings: later files win, as in Claude Code."""
    files = [settings_path(None, home)]
    if project is not None:
        files += [project / ".claude" / "settings.json", project / ".claude" / "settings.local.json"]
    return [f for f in files if f.exists()]


def read_settings(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        settings = json.loads(path.read_text(encoding="utf-8") or "{}")
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{path} is not valid JSON ({exc}); fix it first, nothing changed") from None
    if not isinstance(settings, dict) or not isinstance(settings.get("env", {}), dict):
        raise click.ClickException(f"{path}: expected a JSON object with an object 'env'; nothing changed")
    return settings


def effective_env(process_env: Mapping[str, str], files: list[Path]) -> dict[str, str]:
    """What Claude Code will see: the process environment, overlaid by each settings file's env block."""
    env = {k: v for k, v in process_env.items() if k.startswith(("OTEL_", "CLAUDE_CODE_"))}
    for path in files:
        block = read_settings(path).get("env") or {}
        env.update({str(k): str(v) for k, v in block.items()})
    return env


def merge_settings(settings: dict[str, Any], env: Mapping[str, str | None]) -> dict[str, Any]:
    """A copy of `settings` whose env block carries `env`; every other key is left as it was."""
    merged = dict(settings)
    block = dict(merged.get("env") or {})
    for key, value in env.items():
        if value is None:
            block.pop(key, None)
        else:
            block[key] = value
    merged["env"] = block
    return merged


def write_settings(path: Path, env: Mapping[str, str | None], now: dt.datetime | None = None) -> Path | None:
    """Merge `env` into the file. Returns the backup path, or None when nothing had to change."""
    current = read_settings(path)
    merged = merge_settings(current, env)
    if path.exists() and merged == current:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    if path.exists():
        stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
        backup = path.with_name(f"{path.name}.bak-{stamp}")
        shutil.copy2(path, backup)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return backup or path
