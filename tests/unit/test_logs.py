"""Log lines: readable on a terminal, JSON lines elsewhere or when asked."""

from __future__ import annotations

import io

from payflow.logs import wants_json


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_readable_lines() -> None:
    assert not wants_json(False, Terminal())


def test_a_pipe_or_file_gets_json_lines() -> None:
    assert wants_json(False, io.StringIO())


def test_json_when_asked_even_on_a_terminal() -> None:
    assert wants_json(True, Terminal())


def test_a_stream_without_isatty_gets_json_lines() -> None:
    assert wants_json(False, object())
