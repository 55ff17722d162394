"""One frozen Config, the only reader of the environment.

Every setting is declared once in SETTINGS (name, CCMONITOR_* variable, default, help); the CLI builds
its options from the same table, and a test checks every setting is documented. Precedence: CLI option
> environment > default. Invalid values fail at startup with one line naming the setting.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccmonitor.errors import ConfigError


def default_db_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ccmonitor" / "claude_monitoring.db"


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str

    @property
    def env(self) -> str:
        return "CCMONITOR_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("db", str, None, "SQLite database file, or a postgresql:// URL for the team server (docs/postgres.md;"
            " default: $XDG_DATA_HOME/ccmonitor/claude_monitoring.db)"),
    Setting("host", str, "127.0.0.1", "Interface to listen on; --listen-all means 0.0.0.0 (remote monitoring)"),
    Setting("grpc_port", int, 4317, "OTLP/gRPC port"),
    Setting("http_port", int, 4318, "OTLP/HTTP port"),
    Setting("app_port", int, 5000, "Dashboard, JSON API, /health, /stats and OTLP /v1/* port"),
    Setting("max_body_bytes", int, 16 * 1024 * 1024, "Largest accepted request body after decompression"),
    Setting("max_records_per_request", int, 20_000,
            "Most records (resources, scopes, metrics, log records, data points, spans) in one request; more"
            " gets 413 before decoding. A Collector in front must batch fewer (send_batch_max_size)"),
    Setting("queue_max_records", int, 20_000, "Records waiting for commit before new requests get 503"),
    Setting("max_inflight_bytes", int, 64 * 1024 * 1024,
            "Request bytes held at once (being received, inflated or decoded) before new requests get 503"),
    Setting("commit_timeout_s", float, 30.0, "How long a request waits for its commit before 503"),
    Setting("busy_timeout_ms", int, 5000, "How long a write waits on a locked database before 503"),
    Setting("header_timeout_s", float, 10.0, "A connection must send its request headers (HTTP) or its HTTP/2"
            " preface (gRPC) within this many seconds of connecting, or is closed"),
    Setting("body_timeout_s", float, 30.0, "A request body that sends nothing for this many seconds gets 408"
            " and its connection closed (HTTP)"),
    Setting("keepalive_timeout_s", int, 15, "An idle connection between requests is closed after this many"
            " seconds (HTTP keep-alive; gRPC max connection idle)"),
    Setting("max_connections", int, 1000, "Open connections per port; at the limit a new HTTP connection closes"
            " the oldest idle one (503 if none is idle), a new gRPC one is refused"),
    Setting("synchronous", str, "FULL", "SQLite synchronous mode: FULL (fsync every commit) or NORMAL"),
    Setting("store_prompts", bool, True, "Keep prompt text; when false no prompt text is stored anywhere"),
    Setting("auth_token", str, None, "If set, OTLP, the dashboard, the API and /stats require it (Bearer, or"
            " Basic with it as password); /health stays open"),
    Setting("tls_cert", str, None, "PEM certificate (chain) file: serve gRPC, OTLP/HTTP and the dashboard over TLS"
            " (with --tls-key)"),
    Setting("tls_key", str, None, "PEM private key file of --tls-cert"),
    Setting("redact", str, "default", "Secrets in prompts, tool parameters, error messages and span attributes are"
            " replaced with [REDACTED:<kind>] before storage: 'default', 'off', or a file of extra patterns"
            " (docs/redaction.md)"),
    Setting("hash_emails", bool, False, "Store e-mail addresses as a keyed hash (the same address, the same hash,"
            " so per-user views still work)"),
    Setting("retention_days", int, 0, "Delete telemetry older than this many days (0 = keep forever)"),
    Setting("prompt_retention_days", int, 0, "Blank prompt text older than this many days (0 = keep)"),
    Setting("log_level", str, "INFO", "Log level of the server (payloads are never logged)"),
)


@dataclass(frozen=True)
class Config:
    db: Path | str  # a SQLite file, or a postgresql:// URL (kept as text)
    host: str = "127.0.0.1"
    grpc_port: int = 4317
    http_port: int = 4318
    app_port: int = 5000
    max_body_bytes: int = 16 * 1024 * 1024
    max_records_per_request: int = 20_000
    queue_max_records: int = 20_000
    max_inflight_bytes: int = 64 * 1024 * 1024
    commit_timeout_s: float = 30.0
    busy_timeout_ms: int = 5000
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keepalive_timeout_s: int = 15
    max_connections: int = 1000
    synchronous: str = "FULL"
    store_prompts: bool = True
    auth_token: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    redact: str = "default"
    hash_emails: bool = False
    retention_days: int = 0
    prompt_retention_days: int = 0
    log_level: str = "INFO"

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Config:
        """Build from defaults, then CCMONITOR_* variables, then explicit overrides (None = unset)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for s in SETTINGS:
            raw: Any = s.default
            if s.env in env:
                raw = _parse(s, env[s.env])
            if overrides and overrides.get(s.name) is not None:
                raw = overrides[s.name]
            values[s.name] = raw
        if values["db"] is None:
            values["db"] = default_db_path(env)
        values["db"] = database_location(values["db"])
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        for name in ("grpc_port", "http_port", "app_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise ConfigError(f"{name} must be 0-65535, got {port}")
        if self.synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ConfigError(f"synchronous must be FULL, NORMAL or EXTRA, got {self.synchronous!r}")
        for name in ("max_body_bytes", "queue_max_records", "max_inflight_bytes", "max_records_per_request"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be positive")
        for name in ("header_timeout_s", "body_timeout_s", "keepalive_timeout_s", "max_connections"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("tls_cert and tls_key go together: set both, or neither")
        for name in ("tls_cert", "tls_key"):
            path = getattr(self, name)
            if path and not Path(path).expanduser().is_file():
                raise ConfigError(f"{name}: no file {path}")
        if self.redact not in ("off", "default") and not Path(self.redact).expanduser().is_file():
            raise ConfigError(f"redact must be off, default or a file of patterns; no file {self.redact}")

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


def database_location(raw: str | Path) -> Path | str:
    """A SQLite file path, or a postgresql:// URL. Any other URL is an error: a path never contains
    `scheme://`, and taking one as a folder named `postgresql:` would lose the user's data silently."""
    text = str(raw)
    if text.startswith(("postgresql://", "postgres://")):
        return text
    scheme = text.split(":", 1)[0] if ":" in text else ""
    if "://" in text or scheme.lower() in ("postgresql", "postgres"):
        raise ConfigError(f"--db / CCMONITOR_DB takes a SQLite file path or a postgresql://user@host/dbname URL"
                          f" (got a {scheme or ''}: URL)")
    return Path(text).expanduser()


def _parse(setting: Setting, raw: str) -> Any:
    try:
        if setting.type is bool:
            low = raw.strip().lower()
            if low not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError(raw)
            return low in ("1", "true", "yes", "on")
        if setting.type is Path:
            return Path(raw)
        return setting.type(raw)
    except ValueError:
        raise ConfigError(f"{setting.env}={raw!r} is not a valid {setting.type.__name__}") from None
