"""The one thing both receivers call: decode -> records -> store, answering only after commit.

Temporality and dedup happen in the store's writer (they must be atomic with the commit that
acknowledges the request); everything per-record that can run concurrently (parsing, attribute
mapping, hashing) runs here, outside the writer thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from google.protobuf.message import Message

from ccmonitor.errors import CcmonitorError, InternalError, Overloaded, StoreBusy
from ccmonitor.inflight import Hold, Inflight
from ccmonitor.otlp import decode
from ccmonitor.otlp.signals import Signal
from ccmonitor.records import Batch, StoreResult

log = logging.getLogger(__name__)
DECODE_THREADS = 2
TRIM_BYTES = 1 << 20  # after decoding a body this large, hand freed heap back to the OS


class Appender(Protocol):
    """The write side of a store, all that ingest may use."""

    def submit(self, batch: Batch) -> Any: ...

    def has_room(self) -> bool: ...


@dataclass
class Counters:
    """Counters since start, by signal and transport (grpc, http/protobuf, http/json)."""

    started: float = field(default_factory=time.time)
    values: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, signal: str, transport: str, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                self.values[(signal, transport, name)] += n

    def snapshot(self) -> dict[str, dict[str, dict[str, int]]]:
        out: dict[str, dict[str, dict[str, int]]] = {}
        with self._lock:
            for (signal, transport, name), n in sorted(self.values.items()):
                out.setdefault(signal, {}).setdefault(transport, {})[name] = n
        return out


class Ingest:
    def __init__(self, store: Appender, *, store_prompts: bool = True, commit_timeout_s: float = 30.0,
                 max_inflight_bytes: int = 64 << 20, max_body_bytes: int = 16 << 20,
                 max_records: int = 20_000) -> None:
        self.store = store
        self.inflight = Inflight(max_inflight_bytes)
        self.max_body_bytes = max_body_bytes
        self.max_records = max_records
        self.store_prompts = store_prompts
        self.commit_timeout_s = commit_timeout_s
        self.counters = Counters()
        # Decoding is CPU work under the GIL: on its own threads the event loop (every port, /health)
        # keeps its turn every few ms, and the default executor stays free for the dashboard's reads.
        self._decoder = ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="ccmonitor-decode")

    def admit(self) -> None:
        """Refuse before reading or decoding when the write queue is full: overload must not cost CPU."""
        if not self.store.has_room():
            raise Overloaded("write queue full")

    def decode(self, signal: Signal, body: bytes, media_type: str) -> tuple[Batch, int, str]:
        message = decode.parse(body, media_type, signal.request_type, signal.name, self.max_records)
        return signal.to_batch(message, self.store_prompts)

    def _inflate_and_decode(self, signal: Signal, wire: bytes, media_type: str, encoding: str | None,
                            hold: Hold) -> tuple[Batch, int, str]:
        body = decode.decompress(wire, encoding, self.max_body_bytes)
        if body is not wire:
            hold.add(len(body))
        refused: CcmonitorError | None = None
        try:
            result = self.decode(signal, body, media_type)
        except CcmonitorError as exc:
            refused = exc.with_traceback(None)  # its frames hold the decoded message: let it go now
        if len(body) >= TRIM_BYTES:
            release_free_memory()
        if refused is not None:
            raise refused
        return result

    async def export(self, signal: Signal, body: bytes, media_type: str, transport: str, *,
                     encoding: str | None = None, hold: Hold | None = None) -> Message:
        """Store one export request; returns the Export*ServiceResponse once its rows are committed.
        `body` is the wire body (`encoding` still applied); `hold` already counts it when given."""
        self.counters.add(signal.name, transport, requests=1)
        try:
            with contextlib.ExitStack() as stack:
                if hold is None:
                    hold = stack.enter_context(self.inflight.hold())
                    hold.add(len(body))
                self.admit()
                loop = asyncio.get_running_loop()
                batch, rejected, message = await loop.run_in_executor(
                    self._decoder, self._inflate_and_decode, signal, body, media_type, encoding, hold)
            result = await self._store(batch)
        except CcmonitorError as exc:
            self.counters.add(signal.name, transport, **{f"failed_{type(exc).__name__}": 1})
            raise
        except Exception as exc:  # a bug of ours must not lose data: answer retryable, log no payload
            log.error("internal error handling a %s request: %s at %s", signal.name, type(exc).__name__,
                      _where(exc))
            self.counters.add(signal.name, transport, failed_InternalError=1)
            raise InternalError(f"internal error ({type(exc).__name__}); retry later") from None
        self.counters.add(signal.name, transport, accepted=result.accepted, rejected=rejected,
                          duplicates=result.duplicates)
        return signal.response(rejected, message)

    def close(self) -> None:
        self._decoder.shutdown(wait=True, cancel_futures=True)

    async def _store(self, batch: Batch) -> StoreResult:
        if not batch.size:
            return StoreResult(0, 0)
        future = asyncio.wrap_future(self.store.submit(batch))
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.commit_timeout_s)
        except TimeoutError:
            # It may still commit later; the sender's retry is then recognised as a duplicate.
            raise StoreBusy(f"commit took longer than {self.commit_timeout_s:g}s") from None


def _malloc_trim() -> Callable[[], object]:
    """glibc keeps freed heap for reuse: without a trim, one body of millions of tiny messages would
    leave hundreds of MB resident after it was refused. Elsewhere (musl, macOS) a no-op."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    return lambda: trim(0)


release_free_memory = _malloc_trim()


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
