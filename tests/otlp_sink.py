"""A minimal OTLP receiver (gRPC, HTTP protobuf, HTTP JSON) that keeps every request in memory.

It checks the end-to-end harness independently of ccmonitor: when the real CLI's telemetry lands
here but not in ccmonitor's database, the fault is in the server, not in the client or the harness.
Every request is kept in the OTLP/JSON shape (protobuf is converted with MessageToDict), so one
summary covers all three protocols. Deliberately naive: it sums every point, which is right for the
client's default DELTA temporality, and it knows nothing of retries or dedup.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc

# signal -> (request type, response type); traces are not needed by the harness.
SIGNALS: dict[str, tuple[type[Message], type[Message]]] = {
    "logs": (logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse),
    "metrics": (
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
    ),
}


@dataclass(frozen=True)
class Received:
    signal: str
    transport: str  # grpc | http/protobuf | http/json
    body: dict[str, Any]  # OTLP/JSON shape


def _attributes(item: dict[str, Any]) -> dict[str, Any]:
    return {
        attr["key"]: next(iter(attr.get("value", {}).values()), None) for attr in item.get("attributes", [])
    }


@dataclass
class OtlpSink:
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _http_handler_for(self))
        self._httpd.daemon_threads = True
        self._http_thread = threading.Thread(
            target=self._httpd.serve_forever, name="otlp-sink-http", daemon=True
        )
        self._grpc = grpc.server(ThreadPoolExecutor(max_workers=2))
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_GrpcLogs(self), self._grpc)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_GrpcMetrics(self), self._grpc)
        self.grpc_port = self._grpc.add_insecure_port("127.0.0.1:0")

    @property
    def http_port(self) -> int:
        return int(self._httpd.server_address[1])

    def __enter__(self) -> OtlpSink:
        self._http_thread.start()
        self._grpc.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._grpc.stop(grace=None).wait()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._http_thread.join()

    def add(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def _bodies(self, signal: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.signal == signal]

    def transports(self) -> set[str]:
        with self._lock:
            return {r.transport for r in self.received}

    def event_names(self) -> Counter[str]:
        names: Counter[str] = Counter()
        for received in self._bodies("logs"):
            for resource in received.body.get("resourceLogs", []):
                for scope in resource.get("scopeLogs", []):
                    records = scope.get("logRecords", [])
                    names.update(_attributes(record).get("event.name") for record in records)
        return names

    def metric_sums(self) -> dict[tuple[str, str | None], float]:
        """Sum of all points per (metric name, `type` attribute)."""
        sums: dict[tuple[str, str | None], float] = defaultdict(float)
        for received in self._bodies("metrics"):
            for resource in received.body.get("resourceMetrics", []):
                for scope in resource.get("scopeMetrics", []):
                    for metric in scope.get("metrics", []):
                        for point in metric.get("sum", {}).get("dataPoints", []):
                            value = point.get("asDouble", point.get("asInt", 0))
                            sums[metric["name"], _attributes(point).get("type")] += float(value)
        return dict(sums)


class _GrpcLogs(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, sink: OtlpSink) -> None:
        self._sink = sink

    def Export(self, request: Message, context: grpc.ServicerContext) -> Message:  # noqa: N802 - gRPC name
        self._sink.add(Received("logs", "grpc", MessageToDict(request)))
        return logs_service_pb2.ExportLogsServiceResponse()


class _GrpcMetrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, sink: OtlpSink) -> None:
        self._sink = sink

    def Export(self, request: Message, context: grpc.ServicerContext) -> Message:  # noqa: N802 - gRPC name
        self._sink.add(Received("metrics", "grpc", MessageToDict(request)))
        return metrics_service_pb2.ExportMetricsServiceResponse()


def _http_handler_for(sink: OtlpSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            signal = self.path.split("?", 1)[0].removeprefix("/v1/")
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if signal not in SIGNALS:
                self._reply(404, "text/plain", b"")
                return
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            request_type, response_type = SIGNALS[signal]
            if self.headers.get("content-type", "").startswith("application/json"):
                sink.add(Received(signal, "http/json", json.loads(body)))
                self._reply(200, "application/json", b"{}")
            else:
                sink.add(Received(signal, "http/protobuf", MessageToDict(request_type.FromString(body))))
                self._reply(200, "application/x-protobuf", response_type().SerializeToString())

        def _reply(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

    return Handler
