"""`/health/live`, `/health/ready`, `/metrics`: what operators and load balancers poll."""

from payflow.api.health.controller import HealthController

__all__ = ["HealthController"]
