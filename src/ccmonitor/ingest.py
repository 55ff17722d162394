"""The one thing both receivers call: decode -> records -> store, answering only after commit.

A receiver hands over a typed Request (otlp/signals.py: Export) that knows how to decode itself;
ingest runs that on its own threads, inside the request's byte budget, and never sees OTLP (imports
go one way: otlp -> ingest -> store). Temporality and dedup happen in the store's writer (they must
be atomic with the commit that acknowledges the request); everything per-record that can run
concurrently (parsing, attribute mapping, hashing) runs before, outside the writer thread.
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

from ccmonitor.errors import CcmonitorError, InternalError, Overloaded, StoreBusy
from ccmonitor.inflight import Hold, Inflight
from ccmonitor.records import Batch, Decoded, StoreResult

log = logging.getLogger(__name__)
DECODE_THREADS = 2
TRIM_BYTES = 1 << 20  # after decoding a body this large, hand freed heap back to the OS


class Appender(Protocol):
    """The write side of a store, all that ingest may use."""

    def submit(self, batch: Batch) -> Any: ...

    def has_room(self) -> bool: ...


class Request(Protocol):
    """One export request of one signal, as a receiver received it."""

    @property
    def name(self) -> str: ...  # the signal: logs | metrics | traces

    def decode(self, hold: Hold) -> Decoded:
        """Undo the content encoding (adding the inflated bytes to `hold`) and decode into rows;
        InputError (400/413/415) when the request is bad."""
        ...


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
    def __init__(self, store: Appender, *, commit_timeout_s: float = 30.0, max_inflight_bytes: int = 64 << 20) -> None:
        self.store = store
        self.inflight = Inflight(max_inflight_bytes)
        self.commit_timeout_s = commit_timeout_s
        self.counters = Counters()
        # Decoding is CPU work under the GIL: on its own threads the event loop (every port, /health)
        # keeps its turn every few ms, and the default executor stays free for the dashboard's reads.
        self._decoder = ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="ccmonitor-decode")

    def admit(self) -> None:
        """Refuse before reading or decoding when the write queue is full: overload must not cost CPU."""
        if not self.store.has_room():
            raise Overloaded("write queue full")

    @staticmethod
    def _decode(request: Request, hold: Hold) -> Decoded:
        refused: CcmonitorError | None = None
        try:
            decoded = request.decode(hold)
        except CcmonitorError as exc:
            refused = exc.with_traceback(None)  # its frames hold the decoded message: let it go now
        if hold.size >= TRIM_BYTES:
            release_free_memory()
        if refused is not None:
            raise refused
        return decoded

    async def export(self, request: Request, size: int, transport: str, *, hold: Hold | None = None) -> Decoded:
        """Store one export request; returns what it became once its rows are committed. `size` is its
        wire size, which `hold` already counts when given."""
        name = request.name
        self.counters.add(name, transport, requests=1)
        try:
            with contextlib.ExitStack() as stack:
                if hold is None:
                    hold = stack.enter_context(self.inflight.hold())
                    hold.add(size)
                self.admit()
                loop = asyncio.get_running_loop()
                decoded = await loop.run_in_executor(self._decoder, self._decode, request, hold)
            result = await self._store(decoded.batch)
        except CcmonitorError as exc:
            self.counters.add(name, transport, **{f"failed_{type(exc).__name__}": 1})
            raise
        except Exception as exc:  # a bug of ours must not lose data: answer retryable, log no payload
            log.error("internal error handling a %s request: %s at %s", name, type(exc).__name__, _where(exc))
            self.counters.add(name, transport, failed_InternalError=1)
            raise InternalError(f"internal error ({type(exc).__name__}); retry later") from None
        self.counters.add(name, transport, accepted=result.accepted, rejected=decoded.rejected,
                          duplicates=result.duplicates)
        return decoded

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
