"""Saved payment methods: create (idempotent), fetch, attach and detach (idempotent),
and a customer's attached methods.

A card is checked and reduced to what may be kept (`schemas.checked_card`) before
anything is written; the number and CVC go no further than that. Duplicate detection
is the database's: a unique index on (customer, fingerprint) of attached methods
(store/mongo/payment_methods.py), so of any number of concurrent attaches of one card
to one customer, one wins and the others are told which method has it.

Database round trips of `POST /api/payment-methods` with a fresh key: 1 read (the
installation's fingerprint key; +1 for the customer when one is named) + claim, insert,
store the response (+1 read on a duplicate). Attach: 2 reads (the method, the customer:
a 404 is never recorded) + claim, read, update, read, store the response. Detach: 1
read + claim, update, read, store. A replay is the reads and the claim.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import structlog
from litestar import Controller, Response, get, post
from litestar.params import FromPath, QueryParameter

from payflow import idempotency
from payflow.api.body import convert_body
from payflow.api.dependencies import (
    Customers,
    DataScope,
    PaymentMethods,
    Post,
    find_customer,
    found,
    provide,
)
from payflow.api.idempotent import idempotent_problems, stored_json
from payflow.api.openapi import example_response
from payflow.api.paging import next_page_link, read_page
from payflow.api.payment_methods.docs import (
    ATTACHED_EXAMPLE,
    DETACHED_EXAMPLE,
    PAYMENT_METHOD_EXAMPLE,
    AttachOperation,
    CreatePaymentMethodOperation,
    DetachOperation,
)
from payflow.api.payment_methods.schemas import (
    AttachRequest,
    DetachRequest,
    PaymentMethodOut,
    billing_details_doc,
    checked_card,
    fingerprint_body,
    parse_create_payment_method,
    payment_method_out,
)
from payflow.api.problems import problems
from payflow.api.responses import ExactJSON
from payflow.domain.saved_methods import SavedPaymentMethod, derive_payment_method_id
from payflow.errors import (
    NotFound,
    PaymentMethodAttachedElsewhere,
    PaymentMethodDuplicated,
    PaymentMethodWasDetached,
)
from payflow.store.base import (
    PaymentMethodAttached,
    PaymentMethodDetached,
    PaymentMethodDuplicate,
    PaymentMethodNotFound,
    PaymentMethodStore,
    StoredResponse,
)

ROUTE = "/api/payment-methods"

log = structlog.get_logger(__name__)


@contextmanager
def method_problems(method_id: str) -> Iterator[None]:
    """The store's refusals of a payment method, as the problems a client sees."""
    try:
        yield
    except PaymentMethodNotFound:
        raise NotFound(f"No payment method with id {method_id!r}.") from None
    except PaymentMethodDetached:
        raise PaymentMethodWasDetached(
            f"Payment method {method_id!r} was detached; it can be neither used nor attached again."
        ) from None
    except PaymentMethodAttached as exc:
        raise PaymentMethodAttachedElsewhere(
            f"Payment method {method_id!r} is attached to another customer, {exc.customer}; "
            "detach it first."
        ) from None
    except PaymentMethodDuplicate as exc:
        raise PaymentMethodDuplicated(
            f"The customer already has this card, as {exc.existing}.",
            extra={"existingPaymentMethod": exc.existing},
        ) from None


async def find_payment_method(
    payment_methods: PaymentMethodStore, method_id: str, data_scope: str | None
) -> SavedPaymentMethod:
    method = await payment_methods.get(method_id, data_scope)
    return found(method, f"No payment method with id {method_id!r}.")


