"""The one thing both receivers call: decode -> records -> store, answering only after commit.

Temporality and dedup happen in the store's writer (they must be atomic with the commit that
acknowledges the request); everything per-record that can run concurrently (parsing, attribute
mapping, hashing) runs here, outside the writer thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

from google.protobuf.message import Message

from ccmonitor.errors import CcmonitorError, InternalError, Overloaded, StoreBusy
from ccmonitor.otlp import decode
from ccmonitor.otlp.signals import Signal
from ccmonitor.records import Batch, StoreResult

log = logging.getLogger(__name__)
OFFLOAD_BYTES = 1 << 20  # decode bodies larger than this in a thread, keeping the event loop responsive


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
                 max_inflight_bytes: int = 64 << 20) -> None:
        self.store = store
        self.max_inflight_bytes = max_inflight_bytes
        self._inflight = 0  # bytes of request bodies being decoded (event loop only: no lock needed)
        self.store_prompts = store_prompts
        self.commit_timeout_s = commit_timeout_s
        self.counters = Counters()

    def decode(self, signal: Signal, body: bytes, media_type: str) -> tuple[Batch, int, str]:
        message = decode.parse(body, media_type, signal.request_type)
        return signal.to_batch(message, self.store_prompts)

    async def export(self, signal: Signal, body: bytes, media_type: str, transport: str) -> Message:
        """Store one export request; returns the Export*ServiceResponse once its rows are committed."""
        self.counters.add(signal.name, transport, requests=1)
        try:
            batch, rejected, message = await self._decode_within_budget(signal, body, media_type)
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

    async def _decode_within_budget(self, signal: Signal, body: bytes, media_type: str) -> tuple[Batch, int, str]:
        """Decoding multiplies a body's memory several times; bound what is decoded at once, and
        refuse before decoding when the write queue is already full (overload must not cost CPU)."""
        if not self.store.has_room():
            raise Overloaded("write queue full")
        if self._inflight and self._inflight + len(body) > self.max_inflight_bytes:
            raise Overloaded(f"{self._inflight} request bytes already being decoded")
        self._inflight += len(body)
        try:
            if len(body) > OFFLOAD_BYTES:
                return await asyncio.to_thread(self.decode, signal, body, media_type)
            return self.decode(signal, body, media_type)
        finally:
            self._inflight -= len(body)

    async def _store(self, batch: Batch) -> StoreResult:
        if not batch.size:
            return StoreResult(0, 0)
        future = asyncio.wrap_future(self.store.submit(batch))
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.commit_timeout_s)
        except TimeoutError:
            # It may still commit later; the sender's retry is then recognised as a duplicate.
            raise StoreBusy(f"commit took longer than {self.commit_timeout_s:g}s") from None


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
