"""The signal table: everything that differs between logs, metrics and traces, in one place, so the
HTTP and gRPC receivers each have one handler driven by it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as logs_pb
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as metrics_pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_pb

from ccmonitor.otlp import logs, metrics, traces
from ccmonitor.records import Batch


@dataclass(frozen=True)
class Signal:
    name: str  # logs | metrics | traces, also the /v1/<name> path
    request_type: type[Message]
    response_type: type[Message]
    to_batch: Callable[[Message, bool], tuple[Batch, int, str]]
    rejected_field: str  # the partial_success counter
    grpc_service: str

    def response(self, rejected: int, message: str) -> Message:
        resp = self.response_type()
        if rejected or message:
            setattr(resp.partial_success, self.rejected_field, rejected)
            resp.partial_success.error_message = message
        return resp


SIGNALS: dict[str, Signal] = {
    s.name: s
    for s in (
        Signal("logs", logs_pb.ExportLogsServiceRequest, logs_pb.ExportLogsServiceResponse,
               logs.to_batch, "rejected_log_records",  # type: ignore[arg-type]
               "opentelemetry.proto.collector.logs.v1.LogsService"),
        Signal("metrics", metrics_pb.ExportMetricsServiceRequest, metrics_pb.ExportMetricsServiceResponse,
               metrics.to_batch, "rejected_data_points",  # type: ignore[arg-type]
               "opentelemetry.proto.collector.metrics.v1.MetricsService"),
        Signal("traces", trace_pb.ExportTraceServiceRequest, trace_pb.ExportTraceServiceResponse,
               traces.to_batch, "rejected_spans",  # type: ignore[arg-type]
               "opentelemetry.proto.collector.trace.v1.TraceService"),
    )
}
