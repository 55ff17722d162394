"""Runs the real, pinned Claude Code CLI offline, with its telemetry pointed where the caller says.

The npm package `@anthropic-ai/claude-code` is only a wrapper: its postinstall hard-links the native
binary from the platform package `@anthropic-ai/claude-code-<platform>` over `bin/claude.exe`. We run
that native binary directly, so the test needs neither Node >= 22 (the wrapper's `engines`) nor
install scripts (`npm ci --ignore-scripts` is enough), and nothing is fetched at run time.

The child's environment is built from scratch (PATH kept, HOME a fresh directory from the caller),
so a developer's own Claude Code settings, API keys or OTEL_* variables never leak into a run.
TMPDIR points inside that HOME: the client otherwise leaves /tmp/claude-<uid>/ and /tmp/cc-socks/
behind, shared by every run on the machine.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path

E2E_DIR = Path(__file__).resolve().parent / "e2e"
PACKAGE = "@anthropic-ai/claude-code"
INSTALL_COMMAND = "cd tests/e2e && npm ci --ignore-scripts --engine-strict=false --no-audit --no-fund"
PROMPT = "create hello.txt then run echo hi"
ALLOWED_TOOLS = "Bash(echo hi)"


class ClaudeNotInstalled(RuntimeError):
    """The pinned CLI is not in tests/e2e/node_modules (or is another version)."""


def pinned_version() -> str:
    package = json.loads((E2E_DIR / "package.json").read_text())
    return str(package["dependencies"][PACKAGE])


def _platform_package() -> str:
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    system = {"linux": "linux", "darwin": "darwin"}.get(platform.system().lower(), platform.system().lower())
    libc = "-musl" if system == "linux" and platform.libc_ver()[0] != "glibc" else ""
    return f"{PACKAGE}-{system}-{machine}{libc}"


def claude_binary() -> Path:
    """The native binary of the pinned version, or ClaudeNotInstalled saying how to install it."""
    package_dir = E2E_DIR / "node_modules" / _platform_package()
    binary = package_dir / "claude"
    wanted = pinned_version()
    try:
        installed = json.loads((package_dir / "package.json").read_text())["version"]
    except FileNotFoundError:
        installed = None
    if installed != wanted or not os.access(binary, os.X_OK):
        found = f"found {installed}" if installed else f"{binary} is missing"
        raise ClaudeNotInstalled(
            f"Claude Code CLI {wanted} is not installed for the end-to-end tests ({found}).\n"
            f"Install it (needs the npm registry once, ~400 MB): {INSTALL_COMMAND}"
        )
    return binary


def claude_env(
    *,
    home: Path,
    api_url: str,
    otlp_protocol: str,
    otlp_endpoint: str,
    env_extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The complete child environment; the same knobs the captures were recorded with (TELEMETRY.md §1)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "ANTHROPIC_BASE_URL": api_url,
        "ANTHROPIC_API_KEY": "sk-ant-fake",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": otlp_protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "OTEL_LOGS_EXPORT_INTERVAL": "1000",
        "OTEL_LOG_USER_PROMPTS": "1",
        "OTEL_LOG_TOOL_DETAILS": "1",
        "OTEL_RESOURCE_ATTRIBUTES": "department=eng,team=platform",
        **(env_extra or {}),
    }


def run_claude(
    prompt: str = PROMPT,
    *,
    cwd: Path,
    home: Path,
    api_url: str,
    otlp_protocol: str,
    otlp_endpoint: str,
    env_extra: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """One `claude -p` session; returns when the process has exited (telemetry is flushed by then)."""
    (home / "tmp").mkdir(exist_ok=True)
    command = [
        str(claude_binary()),
        "-p",
        prompt,
        "--permission-mode",
        "acceptEdits",
        "--allowedTools",
        ALLOWED_TOOLS,
        "--output-format",
        "json",
    ]
    env = claude_env(
        home=home,
        api_url=api_url,
        otlp_protocol=otlp_protocol,
        otlp_endpoint=otlp_endpoint,
        env_extra=env_extra,
    )
    return subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
