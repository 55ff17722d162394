"""The real Claude Code captures under tests/data/captures, and replaying them over their own transport."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx

import stored

CAPTURES = Path(__file__).parent / "data" / "captures"
STANDARD = (
    "grpc", "http-protobuf", "http-json", "grpc-gzip", "http-protobuf-gzip", "http-json-gzip",
    "slow-delta-default", "slow-cumulative", "redacted-defaults", "sink-503-retry-http", "traces-grpc",
)
ALL = (*STANDARD, "old-client-2.1.197-http-protobuf", "api-error-500")
GRPC_METHOD = {
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
}


@dataclass(frozen=True)
class Captured:
    scenario: str
    seq: int
    signal: str
    transport: str  # grpc | httpproto | httpjson
    wire: bytes  # body as received (HTTP: still compressed; gRPC: de-framed message)
    headers: dict[str, str]
    rejected_by_sink: bool  # the original receiver answered 503; the client resent it

    @property
    def grpc_gzip(self) -> bool:
        return self.scenario == "grpc-gzip"


def requests(scenario: str) -> list[Captured]:
    out = []
    for meta_path in sorted((CAPTURES / scenario / "otlp").glob("*.headers.json")):
        meta = json.loads(meta_path.read_text())
        stem = meta_path.name[: -len(".headers.json")]
        out.append(Captured(
            scenario, meta["seq"], meta["signal"], meta["transport"],
            (meta_path.parent / f"{stem}.wire.bin").read_bytes(),
            meta.get("headers") or {}, meta.get("sink_replied") == 503,
        ))
    return sorted(out, key=lambda c: c.seq)


def replay(c: Captured, ports: object, *, app_port: bool = False) -> int:
    """Send one captured request to a running server; returns the HTTP status or gRPC code value."""
    if c.transport == "grpc":
        with grpc.insecure_channel(f"127.0.0.1:{ports.grpc}") as channel:  # type: ignore[attr-defined]
            call = channel.unary_unary(GRPC_METHOD[c.signal])
            compression = grpc.Compression.Gzip if c.grpc_gzip else None
            try:
                call(c.wire, timeout=10, compression=compression)
            except grpc.RpcError as exc:
                return exc.code().value[0]
            return 0
    headers = {k: v for k, v in c.headers.items() if k in ("content-type", "content-encoding", "authorization")}
    port = ports.app if app_port else ports.http  # type: ignore[attr-defined]
    r = httpx.post(f"http://127.0.0.1:{port}/v1/{c.signal}", content=c.wire, headers=headers, timeout=10)
    return r.status_code


def replay_scenario(scenario: str, ports: object, *, include_rejected: bool = True) -> list[int]:
    return [replay(c, ports) for c in requests(scenario) if include_rejected or not c.rejected_by_sink]


def snapshot_rows(db: Path | str) -> dict[str, int]:
    """Rows per table of a SQLite file or a postgresql:// database."""
    return stored.counts(db)
