"""`ccmonitor report`: the timezone boundary end to end, reading CCMONITOR_DB or --db."""

from __future__ import annotations

import json
from pathlib import Path

import stored
from test_commands import run
from test_periods import midnight_session


def test_timezone_boundary_end_to_end(server) -> None:
    midnight_session(server)
    db = str(server.db_path)

    def days(*args: str) -> dict[str, int]:
        result = run("report", "daily", "--db", db, "--json", *args)
        assert result.exit_code == 0, result.output
        return {r["period"]: r["input_tokens"] for r in json.loads(result.stdout)["rows"]}

    assert days("--tz", "America/New_York") == {"2026-11-27": 100, "2026-11-28": 200}
    assert days("--tz", "UTC") == {"2026-11-28": 300}
    assert days("--tz", "America/New_York", "--since", "2026-11-28", "--until", "2026-11-28") == {"2026-11-28": 200}
    assert days("--tz", "America/New_York", "--until", "2026-11-27") == {"2026-11-27": 100}
    csv = run("report", "daily", "--db", db, "--csv", "--tz", "America/New_York").stdout.splitlines()
    assert csv[0].startswith("period,input_tokens,") and len(csv) == 3


def test_report_reads_ccmonitor_db_and_prints_a_table(captures_db: Path | str) -> None:
    result = run("report", "monthly", "--tz", "UTC", env={"CCMONITOR_DB": str(captures_db)})
    assert result.exit_code == 0 and "2026-11" in result.stdout and "61,200" in result.stdout
    result = run("report", "users", "--db", str(captures_db), "--attr", "team=platform", "--breakdown", "--json")
    assert {r["model"] for r in json.loads(result.stdout)["rows"]} == {"claude-opus-5-5", "claude-opus-4-8",
                                                                      "claude-opus-4-8[1m]"}


def test_report_from_a_server_with_a_token(server_factory) -> None:
    """`report --server` sends CCMONITOR_AUTH_TOKEN: the API of a server started with --auth-token wants it."""
    filler = server_factory()
    midnight_session(filler)
    filler.stop()
    server = server_factory(db=filler.db_path, auth_token="s3cret")
    refused = run("report", "daily", "--server", server.url(), "--tz", "UTC", "--json")
    assert refused.exit_code != 0 and "401" in refused.output
    result = run("report", "daily", "--server", server.url(), "--tz", "UTC", "--json",
                 env={"CCMONITOR_AUTH_TOKEN": "s3cret"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows"]


def test_team_reports(captures_db: Path | str) -> None:
    db = str(captures_db)

    def doc(*args: str) -> dict:
        result = run("report", *args, "--db", db, "--tz", "UTC", "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    count = "SELECT COUNT(DISTINCT COALESCE(user_email, account_uuid, user_id)) FROM metrics"
    seen = stored.scalar(captures_db, count)
    used = stored.scalar(captures_db, f"{count} WHERE metric_name LIKE '%cost%'")
    users = doc("users")
    costs = [r["cost_usd"] for r in users["rows"]]
    assert costs == sorted(costs, reverse=True) and len(costs) == seen >= used >= 12
    assert all(r["active_days"] == 1 and r["last_seen"] for r in users["rows"] if r["cost_usd"])
    teams = doc("users", "--by", "team")["rows"]
    assert [t["group"] for t in teams] == ["platform"] and teams[0]["cost_usd"] == users["total"]["cost_usd"]
    assert teams[0]["users"] == seen and teams[0]["sessions"] == sum(r["sessions"] for r in users["rows"])
    daily = doc("daily", "--by", "team")
    assert [(r["period"], r["group"]) for r in daily["rows"]] == [("2026-11-27", "platform")]
    assert daily["rows"][0]["input_tokens"] == daily["total"]["input_tokens"]
    assert doc("users", "--token", "no-such-machine")["rows"] == []
    silent = doc("silent", "--days", "3", "--until", "2026-12-31")
    assert len(silent["rows"]) == seen and silent["days"] == 3 and not silent["tokens_in_use"]
    assert doc("silent", "--days", "3", "--until", "2026-11-28")["rows"] == []
    adoption = {r["measure"]: r for r in doc("adoption", "--until", "2026-11-27")["rows"]}  # to the 28th, 0:00
    assert adoption["DAU"]["value"] == adoption["MAU"]["value"] == used and adoption["DAU"]["previous"] == 0
    assert doc("adoption", "--until", "2026-11-28")["rows"][0]["value"] == 0  # the 28th: nobody
    for name, heading in (("adoption", "Version"), ("silent", "Days silent")):
        table = run("report", name, "--db", db, "--until", "2026-11-27" if name == "adoption" else "2026-12-31")
        assert table.exit_code == 0 and heading in table.stdout, table.output
    refused = run("report", "tools", "--db", db, "--by", "team")
    assert refused.exit_code == 2 and "--by KEY applies to" in refused.output
