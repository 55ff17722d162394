"""Team views (issue #10): the users leaderboard, and the same numbers per group of one custom
resource attribute (`team`, `department`, `cost_center`, `ccmonitor.token` = per machine).

Every number is summed per (user, attribute set) and folded in Python: a row's group is its attribute
set's member `by` (store/attribute_sets.py), read once from the small `attribute_sets` table; rows
whose set lacks the key (or that have none) are the group NONE. Cost and tokens come from
`rollup_metrics_users` for the whole hours of the range and from raw rows for its edges (the split of
queries/rollups.py), so a 30-day leaderboard never reads the token rows; lines, edit decisions,
commits, pull requests and sessions started are rare points (one per export interval at most), summed
from raw rows over the `metrics_name_time` index. Definitions:
  * tokens: all four types; sessions: `session.count` (started in the range, as the tiles count);
  * active day: a UTC day with token or cost usage; cost per active day = cost / active days;
  * accept rate: accepted / (accepted + rejected) of `code_edit_tool.decision`;
  * last seen: the latest activity (rollup_sessions) of the sessions that started before the range end.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ccmonitor import telemetry as names
from ccmonitor.queries.buckets import bucket_seconds, bucket_sql, dense, iso
from ccmonitor.queries.filters import USER_EXPR, Filters
from ccmonitor.queries.rollups import HOUR, rollup_where, split_by, whole
from ccmonitor.store import Reader
from ccmonitor.telemetry import utc_text

NONE = "(none)"
USAGE = (names.COST, names.TOKENS)
DAY = 86400
USER = USER_EXPR.format(p="")
LEADERBOARD = ("cost_usd", "tokens", "sessions", "active_days", "cost_per_active_day", "lines_added", "lines_removed",
               "edits_accepted", "edits_rejected", "accept_rate", "commits", "pull_requests", "last_seen")


def groups_of(conn: Reader, by: str | None) -> dict[int, str]:
    """{attribute set id: its value of `by`} for the sets that have the key."""
    if by is None:
        return {}
    member = conn.sql.json_member("attributes")
    key = conn.sql.json_key(by)
    return {int(i): str(v) for i, v in conn.execute(
        f"SELECT id, {member} FROM attribute_sets WHERE {member} IS NOT NULL", [key, key])}


def usage(conn: Reader, f: Filters, keys: tuple[str, ...], metrics: tuple[str, ...] = USAGE,
          bucket: int | None = None) -> dict[tuple[Any, ...], float]:
    """{(values of keys): sum} of cost and token metrics; keys from "user", "set", "metric", "bucket"
    (`bucket` seconds, a multiple of an hour for the rollup to serve, else raw rows only)."""
    raw = {"user": USER, "set": f"COALESCE({conn.sql.set_of()}, 0)", "metric": "metric_name",
           "bucket": bucket_sql(conn.sql, bucket or DAY)}
    rolled = {"user": '"user"', "set": "attribute_set", "metric": "metric_name",
              "bucket": bucket_sql(conn.sql, bucket or DAY, "hour")}
    hours, raws = split_by(replace(f, users=()), HOUR, (bucket or DAY) % 3600 == 0)
    marks = ", ".join("?" * len(metrics))
    out: dict[tuple[Any, ...], float] = defaultdict(float)

    def collect(sql: str, params: list[object]) -> None:
        for *key, value in conn.execute(sql, params):
            out[tuple(k if k != "" else None for k in key)] += value or 0

    group = ", ".join(str(i + 1) for i in range(len(keys)))
    for part in raws:
        where, params = replace(part, users=f.users).where(conn.sql)
        collect(f"SELECT {', '.join(raw[k] for k in keys)}, {conn.sql.total('metric_value')} FROM metrics"
                f" WHERE metric_name IN ({marks}) AND {where} GROUP BY {group}", [*metrics, *params])
    if hours is not None:
        where, params = rollup_where(conn.sql, f, "hour", hours)
        if f.users:
            where += f' AND "user" IN ({", ".join("?" * len(f.users))})'
            params += f.users
        collect(f"SELECT {', '.join(rolled[k] for k in keys)}, {conn.sql.total('value')} FROM rollup_metrics_users"
                f" WHERE metric_name IN ({marks}) AND {where} GROUP BY {group}", [*metrics, *params])
    return dict(out)


@dataclass
class Tally:
    """One leaderboard row being added up."""
    sums: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    days: set[Hashable] = field(default_factory=set)
    users: set[str | None] = field(default_factory=set)
    last_seen: str | None = None

    def row(self) -> dict[str, Any]:
        s, days = self.sums, len(self.days)
        decided = s["edits_accepted"] + s["edits_rejected"]
        return {"cost_usd": round(s["cost_usd"], 6), "tokens": whole(s["tokens"]),
                "sessions": whole(s["sessions"]), "active_days": days,
                "cost_per_active_day": round(s["cost_usd"] / days, 6) if days else None,
                "lines_added": whole(s["lines_added"]), "lines_removed": whole(s["lines_removed"]),
                "edits_accepted": whole(s["edits_accepted"]), "edits_rejected": whole(s["edits_rejected"]),
                "accept_rate": s["edits_accepted"] / decided if decided else None,
                "commits": whole(s["commits"]), "pull_requests": whole(s["pull_requests"]),
                "last_seen": iso(self.last_seen)}


_COUNTED = {(names.SESSIONS, None): "sessions", (names.LINES, "added"): "lines_added",
            (names.LINES, "removed"): "lines_removed", (names.COMMITS, None): "commits",
            (names.PULL_REQUESTS, None): "pull_requests", (names.EDIT_DECISION, "accept"): "edits_accepted",
            (names.EDIT_DECISION, "reject"): "edits_rejected"}
Cell = tuple[str | None, int]  # (user, attribute set)


def tallies(conn: Reader, f: Filters) -> dict[Cell, Tally]:
    """Every leaderboard number per (user, attribute set) in the range."""
    out: dict[Cell, Tally] = defaultdict(Tally)
    for (user, aset, metric, day), value in usage(conn, f, ("user", "set", "metric", "bucket")).items():
        t = out[(user, int(aset))]
        t.sums["cost_usd" if metric == names.COST else "tokens"] += value
        t.days.add(day)
    set_expr = f"COALESCE({conn.sql.set_of()}, 0)"
    for modelled, metrics in ((True, (names.LINES,)),
                              (False, (names.SESSIONS, names.COMMITS, names.PULL_REQUESTS, names.EDIT_DECISION))):
        where, params = f.where(conn.sql, model=modelled)
        for user, aset, metric, kind, decision, value in conn.execute(
                f"SELECT {USER}, {set_expr}, metric_name, type, decision, {conn.sql.total('metric_value')}"
                f" FROM metrics WHERE metric_name IN ({', '.join('?' * len(metrics))}) AND {where}"
                " GROUP BY 1, 2, 3, 4, 5", [*metrics, *params]):
            column = _COUNTED.get((metric, kind if metric == names.LINES else decision))
            if column is not None:
                out[(user, int(aset))].sums[column] += value or 0
    for user, aset, last in _last_seen(conn, f):
        if (user, aset) in out:
            t = out[(user, aset)]
            t.last_seen = max(t.last_seen or last, last)
    return out


def _last_seen(conn: Reader, f: Filters) -> Iterable[tuple[str | None, int, str]]:
    where, params = ["first_ts < ?"], [utc_text(f.until)]
    if f.users:
        where.append(f'"user" IN ({", ".join("?" * len(f.users))})')
        params += f.users
    session_set = f"COALESCE({conn.sql.session_set('session_id')}, 0)"
    for user, aset, last in conn.execute(
            f'SELECT "user", {session_set}, MAX(last_ts) FROM rollup_sessions WHERE {" AND ".join(where)}'
            " GROUP BY 1, 2", params):
        if last is not None:
            yield user, int(aset), last


def fold(cells: dict[Cell, Tally], key: Callable[[Cell], Hashable]) -> dict[Hashable, Tally]:
    """The tallies added up per key(cell); active days are the distinct days of the cells folded (a group's:
    the days any member was active), users those with cost, tokens or a session started."""
    out: dict[Hashable, Tally] = defaultdict(Tally)
    for cell, t in cells.items():
        into = out[key(cell)]
        for column, value in t.sums.items():
            into.sums[column] += value
        into.days |= t.days
        if t.sums["cost_usd"] or t.sums["tokens"] or t.sums["sessions"]:
            into.users.add(cell[0])
        if t.last_seen is not None:
            into.last_seen = max(into.last_seen or t.last_seen, t.last_seen)
    return out


def by_cost(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (-(r["cost_usd"] or 0), r[key] is None, str(r[key])))


def leaderboard(conn: Reader, f: Filters, by: str | None = None) -> dict[str, Any]:
    """Per user (per group and user with `by`), per group, and the whole range; most expensive first."""
    cells = tallies(conn, f)
    group = groups_of(conn, by)

    def group_of(cell: Cell) -> str:
        return group.get(cell[1], NONE)

    users: list[dict[str, Any]]
    groups: list[dict[str, Any]] | None = None
    if by is None:
        users = [{"user": u, **t.row()} for u, t in fold(cells, lambda c: c[0]).items()]
    else:
        per_pair = fold(cells, lambda c: (group_of(c), c[0]))
        users = [{"group": pair[0], "user": pair[1], **t.row()}  # type: ignore[index]
                 for pair, t in per_pair.items()]
        groups = by_cost([{"group": g, "users": len(t.users), **t.row()}
                          for g, t in fold(cells, group_of).items()], "group")
    whole_range = fold(cells, lambda c: None).get(None, Tally())
    return {"by": by, "users": by_cost(users, "user"), "groups": groups,
            "total": {"users": len(whole_range.users), **whole_range.row()}}


def cost_by_group(conn: Reader, f: Filters, by: str | None = None) -> dict[str, Any]:
    """Cost per time bucket, one series per group (one series "all" without `by`)."""
    size = bucket_seconds(f)
    group = groups_of(conn, by)
    rows = [(int(b), group.get(int(s), NONE) if by else "all", v)
            for (b, s), v in usage(conn, f, ("bucket", "set"), (names.COST,), size).items()]
    out = dense(f, size, rows)
    series: dict[str, list[float]] = out["series"]  # type: ignore[assignment]
    out["series"] = {k: [round(v, 6) for v in vs] for k, vs in series.items()}
    return out
