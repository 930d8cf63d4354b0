"""`payflow clock show` and `payflow clock advance`: durations, output, and errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from payflow.app import create_app
from payflow.cli.clock import parse_duration
from payflow.lifespan import Overrides
from payflow.timefmt import isoformat
from tests.support import START, FakeClock, make_settings
from tests.unit.test_cli import API, run


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("1.5", 1.5),
        ("90s", 90),
        ("90m", 5400),
        ("1h30m", 5400),
        ("7d", 604800),
        ("2w", 1209600),
        ("1D", 86400),
    ],
)
def test_durations_read_as_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "90x", "1h 30m", "5m-", "h1"])
def test_a_bad_duration_is_a_usage_error(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
    code, _, err = run("clock", "advance", text, "--api", API)
    assert code == 2
    assert "not a duration" in err


def serving(mode: str, mock_db: Any) -> Iterator[TestClient[Any]]:
    settings = make_settings(clock__mode=mode, clock__start=isoformat(START))
    app = create_app(settings, Overrides(clock=FakeClock(), database=mock_db))
    with TestClient(app, base_url=API) as client:
        yield client


@pytest.fixture
def on_test_clock(mock_db: Any) -> Iterator[TestClient[Any]]:
    yield from serving("test", mock_db)


@pytest.fixture
def on_real_clock(mock_db: Any) -> Iterator[TestClient[Any]]:
    yield from serving("real", mock_db)


def test_advance_90m_moves_the_clock_and_prints_the_new_time(
    on_test_clock: TestClient[Any],
) -> None:
    code, out, _ = run("clock", "advance", "90m", "--api", API, http=on_test_clock)
    assert (code, out) == (0, "2036-11-22T22:17:01.123Z  (test clock)\n")
    code, out, _ = run("clock", "show", "--api", API, http=on_test_clock)
    assert (code, out) == (0, "2036-11-22T22:17:01.123Z  (test clock)\n")


def test_on_the_real_clock_it_says_the_test_clock_is_off(on_real_clock: TestClient[Any]) -> None:
    code, out, err = run("clock", "advance", "1h", "--api", API, http=on_real_clock)
    assert (code, out) == (1, "")
    assert "404" in err
    assert 'mode = "test"' in err
