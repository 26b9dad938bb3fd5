"""The report form: one short question at a time, each skippable, stoppable and
resumable, then a summary to confirm or correct, then the case is saved and
its code given.

Questions, buttons and the words that answer them are in content/report.yml.
Every form slot is filled from the text the student typed or tapped; the
validators below turn it into a value ("yes", "minor", "telegram", ...) or
SKIP. A crisis message never fills a slot (domain: not_intent crisis), so the
crisis rule answers it first. "그만할래" sets `report_stopped` and the form
ends without saving; the answers stay in the conversation, so starting the
form again resumes at the first unanswered question.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any, Dict, List, Optional, Text
from urllib.parse import urlsplit

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import channel_of, run_blocking, settings
from jikimi import cases, content

logger = logging.getLogger(__name__)

FORM = "report_form"
SKIP = "skip"
QUESTION_SLOTS = (
    "report_anonymous",
    "report_age",
    "report_platform",
    "report_when",
    "report_online",
    "report_relation",
    "report_link",
    "report_description",
)
FORM_SLOTS = QUESTION_SLOTS + ("report_confirm",)
MAX_LINKS = 20
MAX_LINK_CHARS = 500
# Control words ("그만", "몰라") count only in a short message: in a long
# description they are part of the story.
SHORT = 12
COUNSELLOR_CONFIDENCE = 0.8
PLATFORMS = (
    "telegram", "instagram", "kakaotalk", "discord", "x", "tiktok",
    "youtube", "facebook", "line", "naver", "other",
)  # fmt: skip
_URL = re.compile(r"(?:https?://|www\.|t\.me/)[^\s<>\"']+", re.I)


@functools.cache
def _form_content() -> Dict[Text, Any]:
    return content._read_yaml("report.yml")


def _question(slot: Text) -> Dict[Text, Any]:
    return _form_content()["questions"][slot]


def _squash(text: Text) -> Text:
    return re.sub(r"\s+", "", text or "").lower()


# "Not right" at the summary, without naming what: ask which answer to fix.
_NOT_RIGHT = ["아니", "아뇨", "ㄴㄴ", "안맞", "고칠", "고쳐", "수정", "바꿀", "바꿔", "틀"]
_TRAILING = re.compile(r"[.!?~,ㅎㅋㅠㅜ^]+$")


def _has_word(text: Text, words: List[Text]) -> bool:
    """Whether a word occurs in the answer; "=word" must be the whole answer."""
    squashed = _squash(text)
    whole = _TRAILING.sub("", squashed)
    return any(
        whole == _squash(word[1:]) if word.startswith("=") else _squash(word) in squashed
        for word in words
    )


def _is_short(text: Text) -> bool:
    return len(_squash(text)) <= SHORT


def wants_stop(text: Text) -> bool:
    return _is_short(text) and _has_word(text, _form_content()["stop_words"])


def wants_skip(text: Text) -> bool:
    return _is_short(text) and _has_word(text, _form_content()["skip_words"])


def answer_value(slot: Text, text: Text) -> Optional[Text]:
    """The stored value the answer means for a multiple-choice question, if any."""
    for value, words in (_question(slot).get("answers") or {}).items():
        if _has_word(text, words):
            return str(value)
    return None


def _is_stored_value(slot: Text, value: Any) -> bool:
    """An answer already turned into a value: a resumed form validates the
    answers it already has again, with their stored values."""
    return value == SKIP or value in (_question(slot).get("answers") or {})


def extract_links(text: Text) -> List[Text]:
    """Web links in the text, cleaned of trailing punctuation; others ignored."""
    links = []
    for match in _URL.findall(text or ""):
        link = match.rstrip(".,;:!?)]}'\"")
        if not link.lower().startswith(("http://", "https://")):
            link = "https://" + link
        parts = urlsplit(link)
        if parts.scheme in ("http", "https") and "." in (parts.hostname or ""):
            if len(link) <= MAX_LINK_CHARS:
                links.append(link)
    return links


def shown_value(slot: Text, value: Any, tracker_links: Optional[List[Text]] = None) -> Text:
    """How the summary shows an answer."""
    if slot == "report_link":
        links = tracker_links or []
        return "\n".join(f"  - {link}" for link in links) if links else _form_content()["skipped"]
    if value in (None, SKIP):
        return _form_content()["skipped"]
    shown = _question(slot).get("shown") or {}
    return str(shown.get(value, value))


def report_from_slots(slots: Dict[Text, Any]) -> cases.Report:
    """The form's answers as a Report for storage (skipped answers are None)."""

    def value(slot: Text) -> Optional[Text]:
        answer = slots.get(slot)
        return None if answer in (None, SKIP) else answer

    def yes_no(slot: Text) -> Optional[bool]:
        answer = value(slot)
        return None if answer is None else answer == "yes"

    age = value("report_age")
    return cases.Report(
        anonymous=yes_no("report_anonymous"),
        minor=None if age is None else age == "minor",
        platform=value("report_platform"),
        when_happened=value("report_when"),
        still_online=yes_no("report_online"),
        perpetrator_relation=value("report_relation"),
        urls=list(slots.get("report_links") or []),
        description=value("report_description"),
    )


