"""The request codec: a JSON object body, numbers exact, then a Struct or a 400.

Request bodies are decoded with JSON numbers kept exact (`payflow.codec.decode`), then
converted into Structs that forbid unknown fields. Every way a body can fail becomes a
`validation-error` naming the field, never a 500. Amounts get their own check in
`domain.money` (a JSON string must not pass as a number), which is why a resource's
parser may keep msgspec off its `amount` (`convert_body(..., exact=("amount",))`).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from payflow.codec import decode
from payflow.errors import ValidationFailed

T = TypeVar("T")
_FIELD_AT = re.compile(r"^(?P<message>.*?) - at `\$(?P<path>[^`]*)`$")
_FIELD_NAMED = re.compile(r"field `(?P<field>[^`]*)`")


def _unreadable(message: str) -> ValidationFailed:
    return ValidationFailed(
        [{"field": "body", "message": f"malformed JSON: {message}"}],
        detail="The request body is not valid JSON.",
    )


def decode_json_object(body: bytes) -> dict[str, Any]:
    """Parse a request body that must be a JSON object, numbers exact."""
    try:
        value = decode(body)
    except msgspec.DecodeError as exc:
        message = str(exc)
        if "out of range" in message:
            message = "a number is too large"
        raise _unreadable(message) from None
    # msgspec lets these through: invalid UTF-8 in a string, nesting deeper than the
    # interpreter allows, a number whose exponent `Decimal` cannot hold (1e-99999999999999999999).
    except UnicodeDecodeError:
        raise _unreadable("not valid UTF-8") from None
    except RecursionError:
        raise _unreadable("nested too deeply") from None
    except ArithmeticError:
        raise _unreadable("a number is out of range") from None
    if not isinstance(value, dict):
        raise ValidationFailed([{"field": "body", "message": "must be a JSON object"}])
    return value


def field_error(exc: msgspec.ValidationError) -> dict[str, str]:
    """msgspec's message as payflow's `{field, message}` (the field as a JSON path)."""
    text = str(exc)
    if match := _FIELD_AT.match(text):
        path = match["path"].lstrip(".")
        return {"field": path or "body", "message": match["message"]}
    if match := _FIELD_NAMED.search(text):
        return {"field": match["field"], "message": text}
    return {"field": "body", "message": text}


def convert_body(payload: dict[str, Any], shape: type[T], exact: tuple[str, ...] = ()) -> T:
    """Convert a decoded body into a request Struct; a mismatch is a 400 with the field.

    `exact` names amount fields the caller checks itself against a currency: msgspec
    sees a placeholder there, so its rules (a number, a Decimal) do not decide them.
    """
    shaped = dict(payload)
    for name in exact:
        if name in payload:
            shaped[name] = Decimal(1)
    try:
        return msgspec.convert(shaped, shape, strict=True)
    except msgspec.ValidationError as exc:
        raise ValidationFailed([field_error(exc)]) from None
