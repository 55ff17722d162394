"""`ccmonitor stats` and `ccmonitor prune`: look after the database file `serve` writes."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ccmonitor import __version__, reports, retention
from ccmonitor.commands.options import db_option, duration, open_reader
from ccmonitor.errors import StoreBusy


@click.command("stats")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the body /stats serves, from the file).")
def stats_command(db: str | None, as_json: bool) -> None:
    """Rows, newest timestamps and size of the database (what /stats says)."""
    store = open_reader(db)
    try:
        body = {**store.stats(), "version": __version__}
    except StoreBusy as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    reports.render_mapping(f"ccmonitor database {store.location}", body, "json" if as_json else "table",
                           sys.stdout)


@click.command("prune")
@db_option
@click.option("--older-than", "older_than", metavar="AGE", help="Delete telemetry older than AGE (e.g. 30d).")
@click.option("--prompts-older-than", "prompts_older_than", metavar="AGE",
              help="Blank prompt text older than AGE, keeping the events (e.g. 7d).")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted or blanked.")
def prune_command(db: str | None, older_than: str | None, prompts_older_than: str | None, dry_run: bool) -> None:
    """Delete old telemetry in small batches, then give the space back; safe while `serve` runs
    (it waits out a busy writer, up to two minutes per step, before it stops with one line)."""
    if older_than is None and prompts_older_than is None:
        raise click.UsageError("give --older-than AGE and/or --prompts-older-than AGE")
    now = datetime.now(UTC)
    before = retention.cutoff(duration(older_than), now) if older_than else None
    prompts = retention.cutoff(duration(prompts_older_than), now) if prompts_older_than else None
    store = open_reader(db)
    try:
        counts = store.count(before, prompts)
        if dry_run:
            reports.render_mapping("would prune", counts, "table", sys.stdout)
            return
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=reports.console(sys.stderr), transient=False) as bar:
            task = bar.add_task("pruning", total=sum(counts.values()) or 1)
            done: dict[str, int] = {}
            if before:
                done.update(store.prune(before, progress=lambda _, n: bar.advance(task, n)))
            if prompts:
                done["prompts"] = store.blank_prompts(prompts, before or "",
                                                     progress=lambda _, n: bar.advance(task, n))
            bar.update(task, description="vacuuming")
            done["pages_freed"] = store.vacuum()
            bar.update(task, description="done", completed=sum(counts.values()) or 1)
    except StoreBusy as exc:
        raise click.ClickException(f"prune stopped: {exc}") from None
    finally:
        store.close()
    reports.render_mapping("prune", done, "table", sys.stdout)
