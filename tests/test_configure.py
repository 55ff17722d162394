"""`ccmonitor configure` on a temporary HOME (tests/test_doctor.py runs it against a real server)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ccmonitor.configure import PRIVACY_WARNING, configure_command

EXISTING = {
    "model": "opus",
    "permissions": {"allow": ["Bash(git status)"]},
    "env": {"ANTHROPIC_LOG": "debug", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://old-host:4317"},
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def run(command, args: list[str], home: Path, stdin: str | None = None, cwd: Path | None = None) -> Result:
    env = {"HOME": str(home), "CLAUDE_CODE_ENABLE_TELEMETRY": None, "OTEL_EXPORTER_OTLP_ENDPOINT": None}
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(command, args, env=env, input=stdin)
    with runner.isolated_filesystem(temp_dir=cwd):
        return runner.invoke(command, args, env=env, input=stdin)


def user_settings(home: Path) -> dict:
    return json.loads((home / ".claude" / "settings.json").read_text())


def test_fresh_home_gets_the_documented_settings(home: Path) -> None:
    result = run(configure_command, [], home)
    assert result.exit_code == 0, result.output
    assert user_settings(home) == {
        "env": {
            "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4317",
        }
    }
    assert not list((home / ".claude").glob("*.bak-*"))


def test_merge_keeps_every_other_key_and_backs_up(home: Path) -> None:
    (home / ".claude").mkdir()
    original = json.dumps(EXISTING, indent=4)
    (home / ".claude" / "settings.json").write_text(original)
    result = run(configure_command, ["--protocol", "http/protobuf", "--metric-interval", "10000"], home)
    assert result.exit_code == 0, result.output
    settings = user_settings(home)
    assert settings["model"] == "opus"
    assert settings["permissions"] == EXISTING["permissions"]
    assert settings["env"]["ANTHROPIC_LOG"] == "debug"
    assert settings["env"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://localhost:4318"
    assert settings["env"]["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert settings["env"]["OTEL_METRIC_EXPORT_INTERVAL"] == "10000"
    (backup,) = (home / ".claude").glob("settings.json.bak-*")
    assert backup.read_text() == original


def test_second_run_changes_nothing(home: Path) -> None:
    args = ["--endpoint", "http://monitor:4317", "-r", "team=platform", "-r", "department=eng"]
    assert run(configure_command, args, home).exit_code == 0
    first = (home / ".claude" / "settings.json").read_bytes()
    result = run(configure_command, args, home)
    assert result.exit_code == 0
    assert "nothing changed" in result.output
    assert (home / ".claude" / "settings.json").read_bytes() == first
    assert not list((home / ".claude").glob("*.bak-*"))
    assert user_settings(home)["env"]["OTEL_RESOURCE_ATTRIBUTES"] == "team=platform,department=eng"


def test_project_option_writes_the_project_file_only(home: Path, tmp_path: Path) -> None:
    project = tmp_path / "acme-app"
    project.mkdir()
    result = run(configure_command, ["--project", str(project)], home)
    assert result.exit_code == 0, result.output
    env = json.loads((project / ".claude" / "settings.json").read_text())["env"]
    assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    assert not (home / ".claude").exists()


def test_project_option_without_a_value_means_the_current_directory(home: Path, tmp_path: Path) -> None:
    result = run(configure_command, ["--project"], home, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    (written,) = tmp_path.glob("*/.claude/settings.json")
    assert json.loads(written.read_text())["env"]["OTEL_LOGS_EXPORTER"] == "otlp"


def test_invalid_settings_file_is_left_alone(home: Path) -> None:
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").write_text("{ not json")
    result = run(configure_command, [], home)
    assert result.exit_code != 0
    assert "not valid JSON" in result.output
    assert (home / ".claude" / "settings.json").read_text() == "{ not json"


def test_prompt_logging_warns_and_needs_a_yes(home: Path) -> None:
    declined = run(configure_command, ["--log-prompts"], home, stdin="n\n")
    assert declined.exit_code == 1
    assert PRIVACY_WARNING.splitlines()[0] in declined.output
    assert not (home / ".claude" / "settings.json").exists()

    accepted = run(configure_command, ["--log-prompts"], home, stdin="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert user_settings(home)["env"]["OTEL_LOG_USER_PROMPTS"] == "1"

    turned_off = run(configure_command, ["--no-log-prompts"], home)
    assert turned_off.exit_code == 0
    assert "OTEL_LOG_USER_PROMPTS" not in user_settings(home)["env"]


def test_yes_skips_the_question_but_not_the_warning(home: Path) -> None:
    result = run(configure_command, ["--log-prompts", "--yes"], home)
    assert result.exit_code == 0
    assert "FULL TEXT" in result.output
    assert user_settings(home)["env"]["OTEL_LOG_USER_PROMPTS"] == "1"


@pytest.mark.parametrize("option", ["--token", "--auth-token"])
def test_a_token_becomes_a_bearer_header_with_a_plain_space(home: Path, option: str) -> None:
    result = run(configure_command, [option, "s3cret", "--header", "x-tenant=acme"], home)
    assert result.exit_code == 0, result.output
    assert user_settings(home)["env"]["OTEL_EXPORTER_OTLP_HEADERS"] == "x-tenant=acme,Authorization=Bearer s3cret"


@pytest.mark.parametrize("bad", [["-r", "team"], ["-r", "team=a,b"], ["--auth-token", "a b"]])
def test_unusable_values_are_refused(home: Path, bad: list[str]) -> None:
    result = run(configure_command, bad, home)
    assert result.exit_code == 2
    assert not (home / ".claude").exists()


def test_bash_export_lines_survive_the_shell(home: Path) -> None:
    result = run(configure_command, ["--shell", "bash", "--auth-token", "it's", "-r", "team=o'neil"], home)
    assert result.exit_code == 0, result.output
    script = result.output + 'printf "%s|%s" "$OTEL_EXPORTER_OTLP_HEADERS" "$OTEL_RESOURCE_ATTRIBUTES"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out == "Authorization=Bearer it's|team=o'neil"
    assert not (home / ".claude").exists()


@pytest.mark.parametrize(
    ("shell", "line"),
    [
        ("zsh", "export OTEL_EXPORTER_OTLP_PROTOCOL='grpc'"),
        ("fish", "set -gx OTEL_EXPORTER_OTLP_PROTOCOL 'grpc'"),
    ],
)
def test_shell_lines_for_zsh_and_fish(home: Path, shell: str, line: str) -> None:
    result = run(configure_command, ["--shell", shell, "--no-log-prompts"], home)
    assert result.exit_code == 0
    assert line in result.output.splitlines()
    assert ("set -e OTEL_LOG_USER_PROMPTS" if shell == "fish" else "unset OTEL_LOG_USER_PROMPTS") in result.output


def test_fish_quoting_escapes_quotes_and_backslashes(home: Path) -> None:
    result = run(configure_command, ["--shell", "fish", "--header", "x-a=b\\'c"], home)
    assert "set -gx OTEL_EXPORTER_OTLP_HEADERS 'x-a=b\\\\\\'c'" in result.output
