"""inflight: the byte budget of bodies held at once, released however a request ends."""

from __future__ import annotations

import pytest

from ccmonitor.errors import Overloaded
from ccmonitor.inflight import Inflight


def test_a_request_alone_is_always_admitted() -> None:
    budget = Inflight(100)
    with budget.hold() as hold:
        hold.add(60)
        hold.add(500)  # its own bytes never refuse it: nothing else is held
        assert budget.held == 560
    assert budget.held == 0


def test_a_second_request_past_the_limit_is_overloaded_and_keeps_nothing() -> None:
    budget = Inflight(100)
    with budget.hold() as first:
        first.add(80)
        with pytest.raises(Overloaded, match="90 request bytes already held"), budget.hold() as second:
            second.add(10)
            second.add(30)
        assert budget.held == 80
    assert budget.held == 0


def test_released_on_an_exception_too() -> None:
    budget = Inflight(100)
    with pytest.raises(RuntimeError), budget.hold() as hold:
        hold.add(70)
        raise RuntimeError("client went away")
    assert budget.held == 0
    with budget.hold() as again:
        again.add(100)
        assert budget.held == 100
