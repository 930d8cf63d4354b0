"""`/api/orders/{orderNumber}/refunds`: refunds of a Paid order."""

from payflow.api.refunds.controller import RefundsController

__all__ = ["RefundsController"]
