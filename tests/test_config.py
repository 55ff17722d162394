"""Config: defaults, environment, overrides, validation; every setting documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ccmonitor.cli import main
from ccmonitor.config import SETTINGS, Config
from ccmonitor.errors import ConfigError


def test_precedence_default_env_override(tmp_path: Path) -> None:
    env = {"CCMONITOR_APP_PORT": "5055", "CCMONITOR_STORE_PROMPTS": "false", "XDG_DATA_HOME": str(tmp_path)}
    c = Config.load(env=env)
    assert c.app_port == 5055 and c.store_prompts is False and c.grpc_port == 4317
    assert c.db == tmp_path / "ccmonitor" / "claude_monitoring.db"
    assert c.host == "127.0.0.1"  # localhost by default
    assert Config.load({"app_port": 6000}, env=env).app_port == 6000


@pytest.mark.parametrize("env,words", [
    ({"CCMONITOR_APP_PORT": "abc"}, "CCMONITOR_APP_PORT='abc' is not a valid int"),
    ({"CCMONITOR_GRPC_PORT": "70000"}, "grpc_port must be 0-65535"),
    ({"CCMONITOR_SYNCHRONOUS": "OFF"}, "synchronous must be"),
    ({"CCMONITOR_STORE_PROMPTS": "maybe"}, "CCMONITOR_STORE_PROMPTS"),
])
def test_invalid_values_fail_with_one_line(env: dict, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config.load(env=env)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_every_setting_is_a_field_and_documented() -> None:
    fields = set(Config.__dataclass_fields__)
    assert {s.name for s in SETTINGS} == fields
    docs = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    for s in SETTINGS:
        assert s.env in docs and f"--{s.name.replace('_', '-')}" in docs, s.name


@pytest.mark.parametrize("db,expected", [
    ("postgresql://ccmonitor@db.internal:5432/telemetry", "postgresql://ccmonitor@db.internal:5432/telemetry"),
    ("postgres://u:secret@localhost/ccm", "postgres://u:secret@localhost/ccm"),
    ("~/telemetry.db", Path("~/telemetry.db").expanduser()),
    ("relative/dir/claude.db", Path("relative/dir/claude.db")),
], ids=["postgresql-url", "postgres-url", "home-file", "relative-file"])
def test_db_is_a_file_or_a_postgresql_url(db: str, expected: object) -> None:
    assert Config.load({"db": db}, env={}).db == expected
    assert Config.load(env={"CCMONITOR_DB": db}).db == expected


@pytest.mark.parametrize("db", ["mysql://root@localhost/x", "postgresql:telemetry", "sqlite:///x.db",
                                "POSTGRES:/x"], ids=["mysql", "postgresql-no-slashes", "sqlite-url", "upper"])
def test_any_other_url_is_refused_not_taken_for_a_folder(db: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="SQLite file path or a postgresql://"):
        Config.load({"db": db}, env={})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["stats", "--db", db])
    assert result.exit_code != 0 and "postgresql://" in result.output
    assert not list(tmp_path.iterdir())  # no folder named after the URL's scheme
