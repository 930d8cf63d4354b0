"""Structured logs via structlog: readable lines on a terminal, JSON lines elsewhere.

A person watching `payflow serve` reads aligned, coloured lines; a supervisor, a file or
a pipe gets one JSON object per line, which log shippers parse. `[log] json = true` asks
for JSON even on a terminal.

Secrets and signatures are never passed to a logger; the `redact` processor is a
second line of defence for fields whose names say they hold one.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO, cast

import structlog

_SENSITIVE = ("secret", "signature", "authorization", "password", "api_key")


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name in list(event):
        if any(word in name.lower() for word in _SENSITIVE):
            event[name] = "[redacted]"
    return event


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is when a line is written.

    structlog caches each logger on first use together with its output file; handing
    it `sys.stderr` itself would pin the stream of that moment, so logs would miss a
    later redirection (a test's capture, a supervisor swapping the stream).
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_STDERR = _CurrentStderr()


def wants_json(asked: bool, stream: Any = None) -> bool:
    """JSON lines when asked, or when the stream (stderr by default) is not a terminal."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return asked or not (callable(isatty) and isatty())


def configure_logging(level: str = "INFO", json_lines: bool = False) -> None:
    """`json_lines` forces JSON; otherwise stderr decides (`wants_json`)."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if wants_json(json_lines)
        else structlog.dev.ConsoleRenderer(colors=True)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=cast("TextIO", _STDERR)),
        cache_logger_on_first_use=True,
    )
    # httpx logs every request it sends at INFO: one more line per webhook, through the
    # standard library's handlers, repeating what `webhook_delivered` already says.
    logging.getLogger("httpx").setLevel(logging.WARNING)
