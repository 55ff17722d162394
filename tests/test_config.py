"""Config: defaults, environment, overrides, validation; every setting documented."""

from __future__ import annotations

from pathlib import Path

import pytest

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
