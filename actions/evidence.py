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

from actions.common import (
    channel_of,
    repeated,
    role_of,
    run_blocking,
    send,
    settings,
    stance_of,
)
from actions.handoff import platform_of
from actions.report import evidence_link, question
from jikimi import cases, content, handoff

logger = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
MAX_NAME_CHARS = 200


def situation(tracker: Tracker) -> Dict[Text, Any]:
    """Who is asking, for the templates: role (student, teacher, parent) and
    stance (victim, bystander, involved or None), kept by the context policy;
    `bystander` is true for anyone who is not the victim themself."""
    role, stance = role_of(tracker), stance_of(tracker)
    return {
        "role": role,
        "stance": stance,
        "bystander": role != "student" or stance == "bystander",
    }


def platform_name(platform: Optional[Text]) -> Optional[Text]:
    if not platform or platform == "other":
        return None
    return (question("report_platform").get("shown") or {}).get(platform)


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
        platform = platform_of(tracker, case)
        replies = content.bubbles(
            "evidence_checklist.j2",
            [
                content.Button(content.label("buttons", "how_to_take_down"), "/ask_takedown"),
                content.Button(content.label("buttons", "keep_a_report"), "/start_report"),
                content.Button(
                    content.label("buttons", "want_a_counsellor"), "/request_counsellor"
                ),
            ],
            platform=platform,
            platform_name=platform_name(platform),
            **situation(tracker),
        )
        if repeated(tracker, self.name()) and replies:
            # Asked again ("아니 그러니까 증거 어케 남기냐고"): the steps themselves
            # once more, short, rather than "it is just above".
            again = content.message("evidence_again", **situation(tracker)).text
            if "\n" in again:
                # The victim's own short version: what to capture, keep and note.
                replies = [content.Reply(again, replies[-1].buttons)]
            else:
                lines = [again] + replies[0].text.splitlines()[1:]
                while len(lines) > 2 and len("\n".join(lines)) > content.BUBBLE_MAX:
                    lines.pop()
                replies = [content.Reply("\n".join(lines), replies[-1].buttons)]
        send(dispatcher, replies, tracker)
        # A student with a case gets a fresh link to its printable evidence log
        # (the expired-link page sends them here).
        link = evidence_link(case.code) if case else None
        if link:
            send(dispatcher, content.messages("evidence_log_link", code=case.code, link=link))
        return []


class ActionTakedownHelp(Action):
    """ask_takedown: who can delete what, and a request text filled from the case."""

    def name(self) -> Text:
        return "action_takedown_help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        if repeated(tracker, self.name()):
            # "아 그니까 어디다 말하면 지워주냐고": the whole account again helps
            # nobody; where to ask, in one bubble.
            send(dispatcher, content.messages("takedown_short"))
            return []
        case = await _latest_case(tracker)
        platform = platform_of(tracker, case)
        name = platform_name(platform)
        who = situation(tracker)
        advice = content.bubbles(
            "takedown.j2", sources=False, platform=platform, platform_name=name, **who
        )
        # "근거 보기" for the advice goes under the request, with the other buttons.
        buttons = [
            content.Button(content.label("buttons", "how_to_keep_evidence"), "/ask_evidence"),
            content.Button(content.label("buttons", "want_a_counsellor"), "/request_counsellor"),
        ]
        sources = content.sources_button(content.facts_of(advice))
        request = content.bubbles(
            "takedown_request.j2",
            buttons + ([sources] if sources else []),
            sources=False,
            case=case,
            platform_name=name,
            **who,
        )
        send(dispatcher, advice + request, tracker)
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
        captured_at = cases.plausible_capture_time(captured_at)
    size = _entity(tracker, "size")
    note = None
    if isinstance(size, int) and not isinstance(size, bool) and 0 <= size <= cases.MAX_FILE_BYTES:
        note = f"{size} bytes"
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
            send(dispatcher, content.messages("evidence_unreadable"))
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
            send(dispatcher, content.messages("evidence_not_saved"))
            return []
        send(
            dispatcher,
            content.messages(
                "evidence_saved",
                code=case.code,
                count=case.evidence_count,
                link=evidence_link(case.code),
            ),
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
            send(dispatcher, content.messages("delete_failed"))
            return []
        send(
            dispatcher,
            content.messages(
                "delete_done",
                cases=counts.get("cases", 0),
                evidence=counts.get("evidence", 0),
                handoffs=counts.get("handoffs", 0),
                outbox=counts.get("outbox", 0),
            ),
        )
        return [Restarted()]


def _erase(sender_id: Text) -> Dict[Text, int]:
    # A counsellor who is talking with the student is told it ended first.
    handoff.end_handoff_for_sender(settings(), sender_id)
    return cases.delete_conversation(settings(), sender_id)
