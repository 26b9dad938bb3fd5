"""End-to-end tests share the session's stack (tests/conftest.py,
tests/support/stack.py); the names below are what their modules import."""

from tests.support.stack import (  # noqa: F401
    COUNSELLORS,
    HANDOFF_TIMEOUT_S,
    Stack,
    counsellors_on_call,
    report_answers,
)
