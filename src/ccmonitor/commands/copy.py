"""`ccmonitor copy`: move a SQLite history into PostgreSQL (transfer.py does the work), with a progress
bar per table and a summary of what was read, stored, already there and refused."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ccmonitor import reports
from ccmonitor.errors import CcmonitorError, StoreBusy
from ccmonitor.store import Store, is_url, open_store
from ccmonitor.transfer import QUEUE_ROWS, Transfer, summary

SQLITE_HEADER = b"SQLite format 3\x00"


@click.command("copy")
@click.option("--from", "source", required=True, metavar="FILE",
              help="The SQLite database to copy from (only read; `serve` may keep writing it).")
@click.option("--to", "target", required=True, metavar="URL",
              help="The PostgreSQL database to copy into, a postgresql:// URL (its tables are created if new).")
def copy_command(source: str, target: str) -> None:
    """Move a SQLite history into PostgreSQL exactly. Rows already there are skipped, so an interrupted
    copy resumes by running it again, and a second run adds nothing."""
    path = sqlite_file(source)
    if not is_url(target):
        raise click.BadParameter(f"{target!r} is not a postgresql:// URL", param_hint="--to")
    src = opened(lambda: open_store(path, write=False))
    try:
        columns = src.columns("metrics")
        if "attribute_set" not in columns:
            raise click.ClickException(
                f"{path} has no ccmonitor tables" if not columns else
                f"{path} was written by an older ccmonitor: run `ccmonitor serve --db {path}` once (it upgrades"
                " the file), then copy")
        dst = opened(lambda: open_store(target, queue_max_records=QUEUE_ROWS))
        try:
            transfer = Transfer(src, dst)
            with quiet_store():
                run(transfer)
        except StoreBusy as exc:
            raise click.ClickException(f"copy stopped: {exc}. Run the same command again to resume: rows already"
                                       " copied are skipped.") from None
        finally:
            dst.close()
    finally:
        src.close()
    table = Table()
    for column in ("table", "read", "stored", "already there", "refused"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for row in summary(transfer.tallies):
        table.add_row(*(f"{v:,}" if isinstance(v, int) else v for v in row.values()))
    screen = reports.console(sys.stdout)
    screen.print(f"copied {path} into {dst.location}")
    screen.print(table)
    refused = sum(t.refused for t in transfer.tallies.values())
    if refused:
        click.echo(f"error: {refused:,} rows were refused: PostgreSQL cannot hold them, so they were not copied."
                   f" Fix or delete them in {path} and run copy again:", err=True)
        for line in transfer.refusals:
            click.echo(f"  {line}", err=True)
        if refused > len(transfer.refusals):
            click.echo(f"  ... and {refused - len(transfer.refusals):,} more", err=True)
        sys.exit(1)


def run(transfer: Transfer) -> None:
    """The copy, with one progress bar per table (rows done of the rows the source had)."""
    with Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=reports.console(sys.stderr)) as bar:
        tasks = {t: bar.add_task(t, total=n) for t, n in transfer.sizes().items()}
        transfer.progress = lambda table, n: bar.advance(tasks[table], n)
        transfer.run()


@contextlib.contextmanager
def quiet_store() -> Iterator[None]:
    """The writer logs each batch the database refuses; the copy halves such batches until it finds the
    rows, and names them in its summary, so those lines would only break up the progress bar."""
    logger = logging.getLogger("ccmonitor.store")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def sqlite_file(source: str) -> Path:
    """--from: an existing SQLite file, else a clear error."""
    path = Path(source)
    if is_url(source) or not path.is_file():
        raise click.BadParameter(f"no SQLite file at {source}", param_hint="--from")
    with path.open("rb") as f:
        if f.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise click.BadParameter(f"{source} is not a SQLite database", param_hint="--from")
    return path


def opened(open_it: Callable[[], Store]) -> Store:
    try:
        return open_it()
    except CcmonitorError as exc:
        raise click.ClickException(str(exc)) from None
