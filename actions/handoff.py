"""A human counsellor: asking for one, waiting, talking through the bot, ending.

The desk service (jikimi/desk) runs the SMS side and tells the conversation
what happened through external intents (EXTERNAL_handoff_accepted, ...). The
actions here check the database before believing one: a student who types
"/EXTERNAL_handoff_accepted" gets no relay. While a handoff is accepted,
handoff_form is active and forwards every message to the counsellor.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import channel_of, role_of, run_blocking, send, settings
from jikimi import cases, content, handoff, reading

logger = logging.getLogger(__name__)

# Why the relay ended (handoff_message), for action_handoff_closed.
BY_STUDENT, GONE = "by_student", "gone"
# The student ends the conversation with the counsellor ("상담 끝낼래").
_END = re.compile(
    r"^\s*(상담\s*)?(끝|끝낼래|끝낼게|종료|그만|그만할래|그만할게|나갈래)\s*[.!~ㅠ]*\s*$"
)


async def _state(sender_id: Text) -> Optional[Text]:
    return await run_blocking(handoff.active_handoff_state, settings(), sender_id)


async def request(tracker: Tracker, urgent: bool, reason: Text):
    """Creates (or finds) the conversation's handoff; see jikimi.handoff."""
    case: Optional[cases.CaseView] = await run_blocking(
        cases.latest_case, settings(), tracker.sender_id
    )
    age_group = None
    minor = case.minor if case is not None else None
    if minor is None and tracker.get_slot("report_age") in ("minor", "adult"):
        minor = tracker.get_slot("report_age") == "minor"
    if minor is not None:
        age_group = "minor" if minor else "adult"
    return await run_blocking(
        handoff.request_handoff,
        settings(),
        sender_id=tracker.sender_id,
        channel=channel_of(tracker),
        urgent=urgent,
        case_code=case.code if case else None,
        age_group=age_group,
        platform=platform_of(tracker, case),
        reason=reason,
    )


def platform_of(tracker: Tracker, case: Optional[cases.CaseView]) -> Optional[Text]:
    """Where the material is: the saved report's answer, else the report form's
    answer so far, else a platform the student named. Only a known category."""
    for value in (
        case.platform if case else None,
        tracker.get_slot("report_platform"),
        tracker.get_slot("platform"),
    ):
        if value in reading.PLATFORMS:
            return value
    return None


class ActionOfferCounsellor(Action):
    """request_counsellor: offer a counsellor first, saying honestly what it
    means (who reads what, that a name or a school may start a report), and
    ask; only a yes pages anyone (the context policy reads the answer)."""

    def name(self) -> Text:
        return "action_offer_counsellor"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        try:
            state = await _state(tracker.sender_id)
        except Exception:  # noqa: BLE001 - the offer itself still helps
            logger.exception("reading the handoff state failed")
            state = None
        if state is not None:
            name = "handoff_connected" if state == "accepted" else "handoff_waiting"
            send(dispatcher, content.messages(name))
            return []
        send(dispatcher, content.messages("counsellor_offer", role=role_of(tracker)))
        return []


def _minutes(seconds: int) -> int:
    return max(1, round(seconds / 60))


class ActionRequestCounsellor(Action):
    """request_counsellor: a counsellor is asked by SMS; the student hears honestly
    what happens now, how long it may take, and whom to call meanwhile."""

    def name(self) -> Text:
        return "action_request_counsellor"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        role = role_of(tracker)
        reason = role if role in ("parent", "teacher") else "request"
        try:
            result = await request(tracker, urgent=False, reason=reason)
        except Exception:  # noqa: BLE001 - never claim a request that was not made
            logger.exception("requesting a handoff failed")
            send(dispatcher, content.messages("handoff_failed"))
            return []
        if result.already_active:
            name = "handoff_connected" if result.state == "accepted" else "handoff_waiting"
            send(dispatcher, content.messages(name))
        elif not result.counsellor_available:
            send(dispatcher, content.messages("handoff_nobody"))
        else:
            send(
                dispatcher,
                content.messages("handoff_requested", minutes=_minutes(result.timeout_s)),
            )
        return []


class ActionCrisisHandoff(Action):
    """After the crisis (or threat) reply, which the rules give without us: an
    urgent handoff, and one honest line about it."""

    def name(self) -> Text:
        return "action_crisis_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        # Only the detector's verdict, or a yes to the gentle check, pages a
        # counsellor: the classifier alone also calls some harmless text
        # crisis (README, bench-safety), and the crisis reply with the
        # hotlines has already been given either way.
        danger = [
            e.get("value")
            for e in tracker.latest_message.get("entities") or []
            if e.get("entity") == "danger"
        ]
        confirmed = bool(tracker.get_slot("crisis_confirmed"))
        if not danger and not confirmed:
            return []
        reason = next((kind for kind in ("medical", "threat") if kind in danger), "crisis")
        events: List[EventType] = [SlotSet("crisis_confirmed", None)] if confirmed else []
        try:
            result = await request(tracker, urgent=True, reason=reason)
        except Exception:  # noqa: BLE001 - the crisis reply has already been given
            logger.exception("requesting an urgent handoff failed")
            return events
        if result.already_active:
            if result.state != "accepted":
                send(dispatcher, content.messages("crisis_handoff_waiting"))
        elif result.counsellor_available:
            send(dispatcher, content.messages("crisis_handoff_requested"))
        else:
            send(dispatcher, content.messages("crisis_handoff_nobody", reason=reason))
        return events


