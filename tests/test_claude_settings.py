"""Claude Code's settings files as Claude Code reads them: later files win over earlier ones and the environment."""

from __future__ import annotations

import json
from pathlib import Path

from ccmonitor.claude_settings import effective_env


def test_later_settings_files_win_over_earlier_ones_and_the_environment(tmp_path: Path) -> None:
    user, project = tmp_path / "user.json", tmp_path / "project.json"
    user.write_text(json.dumps({"env": {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_LOGS_EXPORTER": "otlp"}}))
    project.write_text(json.dumps({"env": {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}}))
    env = effective_env({"OTEL_EXPORTER_OTLP_PROTOCOL": "x", "PATH": "/bin"}, [user, project])
    assert env == {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_LOGS_EXPORTER": "otlp"}