class PaymentMethodsController(Controller):
    path = ROUTE
    tags = ["payment methods"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = provide("payment_methods", "customers", "data_scope", "post")

    @post(
        "/",
        status_code=201,
        summary="Save a card, for a customer if one is named (idempotent)",
        responses={
            201: example_response(
                PaymentMethodOut, "Saved (or replayed)", card=PAYMENT_METHOD_EXAMPLE
            ),
            **idempotent_problems(
                404,
                s400="validation-error (the card number, expiry or CVC; never echoed), "
                "idempotency-key-missing or idempotency-key-invalid",
                s404="not-found: no such customer",
                s409="payment-method-duplicate (`existingPaymentMethod` names the customer's "
                "method with this card), or idempotency-in-progress (with Retry-After)",
            ),
        },
        operation_class=CreatePaymentMethodOperation,
        description=(
            "The number is checked (12-19 digits, Luhn) and the expiry must not be past. Only "
            "brand, funding, last four digits, expiry and a fingerprint are kept: never the "
            "number or the CVC. Requires an `Idempotency-Key`."
        ),
    )
    async def create_payment_method(
        self,
        post: Post,
        payment_methods: PaymentMethods,
        customers: Customers,
        data_scope: DataScope,
    ) -> Response[bytes]:
        payload = await post.json_object()
        request = parse_create_payment_method(payload)
        key = await payment_methods.fingerprint_key()
        card = checked_card(request.card, post.now, key)
        if request.customer is not None:
            await find_customer(customers, request.customer, data_scope)
        billing = billing_details_doc(request.billing_details)

        async def create(claim: idempotency.Claim) -> StoredResponse:
            method = SavedPaymentMethod(
                id=derive_payment_method_id(idempotency.seed_for_ids(claim)),
                card=card,
                created_at=post.now,
                customer=request.customer,
                billing_details=billing,
                scope=claim.record.scope,
            )
            with method_problems(method.id):
                stored = await payment_methods.insert(method)
            log.info("payment_method_created", payment_method=stored.id, brand=card.brand)
            return stored_json(201, payment_method_out(stored), f"{ROUTE}/{stored.id}")

        return await post.respond(ROUTE, fingerprint_body(payload, key), create)

    @get(
        "/{method_id:str}",
        summary="Fetch one saved payment method",
        responses={
            200: example_response(
                PaymentMethodOut, "The payment method", card=PAYMENT_METHOD_EXAMPLE
            ),
            **problems(400, 404),
        },
    )
    async def get_payment_method(
        self, payment_methods: PaymentMethods, data_scope: DataScope, method_id: FromPath[str]
    ) -> PaymentMethodOut:
        return payment_method_out(await find_payment_method(payment_methods, method_id, data_scope))

    @post(
        "/{method_id:str}/attach",
        status_code=200,
        summary="Attach to a customer (idempotent)",
        responses={
            200: example_response(
                PaymentMethodOut, "Attached (or replayed)", attached=ATTACHED_EXAMPLE
            ),
            **idempotent_problems(
                404,
                s404="not-found: no such payment method or customer",
                s409="payment-method-duplicate (`existingPaymentMethod` names the customer's "
                "method with this card), payment-method-detached, payment-method-attached "
                "(to another customer), or idempotency-in-progress (with Retry-After)",
            ),
        },
        operation_class=AttachOperation,
        description=(
            "Attaching to the customer it is attached to already changes nothing. A detached "
            "method cannot be attached again. Requires an `Idempotency-Key`."
        ),
    )
    async def attach_payment_method(
        self,
        post: Post,
        payment_methods: PaymentMethods,
        customers: Customers,
        data_scope: DataScope,
        method_id: FromPath[str],
    ) -> Response[bytes]:
        payload = await post.json_object()
        request = convert_body(payload, AttachRequest)
        await find_payment_method(payment_methods, method_id, data_scope)
        customer = await find_customer(customers, request.customer, data_scope)

        async def attach(_: idempotency.Claim) -> StoredResponse:
            with method_problems(method_id):
                method = await payment_methods.attach(method_id, customer.id, post.now, data_scope)
            log.info("payment_method_attached", payment_method=method_id, customer_id=customer.id)
            return stored_json(200, payment_method_out(method))

        return await post.respond(f"{ROUTE}/{method_id}/attach", payload, attach)

    @post(
        "/{method_id:str}/detach",
        status_code=200,
        summary="Detach for good (idempotent)",
        responses={
            200: example_response(
                PaymentMethodOut, "Detached (or replayed)", detached=DETACHED_EXAMPLE
            ),
            **idempotent_problems(
                404,
                s409="payment-method-detached (detached already), or idempotency-in-progress "
                "(with Retry-After)",
            ),
        },
        operation_class=DetachOperation,
        description=(
            "A detached method can be neither used for a payment nor attached again; the same "
            "card may be saved again as a new method. Requires an `Idempotency-Key`."
        ),
    )
    async def detach_payment_method(
        self,
        post: Post,
        payment_methods: PaymentMethods,
        data_scope: DataScope,
        method_id: FromPath[str],
    ) -> Response[bytes]:
        payload = await post.json_object(optional=True)
        convert_body(payload, DetachRequest)
        await find_payment_method(payment_methods, method_id, data_scope)

        async def detach(_: idempotency.Claim) -> StoredResponse:
            with method_problems(method_id):
                method = await payment_methods.detach(method_id, post.now, data_scope)
            log.info("payment_method_detached", payment_method=method_id)
            return stored_json(200, payment_method_out(method))

        return await post.respond(f"{ROUTE}/{method_id}/detach", payload, detach)


class CustomerPaymentMethodsController(Controller):
    path = "/api/customers/{customer_id:str}/payment-methods"
    tags = ["payment methods"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = provide("payment_methods", "customers", "data_scope")

    @get(
        "/",
        summary="The customer's attached payment methods, newest first (plain array; Link)",
        responses={
            200: example_response(
                list[PaymentMethodOut], "Payment methods", methods=[ATTACHED_EXAMPLE]
            ),
            **problems(400, 404),
        },
    )
    async def list_customer_payment_methods(
        self,
        payment_methods: PaymentMethods,
        customers: Customers,
        data_scope: DataScope,
        customer_id: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> ExactJSON[list[PaymentMethodOut]]:
        customer = await find_customer(customers, customer_id, data_scope)
        found, next_cursor = await read_page(
            payment_methods.for_customer(customer.id, limit, cursor)
        )
        headers = next_page_link(
            f"/api/customers/{customer.id}/payment-methods", next_cursor, limit
        )
        return ExactJSON([payment_method_out(m) for m in found], headers=headers)
