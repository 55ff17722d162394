"""The real OpenTelemetry SDK exporters (gRPC and HTTP) against a real server, as any OTel client."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import stored

RESOURCE = Resource.create({"service.name": "claude-code", "team": "platform"})


def exporters(kind: str, server, compression: bool):
    if kind == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.exporter import Compression
        kw = {"endpoint": f"127.0.0.1:{server.grpc_port}", "insecure": True}
        if compression:
            kw["compression"] = Compression.Gzip
        return GrpcLogExporter(**kw), GrpcMetricExporter, kw, GrpcSpanExporter(**kw)
    from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
    base = f"http://127.0.0.1:{server.http_port}"
    kw = {"compression": HttpCompression.Gzip} if compression else {}
    return (HttpLogExporter(endpoint=f"{base}/v1/logs", **kw), HttpMetricExporter,
            {"endpoint": f"{base}/v1/metrics", **kw}, HttpSpanExporter(endpoint=f"{base}/v1/traces", **kw))


@pytest.mark.parametrize("temporality", ["delta", "cumulative"])
@pytest.mark.parametrize("kind,compression", [("grpc", False), ("grpc", True), ("http", False), ("http", True)])
def test_sdk_exporters_store_exact_totals(server, kind: str, compression: bool, temporality: str) -> None:
    log_exp, metric_cls, metric_kw, span_exp = exporters(kind, server, compression)
    temp = AggregationTemporality.DELTA if temporality == "delta" else AggregationTemporality.CUMULATIVE
    reader = PeriodicExportingMetricReader(metric_cls(preferred_temporality={Counter: temp}, **metric_kw),
                                           export_interval_millis=60_000)
    meters = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    counter = meters.get_meter("com.anthropic.claude_code", "1.0").create_counter("claude_code.token.usage")
    for i, n in enumerate([100, 250, 50]):
        counter.add(n, {"type": "input", "session.id": "sdk-session", "model": "m"})
        reader.collect()  # an export per step: cumulative sends the running totals 100, 350, 400
        assert i >= 0
    logs = LoggerProvider(resource=RESOURCE)
    logs.add_log_record_processor(SimpleLogRecordProcessor(log_exp))
    logger = logs.get_logger("com.anthropic.claude_code.events")
    from opentelemetry._logs import LogRecord
    for i in range(3):
        logger.emit(LogRecord(body="claude_code.api_request", attributes={
            "event.name": "api_request", "input_tokens": 10 * (i + 1), "cost_usd": 0.5, "session.id": "sdk-session"}))
    tracer_provider = TracerProvider(resource=RESOURCE)
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exp))
    with tracer_provider.get_tracer("t").start_as_current_span("claude_code.interaction"):
        with tracer_provider.get_tracer("t").start_as_current_span("claude_code.llm_request"):
            pass
    meters.shutdown()
    logs.shutdown()
    tracer_provider.shutdown()

    db, sql = server.db_path, stored.dialect(server.db_path)
    assert stored.scalar(db, "SELECT SUM(metric_value) FROM metrics WHERE metric_name='claude_code.token.usage'"
                             " AND session_id='sdk-session'") == 400
    assert stored.rows(db, "SELECT COUNT(*), SUM(input_tokens), SUM(cost_usd),"
                           f" MAX({sql.json_member('custom_attributes')}) FROM events",
                       [sql.json_key("team")]) == [(3, 60, 1.5, "platform")]
    spans = stored.rows(db, "SELECT name, parent_span_id IS NULL FROM spans ORDER BY name")
    assert spans == [("claude_code.interaction", True), ("claude_code.llm_request", False)]
