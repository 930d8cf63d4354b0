"""`/api/customers`: customers, their wallets and the wallet's ledger (DESIGN §7)."""

from payflow.api.customers.controller import BalanceTransactionsController, CustomersController

__all__ = ["BalanceTransactionsController", "CustomersController"]