class ValidateReportForm(FormValidationAction):
    """Turns each answer into a value, or stops, skips, or asks again."""

    def name(self) -> Text:
        return "validate_report_form"

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        # Stopping empties the list, which ends the form without saving.
        if tracker.slots.get("report_stopped"):
            return []
        return domain_slots

    def _control(self, slot: Text, text: Text, tracker: Tracker) -> Optional[Dict[Text, Any]]:
        """Stop, or hand over to a counsellor; None when the text is an answer."""
        if wants_stop(text):
            return {slot: None, "report_stopped": "stopped"}
        intent = tracker.latest_message.get("intent") or {}
        if (
            intent.get("name") == "request_counsellor"
            and (intent.get("confidence") or 0) >= COUNSELLOR_CONFIDENCE
            and answer_value(slot, text) is None
        ):
            return {slot: None, "report_stopped": "counsellor"}
        return None

    def _choice(
        self, slot: Text, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        if _is_stored_value(slot, value):
            return {slot: value}
        text = value if isinstance(value, str) else ""
        control = self._control(slot, text, tracker)
        if control:
            return control
        answer = answer_value(slot, text)
        if answer is not None:
            return {slot: answer}
        if wants_skip(text):
            return {slot: SKIP}
        send_unclear(dispatcher)
        return {slot: None}

    def _free_text(
        self, slot: Text, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        text = (value if isinstance(value, str) else "").strip()
        control = self._control(slot, text, tracker)
        if control:
            return control
        if not text or wants_skip(text):
            return {slot: SKIP}
        return {slot: text}

    async def validate_report_anonymous(self, value, dispatcher, tracker, domain):
        return self._choice("report_anonymous", value, dispatcher, tracker)

    async def validate_report_age(self, value, dispatcher, tracker, domain):
        return self._choice("report_age", value, dispatcher, tracker)

    async def validate_report_online(self, value, dispatcher, tracker, domain):
        return self._choice("report_online", value, dispatcher, tracker)

    async def validate_report_relation(self, value, dispatcher, tracker, domain):
        return self._choice("report_relation", value, dispatcher, tracker)

    async def validate_report_when(self, value, dispatcher, tracker, domain):
        return self._free_text("report_when", value, dispatcher, tracker)

    async def validate_report_description(self, value, dispatcher, tracker, domain):
        return self._free_text("report_description", value, dispatcher, tracker)

    async def validate_report_platform(self, value, dispatcher, tracker, domain):
        if value in PLATFORMS or value == SKIP:
            return {"report_platform": value}
        text = value if isinstance(value, str) else ""
        control = self._control("report_platform", text, tracker)
        if control:
            return control
        for entity in tracker.latest_message.get("entities") or []:
            if entity.get("entity") == "platform" and entity.get("value") in PLATFORMS:
                return {"report_platform": entity["value"]}
        if wants_skip(text):
            return {"report_platform": SKIP}
        # A place we have no name for is still an answer.
        return {"report_platform": "other"}

    async def validate_report_link(self, value, dispatcher, tracker, domain):
        if value == "done":
            return {"report_link": value}
        text = value if isinstance(value, str) else ""
        control = self._control("report_link", text, tracker)
        if control:
            return control
        links = list(tracker.get_slot("report_links") or [])
        found = extract_links(text)
        if found:
            for link in found:
                if link not in links and len(links) < MAX_LINKS:
                    links.append(link)
            done = len(links) >= MAX_LINKS
            return {"report_links": links, "report_link": "done" if done else None}
        if _is_short(text) and (
            _has_word(text, _form_content()["done_words"]) or wants_skip(text)
        ):
            return {"report_link": "done"}
        dispatcher.utter_message(text=_tidy(_question("report_link")["not_a_link"]))
        return {"report_link": None}

    async def validate_report_confirm(self, value, dispatcher, tracker, domain):
        text = value if isinstance(value, str) else ""
        if wants_stop(text):
            return {"report_confirm": None, "report_stopped": "stopped"}
        for slot in QUESTION_SLOTS:
            if _has_word(text, _question(slot)["fix"]):
                changes: Dict[Text, Any] = {
                    slot: None, "report_confirm": None, "report_fixing": False,
                }  # fmt: skip
                if slot == "report_link":
                    changes["report_links"] = []
                return changes
        if _has_word(text, _NOT_RIGHT):
            return {"report_confirm": None, "report_fixing": True}
        if answer_value("report_confirm", text) == "yes":
            return {"report_confirm": "yes", "report_fixing": False}
        return {"report_confirm": None}


def _tidy(text: Text) -> Text:
    return " ".join(text.split())


def send_unclear(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(text=content.message("report_unclear").text)


def _buttons(mapping: Optional[Dict[Text, Text]]) -> List[Dict[Text, Text]]:
    return [{"title": title, "payload": payload} for title, payload in (mapping or {}).items()]


class _AskReportQuestion(Action):
    """Asks one question of the form (`action_ask_<slot>`), with a skip button."""

    slot: Text = ""

    def name(self) -> Text:
        return f"action_ask_{self.slot}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        question = _question(self.slot)
        text, buttons = question["ask"], question.get("buttons")
        links = tracker.get_slot("report_links") or []
        if self.slot == "report_link" and links:
            text, buttons = question["ask_more"], question.get("buttons_more")
        skip = _form_content()["skip_button"]
        rendered = content._tidy(content._env().from_string(text).render(count=len(links)))
        dispatcher.utter_message(
            text=rendered, buttons=_buttons(buttons) + [{"title": skip, "payload": skip}]
        )
        return []


# One ask action per question, all alike.
ASK_ACTIONS = {
    slot: type(f"ActionAsk_{slot}", (_AskReportQuestion,), {"slot": slot})
    for slot in QUESTION_SLOTS
}


class ActionAskReportConfirm(Action):
    """The summary to confirm or correct, or which answer to correct."""

    def name(self) -> Text:
        return "action_ask_report_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        if tracker.get_slot("report_fixing"):
            dispatcher.utter_message(
                text=content.message("report_fix_which").text,
                buttons=[
                    {"title": label, "payload": f"{label} 고칠래요"}
                    for label in (_question(slot)["label"] for slot in QUESTION_SLOTS)
                ],
            )
            return []
        items = [
            (
                _question(slot)["label"],
                shown_value(slot, tracker.get_slot(slot), tracker.get_slot("report_links")),
            )
            for slot in QUESTION_SLOTS
        ]
        reply = content.message("report_summary", items=items)
        dispatcher.utter_message(
            text=content.render("report_summary.j2", items=items),
            buttons=_buttons({b.title: b.payload for b in reply.buttons}),
        )
        return []


def reset_form_events() -> List[EventType]:
    return [SlotSet(slot, None) for slot in FORM_SLOTS] + [
        SlotSet("report_links", None),
        SlotSet("report_fixing", None),
        SlotSet("report_stopped", None),
    ]


class ActionReportEnd(Action):
    """After the form: save the confirmed report and give its code, or say that
    the stopped one was not saved and can be finished later."""

    def name(self) -> Text:
        return "action_report_end"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        stopped = tracker.get_slot("report_stopped")
        if stopped:
            events: List[EventType] = [SlotSet("report_stopped", None)]
            if stopped == "counsellor":
                return events + [FollowupAction("action_request_counsellor")]
            reply = content.message("report_stopped")
            dispatcher.utter_message(text=reply.text, buttons=_buttons(
                {b.title: b.payload for b in reply.buttons}
            ))
            return events
        if tracker.get_slot("report_confirm") != "yes":
            return []
        report = report_from_slots(tracker.slots)
        try:
            code = await run_blocking(
                cases.save_report, settings(), tracker.sender_id, channel_of(tracker), report
            )
        except Exception:  # noqa: BLE001 - whatever failed, the student must know
            logger.exception("saving a report failed")
            reply = content.message("report_not_saved")
            dispatcher.utter_message(text=reply.text, buttons=_buttons(
                {b.title: b.payload for b in reply.buttons}
            ))
            # The answers stay: "다시 저장하기" finishes the form again at once.
            return [SlotSet("report_stopped", None)]
        link = evidence_link(code)
        reply = content.message("report_saved", code=code, link=link, minor=report.minor)
        dispatcher.utter_message(
            text=reply.text,
            buttons=_buttons({b.title: b.payload for b in reply.buttons}),
        )
        return reset_form_events() + [SlotSet("report_code", code)]


def evidence_link(code: Text) -> Optional[Text]:
    """The expiring link to the case's printable evidence log, if it can be made."""
    try:
        from jikimi import evidence_log

        return evidence_log.make_link(settings(), code)
    except Exception:  # noqa: BLE001 - the report is saved; the link is a convenience
        logger.exception("making the evidence log link failed")
        return None
