"""The few OpenAPI pieces Litestar cannot infer from the types, built one way for all.

Decimals are JSON numbers (`DecimalAsNumber`); request bodies that an idempotent POST
reads as raw bytes are documented from the Struct that really decodes them
(`request_body`), an exact amount as the number it must be (`exact_amount`); a
response can name its examples (`example_response`) and headers (`response_header`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import msgspec
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    Example,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    RequestBody,
    Schema,
)
from litestar.plugins import OpenAPISchemaPlugin

from payflow.api.responses import JSON
from payflow.domain.money import MAX_AMOUNT

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition


class DecimalAsNumber(OpenAPISchemaPlugin):
    """Every `Decimal` payflow sends is a JSON number (`decimal_format="number"`), not a string."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is Decimal

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        return Schema(type=OpenAPIType.NUMBER)


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """msgspec's JSON Schema with `#/$defs/…` references replaced by the definitions."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {key: _inline(value, defs) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    return schema


def struct_schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """A request Struct's JSON Schema, self-contained."""
    document = msgspec.json.schema(struct)
    inlined: dict[str, Any] = _inline(document, document.get("$defs", {}))
    inlined.pop("$defs", None)
    return inlined


def exact_amount(description: str, example: float) -> dict[str, Any]:
    """An amount field: a JSON number (the Struct sees a Decimal, checked in domain.money)."""
    return {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": float(MAX_AMOUNT),
        "description": f"JSON number (a string is rejected), exact, {description}",
        "examples": [example],
    }


def with_exact_amount(
    struct: type[msgspec.Struct], description: str, example: float
) -> dict[str, Any]:
    """`struct`'s schema with its `amount` documented as an exact amount (`exact_amount`)."""
    schema = struct_schema(struct)
    schema["properties"]["amount"] = exact_amount(description, example)
    return schema


def request_body(
    schema: dict[str, Any],
    description: str,
    *,
    required: bool = True,
    **examples: Any,
) -> RequestBody:
    """A JSON request body; `examples` by name, a value or a `(summary, value)` pair."""
    named = {
        name: Example(summary=value[0], value=value[1])
        if isinstance(value, tuple)
        else Example(value=value)
        for name, value in examples.items()
    }
    # Litestar's spec classes pass plain dicts through to the JSON document unchanged.
    media = OpenAPIMediaType(schema=cast("Schema", schema), examples=cast("Any", named or None))
    return RequestBody(required=required, description=description, content={JSON: media})


def example_response(model: Any, description: str, **examples: Any) -> ResponseSpec:
    """A response documented by the named examples given, not by generated ones."""
    return ResponseSpec(
        model,
        description=description,
        generate_examples=False,
        examples=[Example(summary=name, value=value) for name, value in examples.items()],
    )


def header_parameter(
    name: str, description: str, *, required: bool = False, **schema: Any
) -> Parameter:
    return Parameter(
        name=name,
        param_in="header",
        required=required,
        description=description,
        schema=Schema(type=OpenAPIType.STRING, **schema),
    )


def response_header(
    operation: Operation,
    status: int,
    name: str,
    description: str,
    *,
    required: bool = False,
    kind: OpenAPIType = OpenAPIType.STRING,
) -> None:
    response = (operation.responses or {}).get(str(status))
    if isinstance(response, OpenAPIResponse):
        header = OpenAPIHeader(schema=Schema(type=kind), description=description, required=required)
        response.headers = {**(response.headers or {}), name: header}
