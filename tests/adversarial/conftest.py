"""Fixtures of the adversarial suites, and the per-suite summary `scripts/soak` reads."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.adversarial.scale import SCALE, STATS, start_share


def suite_of(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    return module.removeprefix("test_").removesuffix(".py")


_TESTS_LEFT: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    _TESTS_LEFT[:] = [item.nodeid for item in items]


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.nodeid in _TESTS_LEFT:
        start_share(len(_TESTS_LEFT))
        _TESTS_LEFT.remove(item.nodeid)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.failed and "tests/adversarial/" in report.nodeid:
        STATS[suite_of(report.nodeid)]["violations"] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not STATS:
        return
    terminalreporter.section(f"adversarial summary (scale {SCALE}x)")
    for suite, counters in sorted(STATS.items()):
        terminalreporter.write_line(
            f"{suite}: examples={counters['examples']} 5xx={counters['5xx']} "
            f"violations={counters['violations']} false_accepts={counters['false_accepts']}"
        )
    report_path = os.environ.get("PAYFLOW_FUZZ_REPORT")
    if report_path:
        Path(report_path).write_text(
            json.dumps({suite: dict(c) for suite, c in STATS.items()}, indent=2) + "\n"
        )
