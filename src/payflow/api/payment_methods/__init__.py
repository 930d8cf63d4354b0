"""`/api/payment-methods`: saved cards, attached to a customer or not (DESIGN §7)."""

from payflow.api.payment_methods.controller import (
    CustomerPaymentMethodsController,
    PaymentMethodsController,
)

__all__ = ["CustomerPaymentMethodsController", "PaymentMethodsController"]