class ActionCrisisUpdate(Action):
    """After the answer to "are you safe?": the counsellor already paged is told
    what the student answered, in categories only (jikimi.handoff.CRISIS_STATUSES);
    the student's words never go. Silent to the student."""

    def name(self) -> Text:
        return "action_crisis_update"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        status = tracker.get_slot("crisis_status")
        if status not in handoff.CRISIS_STATUSES:
            return []
        try:
            await run_blocking(
                handoff.crisis_update,
                settings(),
                tracker.sender_id,
                status,
                tracker.get_slot("crisis_place"),
            )
        except Exception:  # noqa: BLE001 - the student's reply has already been given
            logger.exception("telling the counsellor the crisis answer failed")
        return [SlotSet("crisis_status", None), SlotSet("crisis_place", None)]


class ActionHandoffAccepted(Action):
    """EXTERNAL_handoff_accepted: a counsellor is here; relay mode starts."""

    def name(self) -> Text:
        return "action_handoff_accepted"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        if await _state(tracker.sender_id) != "accepted":
            # Not accepted in the database (typed by hand?): no relay.
            dispatcher.utter_message(response="utter_default")
            return [FollowupAction("action_listen")]
        send(dispatcher, content.messages("handoff_accepted"))
        return [SlotSet("handoff_message", None)]


class ActionRelayCounsellor(Action):
    """EXTERNAL_counsellor_message: the counsellor's words, marked as a person's."""

    def name(self) -> Text:
        return "action_relay_counsellor"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        text = next(
            (
                e.get("value")
                for e in tracker.latest_message.get("entities") or []
                if e.get("entity") == "counsellor_text"
            ),
            None,
        )
        if not isinstance(text, str) or not text.strip():
            return []
        if await _state(tracker.sender_id) != "accepted":
            dispatcher.utter_message(response="utter_default")
            return []
        dispatcher.utter_message(json_message={"from_counsellor": True, "text": text.strip()})
        return []


class ActionHandoffClosed(Action):
    """The conversation with the counsellor ended (either side); the bot is back."""

    def name(self) -> Text:
        return "action_handoff_closed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        # Triggered intents have no intent_ranking: read the intent itself.
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        by_counsellor = intent == "EXTERNAL_handoff_closed"
        if by_counsellor and await _state(tracker.sender_id) in ("accepted", "notified"):
            # Not closed in the database: a forged intent.
            dispatcher.utter_message(response="utter_default")
            return []
        if by_counsellor:
            name = "handoff_closed_by_counsellor"
        elif tracker.get_slot("handoff_message") == GONE:
            name = "handoff_gone"
        else:
            name = "handoff_closed_by_student"
        send(dispatcher, content.messages(name))
        return [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("handoff_message", None)]


class ActionAskHandoffMessage(Action):
    """The relay asks nothing: the student just writes (silent ask action)."""

    def name(self) -> Text:
        return "action_ask_handoff_message"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        return []


async def _forward(
    tracker: Tracker, dispatcher: CollectingDispatcher, text: Text, urgent: bool
) -> bool:
    """Sends the student's message to the counsellor; False when no handoff is live."""
    if urgent:
        text = content.label("counsellor", "urgent_prefix") + text
    try:
        return await run_blocking(
            handoff.forward_student_message, settings(), tracker.sender_id, text
        )
    except Exception:  # noqa: BLE001 - say it did not go through
        logger.exception("forwarding to the counsellor failed")
        send(dispatcher, content.messages("handoff_forward_failed"))
        return True


class ValidateHandoffForm(FormValidationAction):
    """Every message while the handoff is accepted goes to the counsellor."""

    def name(self) -> Text:
        return "validate_handoff_form"

    async def validate_handoff_message(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            # The relay starting (the slot emptied by action_handoff_accepted):
            # nothing the student wrote, nothing to forward.
            return {"handoff_message": None}
        if _END.match(text):
            try:
                await run_blocking(handoff.end_handoff_for_sender, settings(), tracker.sender_id)
            except Exception:  # noqa: BLE001
                logger.exception("ending the handoff failed")
            return {"handoff_message": BY_STUDENT}
        if not await _forward(tracker, dispatcher, text, urgent=False):
            return {"handoff_message": GONE}
        return {"handoff_message": None}


class ActionForwardToCounsellor(Action):
    """A crisis message during a handoff: after the crisis reply, the counsellor
    gets it too, marked urgent."""

    def name(self) -> Text:
        return "action_forward_to_counsellor"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        await _forward(tracker, dispatcher, tracker.latest_message.get("text") or "", urgent=True)
        return []
