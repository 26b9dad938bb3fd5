"""The action server as Rasa calls it (HTTP, its webhook protocol), on SQLite and
on PostgreSQL: a confirmed report becomes a row whose free text and links are
unreadable without the key, and the reply names the saved code."""

from __future__ import annotations

import os

import pytest
import requests
from sqlalchemy import select

from jikimi.db import Case, session_scope
from tests.support.processes import free_port, serve
from tests.unit.test_db import db, postgres_url  # noqa: F401 - fixtures

SLOTS = {
    "report_age": "minor", "report_platform": "instagram",
    "report_when": "qz9when", "report_online": "no", "report_relation": "stranger",
    "report_link": "done", "report_links": ["https://instagram.com/p/qz9link"],
    "report_description": "qz9description 합성 사진", "report_confirm": "yes",
}  # fmt: skip


@pytest.fixture
def action_server(db, tmp_path):  # noqa: F811 - the fixture imported above
    env = {
        **os.environ,
        "JIKIMI_ACTION_PORT": str(free_port()),
        "JIKIMI_DATABASE_URL": db.url,
        "JIKIMI_SECRET_KEY": db.settings.secret_key,
        "RASA_TOKEN": "unused",
    }
    with serve("actions", env, tmp_path) as server:
        yield server.url


def call(url: str, action: str, slots: dict, sender: str = "it-sender") -> dict:
    body = {
        "next_action": action,
        "sender_id": sender,
        "tracker": {
            "sender_id": sender,
            "slots": slots,
            "latest_message": {"text": "맞아요", "intent": {"name": "affirm"}, "entities": []},
            "events": [
                {
                    "event": "user",
                    "text": "맞아요",
                    "input_channel": "socketio",
                    "parse_data": {"intent": {"name": "affirm"}, "entities": []},
                },
            ],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "report_form",
        },
        "domain": {},
        "version": "3.6.2",
    }
    response = requests.post(f"{url}/webhook", json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def test_report_saved_through_the_action_server(db, action_server):  # noqa: F811
    result = call(action_server, "action_report_end", SLOTS)
    code = next(e["value"] for e in result["events"] if e.get("name") == "report_code")
    assert code in result["responses"][0]["text"]
    with session_scope(db.settings) as session:
        case = session.execute(select(Case).where(Case.code == code)).scalar_one()
        assert case.channel == "socketio" and case.platform == "instagram"
        assert case.description == "qz9description 합성 사진"
        assert case.urls == ["https://instagram.com/p/qz9link"]
        assert case.when_happened == "qz9when" and case.minor is True
    with db.raw() as connection:
        raw = str(connection.exec_driver_sql("SELECT * FROM cases").fetchall())
    assert code in raw
    for secret in ("qz9description", "qz9link", "qz9when", "it-sender"):
        assert secret not in raw
