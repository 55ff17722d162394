"""otlp/logs through a real server: an event whose numeric column is outside its bound
(ccmonitor/bounds.py) is kept, the value moved from the column to custom_attributes, and the sender
warned through partial_success (0 rejected); over protobuf and OTLP/JSON alike (issue 9)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

import stored
from otlp_builders import MEDIA, event_request, post_export

POISON = {"event.name": "api_request", "session.id": "s1", "model": "claude-opus-5-5", "input_tokens": -5,
          "output_tokens": 2**63 - 1, "cache_read_tokens": 5000, "cost_usd": 1e308,
          "duration_ms": "99999999999999999999999",  # past int64: it used to fail the writer's batch (a 503 forever)
          "status_code": 42, "attempt": 2}
GOOD = {"event.name": "api_request", "session.id": "s1", "model": "claude-opus-5-5", "input_tokens": 1200,
        "output_tokens": 80, "cost_usd": 0.0347, "duration_ms": 53, "status_code": 200}


def export(server: Any, events: list[dict[str, Any]], encoding: str) -> ExportLogsServiceResponse:
    return post_export(server.http_port, "logs", event_request(events), encoding, ExportLogsServiceResponse)


COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cost_usd", "duration_ms", "status_code", "attempt")
KEPT = {"kept_input": "input_tokens", "kept_output": "output_tokens", "kept_cost": "cost_usd",
        "kept_duration": "duration_ms", "kept_status": "status_code"}


def rows(server: Any) -> list[dict[str, Any]]:
    """The columns, and the values kept in custom_attributes as exact numbers: PostgreSQL's jsonb keeps a
    number as its decimal value (1e308 reads back with all 309 digits), SQLite keeps the text as sent."""
    out = []
    for *columns, attributes in stored.rows(
            server.db_path, f"SELECT {', '.join(COLUMNS)}, custom_attributes FROM events ORDER BY timestamp"):
        kept = json.loads(attributes, parse_int=Decimal, parse_float=Decimal)
        out.append({**dict(zip(COLUMNS, columns, strict=True)), **{k: kept.get(v) for k, v in KEPT.items()}})
    return out


@pytest.mark.parametrize("encoding", MEDIA)
def test_out_of_range_values_leave_their_column_and_the_event_stays(server: Any, encoding: str) -> None:
    resp = export(server, [POISON, GOOD], encoding)
    assert resp.partial_success.rejected_log_records == 0  # a warning: everything was stored
    message = resp.partial_success.error_message
    for column in ("input_tokens (1x, not in 0..1e+10)", "output_tokens", "cost_usd (1x, not in 0..1e+06)",
                   "duration_ms", "status_code (1x, not in 100..599)"):
        assert column in message
    assert "attempt" not in message and "cache_read_tokens" not in message
    poison, good = rows(server)
    assert poison == {
        "input_tokens": None, "output_tokens": None, "cache_read_tokens": 5000, "cost_usd": None,
        "duration_ms": None, "status_code": None, "attempt": 2, "kept_input": -5, "kept_output": 2**63 - 1,
        "kept_cost": Decimal("1e308"), "kept_duration": "99999999999999999999999", "kept_status": 42}
    assert good == {"input_tokens": 1200, "output_tokens": 80, "cache_read_tokens": None, "cost_usd": 0.0347,
                    "duration_ms": 53, "status_code": 200, "attempt": None, "kept_input": None,
                    "kept_output": None, "kept_cost": None, "kept_duration": None, "kept_status": None}


@pytest.mark.parametrize("encoding", MEDIA)
def test_values_that_are_not_finite_stay_out_of_columns_as_text(server: Any, encoding: str) -> None:
    events = [{**GOOD, "cost_usd": value, "prompt_length": value} for value in (float("nan"), float("inf"))]
    resp = export(server, events, encoding)
    assert not resp.HasField("partial_success")  # unreadable as a number, as before: kept as sent
    assert [(r["cost_usd"], r["kept_cost"]) for r in rows(server)] == [(None, "nan"), (None, "inf")]


def test_a_clean_request_has_no_partial_success(server: Any) -> None:
    assert not export(server, [GOOD, {**GOOD, "input_tokens": 10**10, "duration_ms": 7 * 86_400_000}],
                      "protobuf").HasField("partial_success")
    assert [r["input_tokens"] for r in rows(server)] == [1200, 10**10]
