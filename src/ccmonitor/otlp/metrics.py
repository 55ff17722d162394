"""ExportMetricsServiceRequest -> MetricPoint rows, still in the sender's temporality.

Claude Code sends monotonic Sums (DELTA by default, CUMULATIVE when the user asks). The store turns
CUMULATIVE points into increments per series (store/series.py), so each point carries its series key:
resource + scope + metric name + all point attributes. Gauges are stored as sent; histograms and
summaries as their sum, with count (and buckets) kept in custom_attributes. Points without a usable
value (NaN/Inf, empty metrics) or with one outside its metric's bound (ccmonitor/bounds.py: a raw
CUMULATIVE value is a running total, bounded as one) are rejected and reported through
partial_success; the request's other points are stored.
"""

from __future__ import annotations

import json
import math
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, DataPointFlags

from ccmonitor.bounds import metric_bound
from ccmonitor.otlp.origin import Origin, sorted_attributes_bytes
from ccmonitor.otlp.values import as_text, now_unix_nano, timestamp_text
from ccmonitor.records import Batch, MetricPoint
from ccmonitor.redaction import Redactor, Scrub
from ccmonitor.telemetry import digest, record_key

CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
NO_VALUE = DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
METRIC_FIELDS = (("model", "model"), ("type", "type"), ("tool", "tool_name"), ("decision", "decision"),
                 ("language", "language"))


def to_batch(request: ExportMetricsServiceRequest, store_prompts: bool,
             redactor: Redactor | None = None) -> tuple[Batch, int, str]:
    batch = Batch("metrics")
    rejected = 0
    reasons: list[str] = []
    scrub = redactor.scrub() if redactor is not None else None
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            origin = Origin.of(rm.resource, sm.scope)
            if scrub is not None:
                scrub.origin(origin)
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    rejected += 1
                    reasons.append(f"metric {metric.name!r} has no data")
                    continue
                data = getattr(metric, kind)
                head = digest(origin.digest, metric.name.encode(), kind.encode(),
                              str(getattr(data, "aggregation_temporality", 0)).encode())
                cumulative = kind in ("sum", "histogram", "exponential_histogram") and (
                    data.aggregation_temporality == CUMULATIVE
                )
                temporality = (cumulative, kind != "sum" or data.is_monotonic)
                bound = metric_bound(metric.name, cumulative)
                for point in data.data_points:
                    if point.flags & NO_VALUE:
                        continue
                    value, extra = _value(kind, point)
                    problem = bound.problem(value)
                    if problem is not None:
                        rejected += 1
                        reasons.append(f"metric {metric.name!r} {problem}")
                        continue
                    row = _point(metric, point, value, extra, origin, head, temporality, scrub)
                    batch.metrics.append(row)
                    batch.note_session(row.session_id, origin.attribute_set)
    if scrub is not None:
        scrub.close()
    return batch, rejected, "; ".join(dict.fromkeys(reasons))[:500]


def _finite(values: Any) -> list[Any]:
    """Non-finite floats as text, as any_value does: JSON (and SQLite's JSON functions) have none."""
    return [v if math.isfinite(v) else str(v) for v in values]


def _value(kind: str, point: Any) -> tuple[float, dict[str, Any]]:
    """The point's value (NaN if it has none) and what else of it we keep."""
    if kind in ("sum", "gauge"):
        which = point.WhichOneof("value")
        value = point.as_int if which == "as_int" else point.as_double if which == "as_double" else math.nan
        return float(value), {}
    extra: dict[str, Any] = {"otel.count": point.count}
    if kind == "histogram":
        extra["otel.bucket_counts"] = list(point.bucket_counts)
        extra["otel.explicit_bounds"] = _finite(point.explicit_bounds)
    if kind == "summary":
        extra["otel.quantiles"] = dict(zip((str(q.quantile) for q in point.quantile_values),
                                           _finite(q.value for q in point.quantile_values), strict=True))
    has_sum = kind == "summary" or point.HasField("sum")
    return (point.sum if has_sum else math.nan), extra


def _point(metric: Any, point: Any, value: float, extra: dict[str, Any], origin: Origin, head: bytes,
           temporality: tuple[bool, bool], scrub: Scrub | None) -> MetricPoint:
    """The row of a point whose value holds; temporality is (cumulative, monotonic)."""
    attrs = origin.merged(point.attributes)
    attrs.update(extra)
    if scrub is not None:
        scrub.identity(attrs)
    identity = origin.identity(attrs)
    columns = []
    for _column, key in METRIC_FIELDS:
        raw = attrs.pop(key, None)
        text = as_text(raw)
        if text is None and raw is not None:
            attrs[key] = raw
        columns.append(text)
    if scrub is not None:
        scrub.attributes(attrs)
    return MetricPoint._make((
        record_key(head, point.SerializeToString(deterministic=True)),
        timestamp_text(point.time_unix_nano or now_unix_nano()),
        *identity,
        metric.name,
        value,
        metric.unit or None,
        *columns,
        json.dumps(attrs, ensure_ascii=False, separators=(",", ":")),
        origin.attribute_set[0],
        digest(origin.digest, metric.name.encode(), sorted_attributes_bytes(point.attributes)),
        point.start_time_unix_nano,
        point.time_unix_nano,
        *temporality,
    ))
