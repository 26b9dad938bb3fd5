"""Logging for the three processes: nothing personal in the logs.

What each process logs at INFO, checked by running them (the log tests in
tests/e2e/test_safe_failure.py and tests/e2e/test_hostile.py):
- Rasa server (`rasa run`, LOG_LEVEL INFO by default): start-up lines only. It
  logs message text, slots and events at DEBUG, and Sanic's access log (URLs
  with ?token=) at LOG_LEVEL_LIBRARIES, ERROR by default: neither reaches INFO
  unless an operator turns them on.
- Action server (rasa-sdk): start-up lines; an action's exception at ERROR
  with its traceback.
- Desk service: start-up lines; no access log.
Our own code never logs message text, phone numbers or tokens.

As a safety net, `install()` runs every log record of the process through
`jikimi.redact.RedactingFilter` (phone numbers, e-mails, 주민등록번호, URL
tokens) when it is created. A record factory rather than a filter on handlers:
Rasa (coloredlogs) and Sanic (dictConfig) replace handlers after start-up,
and a filter on a logger does not see its children's records.
"""

from __future__ import annotations

import logging
import os

from jikimi.redact import RedactingFilter

FORMAT = "%(asctime)s %(levelname)-7s %(name)s - %(message)s"


def install() -> None:
    """Redacts every log record this process creates from now on (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "jikimi_redacting", False):
        return
    redacting = RedactingFilter()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redacting.filter(record)
        return record

    factory.jikimi_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure(level: str = "") -> None:
    """Redaction, and INFO to stderr for a process that sets up no logging of its
    own (the action server and the desk; Rasa configures its own)."""
    install()
    level = level or os.environ.get("LOG_LEVEL", "INFO")
    logging.basicConfig(level=level.upper(), format=FORMAT)
    # Access lines carry URLs (case codes, tokens): not at INFO.
    logging.getLogger("sanic.access").setLevel(logging.WARNING)
