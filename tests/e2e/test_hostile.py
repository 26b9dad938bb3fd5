"""The hostile-input corpus (tests/data/hostile_inputs.yml) through the REST channel
of the real stack (`jikimi run`): every input gets a reply or a clean 4xx, the
conversation goes on afterwards, and the database holds nothing it should not."""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

import pytest
import requests
import yaml
from sqlalchemy import func, select

from jikimi.db import Case, EvidenceItem, Handoff, OutboxMessage, sender_hash, session_scope
from jikimi.settings import load_settings

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile_inputs.yml"


def load_corpus():
    data = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    return [
        pytest.param(group, index, entry, id=f"{group}: {entry['name']}")
        for group, entries in data.items()
        for index, entry in enumerate(entries)
    ]


def sender_for(group: str, index: int) -> str:
    return f"hostile-{group}-{index}"


def request_for(entry: dict, sender: str):
    """(body bytes, the message text or None) as the corpus entry describes."""
    if "body" in entry:
        return entry["body"].encode("utf-8", "surrogatepass"), None
    if "repeat_body" in entry:
        text, times = entry["repeat_body"]
        return (text * times).encode(), None
    if "json" in entry:
        body = dict(entry["json"])
        if "sender" in entry:
            text, times = entry["sender"]
            body["sender"] = text * times
        return json.dumps(body).encode(), None
    if "repeat" in entry:
        text, times = entry["repeat"]
        message = text * times
    else:
        message = entry["message"]
    if entry.get("normalise"):
        message = unicodedata.normalize(entry["normalise"], message)
    return json.dumps({"sender": sender, "message": message}).encode(), message


def stored(stack, sender: str) -> dict:
    """What the database holds for this conversation, by table."""
    settings = getattr(stack, "settings", None) or load_settings(
        environ={**os.environ, "JIKIMI_DATABASE_URL": stack.database_url}
    )
    with session_scope(settings) as session:
        conversation = sender_hash(session, sender)

        def count(statement) -> int:
            return session.execute(statement).scalar_one()

        return {
            "cases": count(select(func.count(Case.id)).where(Case.sender_hash == conversation)),
            "evidence": count(
                select(func.count(EvidenceItem.id))
                .join(Case, EvidenceItem.case_id == Case.id)
                .where(Case.sender_hash == conversation)
            ),
            "handoff": count(
                select(func.count(Handoff.id)).where(Handoff.sender_hash == conversation)
            ),
            "outbox": count(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.sender_hash == conversation
                )
            ),
        }


@pytest.mark.parametrize("group, index, entry", load_corpus())
def test_hostile_input_gets_a_reply_or_a_clean_4xx(stack, group, index, entry):
    sender = sender_for(group, index)
    body, _message = request_for(entry, sender)
    response = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    expect = entry.get("expect", "reply")
    if expect == "reply":
        assert response.status_code == 200, response.text[:500]
        replies = response.json()
        assert replies and all(isinstance(r, dict) for r in replies), replies
        text = " ".join(r.get("text") or "" for r in replies)
        assert text.strip(), replies
        for wanted in entry.get("contains", []):
            assert wanted in text, (wanted, text)
        for unwanted in entry.get("excludes", []):
            assert unwanted not in text, (unwanted, text)
    else:
        assert response.status_code == expect, response.text[:500]
        if expect == 400:
            assert "error" in response.json(), response.text[:500]

    if "channel_is" in entry:
        tracker = stack.tracker(entry["json"]["sender"])
        assert tracker["latest_input_channel"] == entry["channel_is"]

    # The conversation (or, after a refused body, the server) still answers.
    after = sender if expect == "reply" else f"{sender}-after"
    assert " ".join(r.get("text") or "" for r in stack.say(after, "안녕")).strip()

    allowed = set(entry.get("may_store", []))
    kept = {table: n for table, n in stored(stack, sender).items() if n}
    if "handoff" in allowed:
        kept.pop("handoff", None)
        kept.pop("outbox", None)
    assert kept == {}, f"{entry['name']} left rows behind: {kept}"


def test_the_stack_survived_the_corpus(stack):
    assert stack.process.poll() is None, "jikimi run stopped"
    assert requests.get(f"{stack.desk_url}/healthz", timeout=10).ok
    assert requests.get(f"{stack.action_url}/health", timeout=10).ok


def test_the_logs_hold_nothing_a_student_typed(stack):
    typed = "qz8hostile 연락처 010-1357-2468 <script>qz8script</script>"
    assert stack.say("hostile-logs", typed)
    log = stack.log.read_text(errors="replace")
    for leaked in ("qz8hostile", "1357", "qz8script"):
        assert leaked not in log, leaked


def test_the_desk_refuses_bodies_over_the_limit(stack):
    response = requests.post(
        f"{stack.desk_url}/sms/inbound",
        data=b"Body=" + b"a" * 300_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert response.status_code == 413
    assert requests.get(f"{stack.desk_url}/healthz", timeout=10).ok
