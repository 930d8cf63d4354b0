"""payflow: a webhook-driven payment gateway simulator."""

__version__ = "0.1.0"
