"""The server's certificate and key, loaded once at startup for all three ports (issue #10).

Loading here, before any port is bound, turns a wrong file, a key that does not match the certificate
or a file that is not PEM into one line naming the files, instead of a traceback from uvicorn's task or
a gRPC port that accepts connections and then fails every handshake. The same bytes then go to
uvicorn (an ssl.SSLContext) and to gRPC (ssl_server_credentials), so both ports present one chain.
A changed file takes effect at the next start: there is no reload.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc

from ccmonitor.errors import ConfigError


@dataclass(frozen=True)
class Tls:
    context: ssl.SSLContext  # the HTTP ports'
    grpc_credentials: grpc.ServerCredentials


def _no_password() -> bytes:
    raise ConfigError("encrypted")


def load(cert: str, key: str) -> Tls:
    """Both files, checked as a pair; ConfigError (one line) if they cannot serve TLS."""
    cert_path, key_path = Path(cert).expanduser(), Path(key).expanduser()
    where = f"tls_cert {cert} / tls_key {key}"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(cert_path, key_path, password=_no_password)  # never prompt on a terminal
        chain, private_key = cert_path.read_bytes(), key_path.read_bytes()
    except ConfigError:
        raise ConfigError(f"{where}: the key is encrypted; give an unencrypted key "
                          "(openssl pkey -in KEY -out KEY.plain)") from None
    except ssl.SSLError as exc:
        raise ConfigError(f"{where}: {_reason(exc)}") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read ({exc.strerror or exc})") from None
    return Tls(context, grpc.ssl_server_credentials([(private_key, chain)]))


def _reason(exc: ssl.SSLError) -> str:
    text = str(exc.reason or exc)
    if "KEY_VALUES_MISMATCH" in text:
        return "the key does not belong to the certificate"
    if "PEM" in text:
        return "not a PEM certificate (chain) and its PEM private key (swapped, or another format?)"
    return f"cannot be used for TLS ({text})"
