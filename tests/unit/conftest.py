"""Unit tests use the fixtures of tests/conftest.py: mongomock, a fake clock, a test client."""
