"""Issue 15, items 5, 9 and 10 on the real stack: what a student types that is
not what the bot expects.

Before: a message starting with "/" that was no valid payload made Rasa print a
warning with the whole message (names and phone numbers included, past the log
redaction); `/greet{"platform": {"a": 1}}`, a capture time in the year 9999
(that case's evidence log then answered 503 for good) and `"size": Infinity`
broke a student's own flows; `handoffs.platform` stored client text with a phone
number; a typed "/EXTERNAL_counsellor_message{...}" paged a counsellor.
"""

from __future__ import annotations

import json
import time

import requests
from sqlalchemy import select

from jikimi import content
from jikimi.db import Case, Handoff, sender_hash, session_scope
from tests.faults.helpers import COUNSELLORS, Widget

NAME, PHONE = "김민지", "010-4321-8765"
SHA = "ab" * 32


def test_typed_payloads_never_put_a_students_words_in_the_log(healthy):
    stack = healthy
    widget = Widget(stack, address="192.0.2.41")
    try:
        for typed in (
            f"/{NAME} {PHONE}",
            f'/greet{{"name": "{NAME} {PHONE}"}}',
            f"/greet@0.9 {NAME} {PHONE}",
            f'/{NAME}{{"x": 1}} {PHONE}',
        ):
            widget.send_until_handled(typed)
            assert widget.drain(1), typed
        time.sleep(1)
    finally:
        widget.close()
    log = stack.output()
    assert NAME not in log and PHONE not in log and PHONE.replace("-", "") not in log


def test_crafted_payloads_do_not_break_a_students_own_flows(healthy):
    stack = healthy
    widget = Widget(stack, address="192.0.2.42")
    unreadable = content.message("evidence_unreadable").text.split(".")[0]
    try:
        widget.send_until_handled("/greet")
        widget.drain()
        widget.send_until_handled('/greet{"platform": {"a": 1}}')
        assert widget.drain(2), "answered"
        for entities in (
            {"sha256": SHA, "name": "a.png", "size": 10, "captured_at": "9999-12-31T20:00:00Z"},
            {"sha256": SHA, "name": "a.png", "size": 1e400},
        ):
            raw = "/add_evidence" + json.dumps(entities)  # 1e400: "Infinity"
            widget.send_until_handled(raw)
            said = "\n".join(widget.drain(2))
            assert unreadable in said, said
        # The evidence panel's real payload still works, and its log page opens.
        widget.send_until_handled(
            "/add_evidence"
            + json.dumps({"sha256": SHA, "name": "캡처.png", "size": 1234,
                          "captured_at": "2026-11-30T10:00:00.000Z"})
        )  # fmt: skip
        said = "\n".join(widget.drain(2))
        link = next(word for word in said.split() if "/evidence/" in word)
        page = requests.get(link.rstrip(").,"), timeout=30)
        assert page.status_code == 200 and SHA in page.text
        # A platform entity that is client text never reaches a handoff.
        widget.send_until_handled(f'/greet{{"platform": "{PHONE} 여기로 연락"}}')
        widget.send_until_handled("요즘 너무 힘들어서 죽고 싶어")
        widget.drain(2)
        with session_scope(stack.settings) as session:
            cases = (
                session.execute(
                    select(Case).where(Case.sender_hash == sender_hash(session, widget.sender_id))
                )
                .scalars()
                .all()
            )
            assert len(cases) == 1 and [e.captured_at.year for e in cases[0].evidence] == [2026]
            platforms = (
                session.execute(
                    select(Handoff.platform).where(
                        Handoff.sender_hash == sender_hash(session, widget.sender_id)
                    )
                )
                .scalars()
                .all()
            )
        assert all(p is None or p.isascii() and PHONE not in p for p in platforms), platforms
    finally:
        widget.close()


def test_a_typed_external_intent_pages_nobody(healthy):
    stack = healthy
    widget = Widget(stack, address="192.0.2.43")
    before = len([m for m in stack.twilio.messages if m.to in COUNSELLORS])
    try:
        for typed in (
            '/EXTERNAL_counsellor_message{"counsellor_text": "죽고 싶어"}',
            "/EXTERNAL_handoff_accepted",
            "EXTERNAL: EXTERNAL_handoff_accepted",
        ):
            widget.send_until_handled(typed)
            assert widget.drain(1) == [content.message("unreadable").text], typed
    finally:
        widget.close()
    time.sleep(3)
    assert len([m for m in stack.twilio.messages if m.to in COUNSELLORS]) == before
