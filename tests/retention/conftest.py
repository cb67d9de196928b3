"""The purge works on handoff's tables and queue: the same fixtures as tests/handoff."""
from tests.handoff.conftest import config, ctx  # noqa: F401  (fixtures, found by name)
