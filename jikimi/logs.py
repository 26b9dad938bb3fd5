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

Python warnings are log records too (`logging.captureWarnings`): Rasa warns
with `warnings.warn`, which writes to stderr past every logging filter, and its
payload parser quotes the whole message in the warning ("Failed to parse
arguments in line '/...'"): a student's name and number went to the log that
way. Captured warnings are redacted like any record, and a quoted line is
withheld altogether (a name cannot be recognised by a pattern). The channel
guard also keeps such messages from reaching the parser (bot/channels.py).
"""

from __future__ import annotations

import logging
import os
import re

from jikimi.redact import RedactingFilter

# Rasa's warnings that quote what a user typed: "... in line '<text>'. ..."
_QUOTED_LINE = re.compile(r"(in line )'.*?'(?=\. )", re.S)
WITHHELD = "'(message withheld)'"


def withhold_quoted_lines(record: logging.LogRecord) -> None:
    """Drops the user's text that a captured Rasa warning quotes."""
    if record.name == "py.warnings":
        record.msg = _QUOTED_LINE.sub(rf"\g<1>{WITHHELD}", record.getMessage())
        record.args = None


FORMAT = "%(asctime)s %(levelname)-7s %(name)s - %(message)s"


def install() -> None:
    """Redacts every log record this process creates from now on (idempotent)."""
    logging.captureWarnings(True)
    previous = logging.getLogRecordFactory()
    if getattr(previous, "jikimi_redacting", False):
        return
    redacting = RedactingFilter()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        withhold_quoted_lines(record)
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
