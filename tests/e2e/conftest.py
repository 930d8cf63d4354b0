"""A real `payflow serve` process on a free port, with its own embedded database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.served import ROOT, Served, free_port, start, stop

__all__ = ["ROOT", "Served", "free_port", "served", "start", "stop"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    instance = start(tmp_path_factory.mktemp("payflow"), free_port(), {})
    yield instance
    if instance.process.poll() is None:
        stop(instance)
