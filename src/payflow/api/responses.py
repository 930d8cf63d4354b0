"""How a returned value becomes a response body: `payflow.codec`, the one byte form.

Litestar encodes returned values itself, and its encoder writes a `Decimal` as a JSON
string (`"75.00"`); payflow's amounts are JSON numbers with the currency's minor
digits (`75.00`). `ExactJSON` is the application's response class, so a handler that
returns a Struct sends exactly the bytes `payflow.codec.encode` makes of it, the same
bytes an idempotent POST stores and replays. A handler that sets headers (a `Link`)
returns an `ExactJSON` itself. `Deleted` is the one shape every DELETE answers.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Response
from litestar.serialization import default_serializer
from litestar.types import Serializer
from litestar.utils.helpers import get_enum_string_value

from payflow.codec import encode

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"

T = TypeVar("T")


class Deleted(msgspec.Struct):
    """What a DELETE answers, for any resource: the id, and that it is gone (Stripe's
    `{"id": …, "deleted": true}`)."""

    id: str
    deleted: bool


class ExactJSON(Response[T]):
    """A response whose JSON body is `payflow.codec.encode(content)`."""

    def render(
        self, content: Any, media_type: str, enc_hook: Serializer = default_serializer
    ) -> bytes:
        kind = get_enum_string_value(media_type)
        if not isinstance(content, bytes | str) and kind in (JSON, PROBLEM_JSON):
            return encode(content)
        return super().render(content, media_type, enc_hook)
