"""What the stores of both backends share (store/sqlite/, store/postgres/): one object per database
that writes through its backend's Writer (store/writer.py) when it was opened to write, and reads
through its backend's pool. A backend adds its retention steps and what only it can do."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from ccmonitor.errors import Overloaded
from ccmonitor.records import Batch, StoreResult
from ccmonitor.store import Reader, Row, access
from ccmonitor.store.health import WriterHealth
from ccmonitor.store.writer import Writer

T = TypeVar("T")


class Reads(Protocol):
    """A backend's read side: pooled snapshots."""

    def read(self, fn: Callable[[Any], T]) -> T: ...
    def stream(self, sql: str, params: Sequence[object], chunk: int) -> Iterator[Any]: ...
    def columns(self, table: str) -> list[str]: ...
    def stats(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


class Database:
    def __init__(self, location: str, writer: Writer | None, open_reads: Callable[[], Reads],
                 commit_timeout_s: float) -> None:
        self.location = location  # safe to print: no password
        self._writer = writer
        self.health = writer.health if writer else WriterHealth(commit_timeout_s, alive=lambda: True)
        self.last_commit: dict[str, float] = writer.last_commit if writer else {}
        try:
            self._reads = open_reads()
        except BaseException:
            if writer is not None:
                writer.close()
            raise

    # -- write side ------------------------------------------------------------------------------
    def submit(self, batch: Batch) -> Future[StoreResult]:
        if self._writer is None:
            raise Overloaded("this store was opened read-only")
        return self._writer.submit(batch)

    def has_room(self) -> bool:
        return self._writer is not None and self._writer.has_room()

    @property
    def queued(self) -> int:
        return self._writer.queued if self._writer else 0

    # -- read side -------------------------------------------------------------------------------
    def read(self, fn: Callable[[Reader], T]) -> T:
        return self._reads.read(fn)

    def stream(self, sql: str, params: Sequence[object], chunk: int) -> Iterator[Row]:
        return self._reads.stream(sql, params, chunk)

    def columns(self, table: str) -> list[str]:
        return self._reads.columns(table)

    def stats(self) -> dict[str, Any]:
        return self._reads.stats()

    # -- tokens and secrets (store/access.py) -------------------------------------------------------
    def _change(self, statements: Sequence[tuple[str, Sequence[object]]]) -> list[Any]:
        """One transaction over the statements on a connection of its own; the last one's rows."""
        raise NotImplementedError

    def token(self, *, text: str | None = None, name: str | None = None) -> access.Token | None:
        return self.read(lambda conn: access.find(conn, text=text, name=name))

    def tokens(self) -> list[access.Token]:
        return self.read(access.listed)

    def any_token(self) -> bool:
        return self.read(access.any_token)

    def create_token(self, name: str, role: str, attributes: dict[str, str], now: str) -> str:
        return access.create(self._change, name, role, attributes, now)

    def revoke_token(self, name: str, now: str) -> bool:
        return access.revoke(self._change, name, now)

    def touch_tokens(self, used: dict[str, str]) -> None:
        access.touch(self._change, used)

    def secret(self, name: str) -> bytes:
        return access.secret(self.read, self._change, name)

    def close(self, timeout: float = 30.0) -> None:
        # Readers first: SQLite checkpoints the WAL into the file when the last connection closes, and
        # only the writer's connection may (readers are read-only), so a stopped server leaves one file.
        self._reads.close()
        if self._writer is not None:
            self._writer.close(timeout)
