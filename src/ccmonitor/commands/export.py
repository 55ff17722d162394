"""`ccmonitor export`: the command around export.py, which streams one table in constant memory."""

from __future__ import annotations

import sys

import click

from ccmonitor import export
from ccmonitor.commands.options import db_option, open_reader, when
from ccmonitor.errors import StoreBusy


@click.command("export")
@db_option
@click.option("--table", "table", type=click.Choice(export.TABLES), required=True, help="Table to export.")
@click.option("--format", "fmt", type=click.Choice(export.FORMATS), default="csv", show_default=True)
@click.option("--since", help="Only rows from: a date, an ISO time (local unless it has a zone), or 7d.")
@click.option("--until", help="Only rows before: a date (included), an ISO time, or a duration ago.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              show_default=True, help="File to write; - is standard output.")
def export_command(db: str | None, table: str, fmt: str, since: str | None, until: str | None,
                   output: str) -> None:
    """Stream one table as CSV or JSON Lines, in constant memory (values exactly as stored)."""
    start, end = when(since, None), when(until, None, end=True)
    store = open_reader(db)
    try:
        if output == "-":
            n = export.write(store, table, fmt, sys.stdout, start, end)
        else:
            with open(output, "w", encoding="utf-8", newline="") as out:
                n = export.write(store, table, fmt, out, start, end)
    except StoreBusy as exc:
        raise click.ClickException(f"export stopped: {exc}") from None
    finally:
        store.close()
    if output != "-":
        click.echo(f"exported {n} {table} rows to {output}", err=True)
