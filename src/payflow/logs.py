"""Structured logs: one JSON object per line (or readable lines), via structlog.

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


def configure_logging(level: str = "INFO", json_lines: bool = True) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=False)
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
