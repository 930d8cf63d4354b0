"""The exact JSON codec: one byte form for every body payflow sends, stores or replays.

Numbers are read as `Decimal` (`float_hook`), never as floats, and `Decimal` amounts go
out as JSON numbers. The API's responses and the webhooks the worker signs both use it,
so a replayed answer and a re-sent event are the very same bytes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

_decoder = msgspec.json.Decoder(float_hook=Decimal)
_encoder = msgspec.json.Encoder(decimal_format="number")


def encode(value: Any) -> bytes:
    """Compact JSON, `Decimal` as a number."""
    return _encoder.encode(value)


def decode(body: bytes | str) -> Any:
    """Any JSON value, numbers exact; raises `msgspec.DecodeError` (and the few errors
    msgspec lets through, see `api.body.decode_json_object`)."""
    return _decoder.decode(body)
