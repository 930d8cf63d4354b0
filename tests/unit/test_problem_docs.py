"""Every problem slug payflow can answer with is described once, and every description
belongs to a slug payflow answers with (errors.py is the one source of both)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.testing import AsyncTestClient

import payflow
from payflow.errors import PayflowError, problem_classes, problem_docs, problem_for
from payflow.store.base import StoreUnavailable

Client = AsyncTestClient[Any]

# Exceptions payflow does not raise itself but answers for: what Litestar and the store
# raise, and one nobody expected.
FOREIGN_EXCEPTIONS: list[Exception] = [
    NotFoundException(),
    MethodNotAllowedException(),
    ValidationException(),
    HTTPException(status_code=413),
    HTTPException(status_code=429),
    HTTPException(status_code=415),
    StoreUnavailable("no server"),
    RuntimeError("unexpected"),
]


def every_payflow_module_imported() -> None:
    """Problem classes may live in any module (api/ among them): define them all."""
    for module in pkgutil.walk_packages(payflow.__path__, "payflow."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)


def slug_of(problem: Any) -> str:
    return str(problem.type_).removeprefix("/problems/")


def answerable_slugs() -> set[str]:
    every_payflow_module_imported()
    raised = {cls.slug for cls in problem_classes()}
    return raised | {slug_of(problem_for(exc)) for exc in FOREIGN_EXCEPTIONS}


def test_every_slug_payflow_answers_with_has_a_description() -> None:
    docs = problem_docs()
    undescribed = sorted(slug for slug in answerable_slugs() if not docs.get(slug, "").strip())
    assert undescribed == []


def test_every_description_has_a_slug_payflow_answers_with() -> None:
    answerable = answerable_slugs()
    assert sorted(set(problem_docs()) - answerable) == []


def test_each_problem_class_has_a_slug_and_a_description_of_its_own() -> None:
    """An inherited slug would make two classes share one description, an inherited
    description would describe a slug it was not written for."""
    every_payflow_module_imported()
    classes = list(problem_classes())
    for cls in classes:
        assert "slug" in vars(cls), cls
        assert "description" in vars(cls), cls
    slugs = [cls.slug for cls in classes]
    assert len(slugs) == len(set(slugs))


def test_a_database_outage_is_a_503_and_any_other_4xx_keeps_its_status() -> None:
    outage = problem_for(StoreUnavailable("no server"))
    assert (slug_of(outage), outage.status_code) == ("service-unavailable", 503)
    unsupported = problem_for(HTTPException(status_code=415, detail="no such media type"))
    assert (slug_of(unsupported), unsupported.status_code) == ("bad-request", 415)
    assert isinstance(unsupported, PayflowError)


@pytest.mark.anyio
async def test_each_problem_type_uri_serves_its_description(client: Client) -> None:
    for slug, description in problem_docs().items():
        response = await client.get(f"/problems/{slug}")
        assert response.status_code == 200
        assert response.text == f"{slug}: {description}\n"
