"""OpenAPI of refunds beyond what Litestar infers: the raw-bytes body and the examples."""

from __future__ import annotations

from typing import Any

from payflow.api.idempotent import idempotent_post_operation
from payflow.api.openapi import request_body, with_exact_amount
from payflow.api.refunds.schemas import CreateRefundRequest


def refund_request_schema() -> dict[str, Any]:
    return with_exact_amount(
        CreateRefundRequest,
        "at most the order currency's minor digits; default: all that is left to refund",
        10.00,
    )


CreateRefundOperation = idempotent_post_operation(
    201,
    request_body(
        refund_request_schema(),
        "How much to refund; an empty body (or `{}`) refunds all that is left",
        required=False,
        partial={"amount": 10.00, "reason": "requested_by_customer"},
        rest={},
    ),
    location="/api/orders/{orderNumber}/refunds/{refundId}",
)
REFUND_EXAMPLE: dict[str, Any] = {
    "id": "re_3f1c2b9a8d7e6f5a4b3c2d1e",
    "orderId": "ord_5e8f2a1b9c3d4e6f7a8b9c0d",
    "orderNumber": "ORD-67890",
    "amount": 10.00,
    "currency": "USD",
    "status": "succeeded",
    "reason": "requested_by_customer",
    "createdAt": "2026-11-22T20:49:12.345Z",
}
