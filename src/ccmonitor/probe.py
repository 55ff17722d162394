"""The doctor's probe: one OTLP log record exported the way Claude Code's logs exporter would, from
its settings (protocol, endpoint, headers, compression, trusted CAs) after the OTel defaulting rules.

Trust over https, as client 2.1.332 does it (tried against a TLS server, tests/test_tls.py): the
system's CAs plus NODE_EXTRA_CA_CERTS (honoured from settings.json's env block too) for both
transports; OTEL_EXPORTER_OTLP_CERTIFICATE over gRPC only (the probe then trusts that CA alone,
as the OTel spec says).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ccmonitor.claude_settings import DEFAULT_PORTS, PROTOCOLS
from ccmonitor.errors import DoctorFailure


def logs_target(env: Mapping[str, str]) -> tuple[str, str]:
    """(protocol, URL or host:port) the logs exporter will use, after the OTel defaulting rules."""
    protocol = env.get("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    if protocol not in PROTOCOLS:
        raise DoctorFailure(f"OTEL_EXPORTER_OTLP_PROTOCOL is {protocol!r}; set one of {', '.join(PROTOCOLS)}")
    specific = env.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or f"http://localhost:{DEFAULT_PORTS[protocol]}"
    base = base.rstrip("/")
    if protocol == "grpc":
        return protocol, specific or base
    return protocol, specific or base + "/v1/logs"


def otlp_headers(env: Mapping[str, str], protocol: str) -> dict[str, str]:
    """Headers as Claude Code sends them: percent-decoded over gRPC, verbatim over HTTP."""
    from urllib.parse import unquote

    raw = ",".join(env.get(k, "") for k in ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_LOGS_HEADERS"))
    headers = {}
    for item in raw.split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            value = value.strip()
            headers[key.strip().lower()] = unquote(value) if protocol == "grpc" else value
    return headers


TLS_HINT = ("; if the server's certificate comes from a private CA, Claude Code needs NODE_EXTRA_CA_CERTS="
            "<the CA's PEM> (ccmonitor configure --ca-file)")


def tls_hint(error: object) -> str:
    text = str(error).lower()
    return TLS_HINT if "certificate" in text or "ssl" in text or "handshake" in text else ""


def exporter_ca(env: Mapping[str, str], protocol: str) -> tuple[str | None, bool]:
    """(CA file, whether the system's CAs count too) the way Claude Code's exporter trusts a server."""
    if protocol == "grpc":
        own = env.get("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE") or env.get("OTEL_EXPORTER_OTLP_CERTIFICATE")
        if own:
            return own, False
    return env.get("NODE_EXTRA_CA_CERTS") or None, True


def any_ca(env: Mapping[str, str]) -> str | None:
    """A CA file the settings name for this server, whichever the variable (for the doctor's own reads)."""
    for key in ("NODE_EXTRA_CA_CERTS", "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE"):
        if env.get(key):
            return env[key]
    return None


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """The system's CAs plus `ca_file`, as NODE_EXTRA_CA_CERTS adds to Node's."""
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise DoctorFailure(f"cannot use the CA file {ca_file}: {getattr(exc, 'strerror', None) or exc}") from None
    return context


def _grpc_roots(ca_file: str | None, system: bool) -> bytes | None:
    """Root certificates for grpc: None means grpc's own bundle; a CA file plus the system's when asked."""
    if not ca_file:
        return None
    tls_context(ca_file)  # the same one-line failure for an unreadable file
    roots = Path(ca_file).read_bytes()
    bundle = ssl.get_default_verify_paths().cafile
    if system and bundle:
        roots += b"\n" + Path(bundle).read_bytes()
    return roots


def test_request(marker: str, resource_attributes: str = "") -> Any:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    def kv(key: str, value: str) -> KeyValue:
        return KeyValue(key=key, value=AnyValue(string_value=value))

    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    pairs = [p.partition("=") for p in resource_attributes.split(",") if "=" in p]
    rl.resource.attributes.extend([kv(k.strip(), v.strip()) for k, _, v in pairs])
    rl.resource.attributes.append(kv("service.name", "ccmonitor-doctor"))
    sl = rl.scope_logs.add()
    sl.scope.name = "ccmonitor.doctor"
    record = sl.log_records.add()
    record.time_unix_nano = record.observed_time_unix_nano = time.time_ns()
    record.body.string_value = "ccmonitor.doctor"
    record.attributes.extend([kv("event.name", "doctor"), kv("session.id", marker)])
    return request


def send_logs(env: Mapping[str, str], request: Any, timeout: float) -> str:
    """Export `request` the way Claude Code's logs exporter would; returns where it went."""
    protocol, target = logs_target(env)
    headers = otlp_headers(env, protocol)
    gzip_on = (env.get("OTEL_EXPORTER_OTLP_COMPRESSION") or "").lower() == "gzip"
    ca_file, system = exporter_ca(env, protocol)
    if protocol == "grpc":
        _send_grpc(target, request, headers, gzip_on, timeout, _grpc_roots(ca_file, system))
    else:
        _send_http(target, protocol, request, headers, gzip_on, timeout, tls_context(ca_file))
    return f"{protocol} {target}"


def _send_grpc(target: str, request: Any, headers: dict[str, str], gzip_on: bool, timeout: float,
               roots: bytes | None) -> None:
    import grpc
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub

    url = urlsplit(target if "://" in target else f"http://{target}")
    address = f"{url.hostname}:{url.port or 4317}"
    channel = (
        grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=roots))
        if url.scheme == "https"
        else grpc.insecure_channel(address)
    )
    compression = grpc.Compression.Gzip if gzip_on else grpc.Compression.NoCompression
    try:
        LogsServiceStub(channel).Export(
            request, metadata=list(headers.items()), timeout=timeout, compression=compression
        )
    except grpc.RpcError as exc:
        raise DoctorFailure(f"gRPC export to {address} failed: {exc.code().name} {exc.details()}"
                            f"{tls_hint(exc.details())}") from None
    finally:
        channel.close()


def _send_http(url: str, protocol: str, request: Any, headers: dict[str, str], gzip_on: bool, timeout: float,
               context: ssl.SSLContext) -> None:
    import gzip
    import urllib.error
    import urllib.request

    from google.protobuf.json_format import MessageToJson

    if protocol == "http/json":
        body, ctype = MessageToJson(request).encode(), "application/json"
    else:
        body, ctype = request.SerializeToString(), "application/x-protobuf"
    headers = {**headers, "content-type": ctype}
    if gzip_on:
        body, headers["content-encoding"] = gzip.compress(body), "gzip"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context):
            pass
    except urllib.error.HTTPError as exc:
        raise DoctorFailure(f"HTTP export to {url} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DoctorFailure(f"cannot reach {url}: {reason}{tls_hint(reason)}") from None
