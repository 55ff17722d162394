"""The doctor's probe reads Claude Code's exporter settings the way the client does."""

from __future__ import annotations

import pytest

from ccmonitor.errors import DoctorFailure
from ccmonitor.probe import logs_target, otlp_headers


def test_headers_are_decoded_for_grpc_only_like_claude_code() -> None:
    env = {"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20t,x-tenant=acme"}
    assert otlp_headers(env, "grpc") == {"authorization": "Bearer t", "x-tenant": "acme"}
    assert otlp_headers(env, "http/protobuf") == {"authorization": "Bearer%20t", "x-tenant": "acme"}


def test_logs_target_follows_the_otel_defaulting_rules() -> None:
    assert logs_target({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}) == ("grpc", "http://localhost:4317")
    assert logs_target({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:9/"}) \
        == ("http/json", "http://h:9/v1/logs")
    assert logs_target({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://h:1/custom"}) == ("http/protobuf", "http://h:1/custom")
    with pytest.raises(DoctorFailure, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        logs_target({})
