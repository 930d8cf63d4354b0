"""The store contract suite (see conftest.py)."""

import pytest

# Every store contract holds on mongomock, the embedded server and a MongoDB replica set.
EVERY_BACKEND = pytest.mark.backends("mongomock", "embedded", "mongod-rs")
