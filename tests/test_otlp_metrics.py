"""otlp/metrics through a real server: a point whose value is not finite or outside its metric's bound
(ccmonitor/bounds.py) is rejected through partial_success and stored nowhere, while the valid points of
the same request are stored; over protobuf and OTLP/JSON alike (issue 9)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

import stored
from otlp_builders import CUMULATIVE, DELTA, MEDIA, T0, kv, post_export, sum_request

TOKENS = "claude_code.token.usage"


def add_metric(req: ExportMetricsServiceRequest, name: str, values: list[float | int], *,
               temporality: int = DELTA, gauge: bool = False) -> None:
    """One more metric in the request's scope, a point per value (ints as as_int), each its own series."""
    m = req.resource_metrics[0].scope_metrics[0].metrics.add()
    m.name = name
    if not gauge:
        m.sum.aggregation_temporality, m.sum.is_monotonic = temporality, True
    points = m.gauge.data_points if gauge else m.sum.data_points
    for i, value in enumerate(values):
        p = points.add()
        p.start_time_unix_nano, p.time_unix_nano = T0, T0 + 1_000_000 * (i + 1)
        if isinstance(value, int):
            p.as_int = value
        else:
            p.as_double = value
        p.attributes.extend([kv("type", "input"), kv("session.id", "s1"), kv("n", i)])


def export(server: Any, req: ExportMetricsServiceRequest, encoding: str) -> ExportMetricsServiceResponse:
    return post_export(server.http_port, "metrics", req, encoding, ExportMetricsServiceResponse)


def points(server: Any) -> list[tuple[str, float]]:
    return stored.rows(server.db_path, "SELECT metric_name, metric_value FROM metrics ORDER BY 1, 2")


@pytest.mark.parametrize("encoding", MEDIA)
def test_poison_points_are_rejected_and_the_rest_stored(server: Any, encoding: str) -> None:
    req = sum_request([(T0, T0 + 1, 1200.0)], temporality=DELTA)
    add_metric(req, TOKENS, [float("nan"), float("inf"), float("-inf"), 1e308, -5.0, 2**63 - 1, 1e10])
    add_metric(req, "claude_code.cost.usage", [1e308, 0.0347, -0.01, 2e6])
    add_metric(req, "some.sender.gauge", [-1e14, 1e16, float("nan")], gauge=True)
    resp = export(server, req, encoding)
    assert resp.partial_success.rejected_data_points == 6 + 3 + 2
    message = resp.partial_success.error_message
    assert f"metric {TOKENS!r} has a point without a finite value" in message
    assert f"metric {TOKENS!r} has a point outside 0..1e+10" in message
    assert "metric 'claude_code.cost.usage' has a point outside 0..1e+06" in message
    assert "metric 'some.sender.gauge' has a point outside -1e+15..1e+15" in message
    assert points(server) == [("claude_code.cost.usage", 0.0347), (TOKENS, 1200.0), (TOKENS, 1e10),
                              ("some.sender.gauge", -1e14)]


@pytest.mark.parametrize("encoding", MEDIA)
def test_a_cumulative_point_is_bounded_as_a_running_total(server: Any, encoding: str) -> None:
    """A running total may exceed what one interval adds (5e12 tokens over a long process), not 1e13."""
    req = sum_request([(T0, T0 + 1, 5e12)], temporality=CUMULATIVE)
    add_metric(req, TOKENS, [2e13, -1.0], temporality=CUMULATIVE)
    resp = export(server, req, encoding)
    assert resp.partial_success.rejected_data_points == 2
    assert "outside 0..1e+13" in resp.partial_success.error_message
    assert points(server) == [(TOKENS, 5e12)]


def test_a_clean_request_has_no_partial_success(server: Any) -> None:
    req = sum_request([(T0, T0 + 1, 1200.0)], temporality=DELTA)
    add_metric(req, "claude_code.session.count", [1.0])
    assert not export(server, req, "protobuf").HasField("partial_success")
    assert len(points(server)) == 2


def test_histogram_bounds_that_are_not_finite_are_kept_as_text(server: Any) -> None:
    """custom_attributes stays JSON that SQLite's JSON functions and PostgreSQL's jsonb read (JSON has no
    Infinity)."""
    req = sum_request([(T0, T0 + 1, 1.0)], temporality=DELTA)
    m = req.resource_metrics[0].scope_metrics[0].metrics.add()
    m.name = "some.latency"
    m.histogram.aggregation_temporality = DELTA
    p = m.histogram.data_points.add()
    p.time_unix_nano, p.count, p.sum = T0 + 5, 2, 3.5
    p.explicit_bounds.extend([1.0, float("inf")])
    p.bucket_counts.extend([1, 1, 0])
    assert not export(server, req, "protobuf").HasField("partial_success")
    attributes = stored.scalar(server.db_path,
                               "SELECT custom_attributes FROM metrics WHERE metric_name = 'some.latency'")
    assert json.loads(attributes)["otel.explicit_bounds"] == [1.0, "inf"]
