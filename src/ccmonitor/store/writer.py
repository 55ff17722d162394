"""The write side both backends share: one writer thread fed by a bounded queue, group commit.

Why a single writer per process: one thread that owns the write connection turns many concurrent
requests into few transactions (group commit), so a durable commit (an fsync) costs little throughput.
A request's future resolves only after the COMMIT that holds its rows returned: acknowledged means
stored. A full queue is Overloaded (503), never a silent drop; a store that cannot commit answers every
waiting request with StoreBusy (503) and says why in `health` (store/health.py), which is all /health
reads. While failing, an idle writer tries a real write every HEARTBEAT_S, so /health recovers by itself.

A backend subclasses Writer and supplies the transaction (each request in its own savepoint, so one
request whose rows the database refuses fails alone), the heartbeat's write, and which of its driver's
errors are failures of the store, with their kind and reason.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field

from ccmonitor.errors import Overloaded, StoreBusy
from ccmonitor.records import Batch, StoreResult
from ccmonitor.store.health import WriterHealth

log = logging.getLogger(__name__)
MAX_RECORDS_PER_TXN = 20_000
HEARTBEAT_S = 2.0  # while failing, an idle writer tries a real write this often


@dataclass(slots=True)
class Work:
    batch: Batch
    future: Future[StoreResult] = field(default_factory=Future)


Done = list[tuple[Work, StoreResult]]


class Writer(ABC):
    """submit() is thread-safe and never blocks on the database. A subclass opens its connection, then
    calls start()."""

    errors: tuple[type[BaseException], ...]  # the driver's errors: a failure of the store or of our SQL
    max_records_per_txn = MAX_RECORDS_PER_TXN
    heartbeat_s = HEARTBEAT_S

    def __init__(self, *, queue_max_records: int, commit_timeout_s: float) -> None:
        self._queue: deque[Work] = deque()
        self._queued = 0
        self._max = queue_max_records
        self._cv = threading.Condition()
        self._stopping = False
        self.last_commit: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, name="ccmonitor-writer", daemon=True)
        self.health = WriterHealth(commit_timeout_s, alive=lambda: self._thread.is_alive() or self._stopping)

    def start(self) -> None:
        self._thread.start()

    # -- what a backend supplies ------------------------------------------------------------------
    @abstractmethod
    def _transaction(self, work: list[Work]) -> Done:
        """One transaction over the work, committed; returns the requests it stored with their results.
        A request the database refused is answered here (its future failed) and left out; a failure of
        the store is raised (one of `errors`), after which nothing of the transaction is stored."""

    @abstractmethod
    def _abort(self) -> None:
        """Clean up after _transaction raised (roll back what is still open, forget staged state)."""

    @abstractmethod
    def _committed(self) -> None:
        """The transaction committed (e.g. staged series state becomes the cache)."""

    @abstractmethod
    def _beat(self) -> bool:
        """The heartbeat's one small real write; False when it was skipped (known still failing)."""

    @abstractmethod
    def _classify(self, exc: BaseException) -> tuple[str, str]:
        """(kind, reason) of a store failure, for health.failed()."""

    @abstractmethod
    def _close_connection(self) -> None: ...

    # -- write side -------------------------------------------------------------------------------
    def submit(self, batch: Batch) -> Future[StoreResult]:
        work = Work(batch)
        n = batch.size
        with self._cv:
            if self._stopping:
                raise Overloaded("server is shutting down")
            if self._queued and self._queued + n > self._max:
                raise Overloaded(f"write queue full ({self._queued} records waiting)")
            self._queue.append(work)
            self._queued += n
            self._cv.notify()
        return work.future

    def has_room(self) -> bool:
        """Cheap check before decoding: a full queue refuses new work without spending CPU on it."""
        return not self._stopping and self._queued < self._max

    @property
    def queued(self) -> int:
        return self._queued

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking work, commit everything queued, then close."""
        with self._cv:
            self._stopping = True
            self._cv.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._close_connection()

    # -- writer thread ----------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cv:
                if not self._queue and not self._stopping:
                    self._cv.wait(self.heartbeat_s if self.health.reason else None)
                if self._stopping and not self._queue:
                    return
                work: list[Work] = []
                n = 0
                while self._queue and n < self.max_records_per_txn:
                    w = self._queue.popleft()
                    work.append(w)
                    n += w.batch.size
            if not work:  # idle: while failing, find out whether the cause went away
                if self.health.reason:
                    self._heartbeat()
                continue
            try:
                self._write(work)
            except BaseException as exc:  # never let the writer die with requests waiting
                log.exception("writer failed")
                self._fail(work, StoreBusy(f"store error: {type(exc).__name__}"))
            finally:
                with self._cv:
                    self._queued -= n

    def _fail(self, work: list[Work], exc: Exception) -> None:
        for w in work:
            if not w.future.done():
                w.future.set_exception(exc)

    def _heartbeat(self) -> None:
        try:
            if not self._beat():
                return
        except self.errors as exc:
            self.health.failed(*self._classify(exc))
            return
        self.health.written()

    def _write(self, work: list[Work]) -> None:
        """One transaction over the work; answers every request's future."""
        self.health.begin()
        try:
            done = self._transaction(work)
        except self.errors as exc:  # the store failed, not a request: all of them get 503
            self._abort()
            self.health.failed(*self._classify(exc))
            self._fail(work, StoreBusy(f"database not writable: {exc}"))
            return
        finally:
            self.health.end()
        self._committed()
        self.health.written()
        now = time.time()
        for w, result in done:
            self.last_commit[w.batch.signal] = now
            w.future.set_result(result)
