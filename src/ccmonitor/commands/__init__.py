"""The terminal commands: `report`, `prune`, `export`, `stats` (issue 5) and `token` (#10); cli.py
registers COMMANDS.

Every command reads the same database `serve` writes (`--db`, default from Config / CCMONITOR_DB), or
for `report --server URL` a running server's API, which answers from the same query functions.
The options and time parsing they share live in options.py; one module per command family.
"""

from __future__ import annotations

import click

from ccmonitor.commands.export import export_command
from ccmonitor.commands.maintenance import prune_command, stats_command
from ccmonitor.commands.report import report_group
from ccmonitor.commands.token import token_group

COMMANDS: list[click.Command] = [report_group, prune_command, export_command, stats_command, token_group]
