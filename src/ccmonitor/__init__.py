"""ccmonitor: receive Claude Code's OpenTelemetry telemetry, store it in SQLite, and show it."""

__version__ = "0.1.0"
