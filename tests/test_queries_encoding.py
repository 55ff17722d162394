"""queries/encoding: strict JSON for every document, a non-finite number written as null."""

from __future__ import annotations

import json
import math

import pytest

from ccmonitor.queries.encoding import dumps, finite


def strict(text: str) -> object:
    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_finite_document_is_written_as_is() -> None:
    doc = {"cost": 1.5, "tokens": 2**63 - 1, "rows": [[1, "a", None]], "name": "ü"}
    assert strict(dumps(doc)) == doc
    assert "ü" in dumps(doc) and dumps(doc, indent=2).count("\n") > 3


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_a_non_finite_number_anywhere_is_null(bad: float) -> None:
    doc = {"tiles": {"cost": bad, "tokens": 5}, "rows": [(1, bad), [bad]], "ok": 0.5}
    assert strict(dumps(doc)) == {"tiles": {"cost": None, "tokens": 5}, "rows": [[1, None], [None]], "ok": 0.5}
    assert finite(bad) is None and finite(2.0) == 2.0 and finite("inf") == "inf"
