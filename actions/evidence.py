"""Evidence, takedown and erasure: advice rendered from content/ for the
student's platform and situation, the evidence hashes the widget sends, and
"delete my data"."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, Restarted
from rasa_sdk.executor import CollectingDispatcher

from actions.common import channel_of, run_blocking, send, settings
from actions.report import _question, evidence_link
from jikimi import cases, content

logger = logging.getLogger(__name__)

_BYSTANDER_TEXT = re.compile(
    r"친구\s*(의|가|를|)\s*(사진|얼굴|영상|피해)|목격|봤는데|친구가\s*당했"
)
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
MAX_NAME_CHARS = 200


def is_bystander(tracker: Tracker) -> bool:
    """A friend or witness asking (this message, or a bystander question earlier)."""
    if _BYSTANDER_TEXT.search(tracker.latest_message.get("text") or ""):
        return True
    recent = [e for e in tracker.events if e.get("event") == "user"][-6:]
    return any(
        (e.get("parse_data") or {}).get("intent", {}).get("name") == "ask_bystander_help"
        for e in recent
    )


def platform_name(platform: Optional[Text]) -> Optional[Text]:
    if not platform or platform == "other":
        return None
    return (_question("report_platform").get("shown") or {}).get(platform)


async def _latest_case(tracker: Tracker) -> Optional[cases.CaseView]:
    try:
        return await run_blocking(cases.latest_case, settings(), tracker.sender_id)
    except Exception:  # noqa: BLE001 - advice still helps without the case
        logger.exception("reading the latest case failed")
        return None


class ActionEvidenceHelp(Action):
    """ask_evidence: a checklist for the platform, or bystander advice."""

    def name(self) -> Text:
        return "action_evidence_help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        case = await _latest_case(tracker)
        platform = tracker.get_slot("platform") or (case.platform if case else None)
        text = content.render(
            "evidence_checklist.j2",
            platform=platform,
            platform_name=platform_name(platform),
            bystander=is_bystander(tracker),
        )
        dispatcher.utter_message(
            text=text,
            buttons=[
                {"title": "삭제 요청하는 법", "payload": "/ask_takedown"},
                {"title": "신고 기록 남기기", "payload": "/start_report"},
                {"title": "상담받고 싶어요", "payload": "/request_counsellor"},
            ],
        )
        # A student with a case gets a fresh link to its printable evidence log
        # (the expired-link page sends them here).
        link = evidence_link(case.code) if case else None
        if link:
            send(dispatcher, [content.message("evidence_log_link", code=case.code, link=link)])
        return []


class ActionTakedownHelp(Action):
    """ask_takedown: who can delete what, and a request text filled from the case."""

    def name(self) -> Text:
        return "action_takedown_help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        case = await _latest_case(tracker)
        platform = tracker.get_slot("platform") or (case.platform if case else None)
        name = platform_name(platform)
        dispatcher.utter_message(
            text=content.render("takedown.j2", platform=platform, platform_name=name)
        )
        dispatcher.utter_message(
            text=content.render("takedown_request.j2", case=case, platform_name=name),
            buttons=[
                {"title": "증거 남기는 법", "payload": "/ask_evidence"},
                {"title": "상담받고 싶어요", "payload": "/request_counsellor"},
            ],
        )
        return []


def _entity(tracker: Tracker, name: Text) -> Any:
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == name:
            return entity.get("value")
    return None


def parse_evidence(tracker: Tracker) -> Optional[Dict[Text, Any]]:
    """The hash payload of `/add_evidence{...}`, checked; None when it is not usable."""
    sha256 = _entity(tracker, "sha256")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256.strip()):
        return None
    name = _entity(tracker, "name")
    name = name.strip()[:MAX_NAME_CHARS] if isinstance(name, str) and name.strip() else None
    captured = _entity(tracker, "captured_at")
    captured_at = None
    if isinstance(captured, str):
        try:
            captured_at = datetime.fromisoformat(captured.replace("Z", "+00:00"))
        except ValueError:
            captured_at = None
        if captured_at is not None and captured_at.tzinfo is None:
            captured_at = captured_at.replace(tzinfo=timezone.utc)
    size = _entity(tracker, "size")
    note = None
    if isinstance(size, (int, float)) and not isinstance(size, bool) and size >= 0:
        note = f"{int(size)} bytes"
    return {
        "sha256": sha256.strip().lower(),
        "name": name,
        "captured_at": captured_at,
        "note": note,
    }


class ActionAddEvidence(Action):
    """Stores a file hash the student's device computed (never the file)."""

    def name(self) -> Text:
        return "action_add_evidence"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        evidence = parse_evidence(tracker)
        if evidence is None:
            send(dispatcher, [content.message("evidence_unreadable")])
            return []
        try:
            case = await run_blocking(
                cases.add_evidence,
                settings(),
                tracker.sender_id,
                channel_of(tracker),
                **evidence,
            )
        except Exception:  # noqa: BLE001 - the student must hear it was not saved
            logger.exception("saving evidence failed")
            send(dispatcher, [content.message("evidence_not_saved")])
            return []
        send(
            dispatcher,
            [
                content.message(
                    "evidence_saved",
                    code=case.code,
                    count=case.evidence_count,
                    link=evidence_link(case.code),
                )
            ],
        )
        return []


class ActionDeleteMyData(Action):
    """Erases what this conversation left: reports, evidence, handoffs, queued
    SMS, and (through the tracker store, on the Restarted event) the
    conversation itself. Says what was deleted."""

    def name(self) -> Text:
        return "action_delete_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        try:
            counts = await run_blocking(_erase, tracker.sender_id)
        except Exception:  # noqa: BLE001 - never claim a deletion that did not happen
            logger.exception("deleting a conversation's data failed")
            send(dispatcher, [content.message("delete_failed")])
            return []
        send(
            dispatcher,
            [
                content.message(
                    "delete_done",
                    cases=counts.get("cases", 0),
                    evidence=counts.get("evidence", 0),
                    handoffs=counts.get("handoffs", 0),
                    outbox=counts.get("outbox", 0),
                )
            ],
        )
        return [Restarted()]


def _erase(sender_id: Text) -> Dict[Text, int]:
    # A counsellor who is talking with the student is told it ended first.
    try:
        from jikimi import handoff

        handoff.end_handoff_for_sender(settings(), sender_id)
    except ImportError:
        pass
    return cases.delete_conversation(settings(), sender_id)
