"""The one exception tree. Each class knows how it leaves a transport, so every receiver maps
errors in a single place (otlp/http.py, otlp/grpc.py) and nothing else chooses status codes.

    CcmonitorError
    ├── InputError ............ permanent: the sender must not retry (400 / INVALID_ARGUMENT)
    │   ├── DecodeError ....... body is not a valid OTLP request
    │   ├── PayloadTooLarge ... over the configured limit after decompression (413 / RESOURCE_EXHAUSTED)
    │   ├── UnsupportedMediaType  content type or encoding we don't speak (415 / INVALID_ARGUMENT)
    │   ├── Unauthenticated ... missing or wrong token (401 / UNAUTHENTICATED)
    │   └── Forbidden ......... a valid token whose role may not do this (403 / PERMISSION_DENIED)
    ├── RetryableError ........ try again later (503 + Retry-After / UNAVAILABLE)
    │   ├── Overloaded ........ the write queue is full
    │   ├── StoreBusy ......... the database stayed locked or could not commit
    │   └── InternalError ..... a bug of ours; retryable so the sender keeps the data
    ├── ConfigError ........... bad setting or unusable port at startup (one line, exit 2)
    ├── StoreUnavailable ...... the database cannot be opened or written at startup: disk full,
    │                           read-only, no such directory (one line naming file and cause, exit 1)
    └── DoctorFailure ......... a `ccmonitor doctor` check failed (one line saying what to do, exit 1)
"""

from __future__ import annotations

import grpc


class CcmonitorError(Exception):
    http_status = 500
    grpc_code = grpc.StatusCode.INTERNAL


class InputError(CcmonitorError):
    http_status = 400
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class DecodeError(InputError):
    pass


class PayloadTooLarge(InputError):
    http_status = 413
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class UnsupportedMediaType(InputError):
    http_status = 415


class Unauthenticated(InputError):
    http_status = 401
    grpc_code = grpc.StatusCode.UNAUTHENTICATED


class Forbidden(InputError):
    http_status = 403
    grpc_code = grpc.StatusCode.PERMISSION_DENIED


class RetryableError(CcmonitorError):
    http_status = 503
    grpc_code = grpc.StatusCode.UNAVAILABLE
    retry_after_s = 1


class Overloaded(RetryableError):
    pass


class StoreBusy(RetryableError):
    retry_after_s = 2


class InternalError(RetryableError):
    retry_after_s = 5


class ConfigError(CcmonitorError):
    pass


class StoreUnavailable(CcmonitorError):
    pass


class DoctorFailure(CcmonitorError):
    """One failed check, with the sentence that tells the user what to do."""
