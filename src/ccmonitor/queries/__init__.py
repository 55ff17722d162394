"""The read side: named queries every view uses (dashboard, JSON API, CLI reports, /stats, tests).

Each query takes a Reader (store/__init__.py): one snapshot of whichever backend, with its Dialect
as `conn.sql`. Views get readers from Store.read() and never see the write side."""
