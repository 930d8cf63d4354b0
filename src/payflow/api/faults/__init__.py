"""`/api/faults`: fault rules over HTTP (create, list, delete)."""

from payflow.api.faults.controller import FaultRulesController

__all__ = ["FaultRulesController"]
