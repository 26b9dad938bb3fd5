"""The report form: one short question at a time, each skippable, stoppable and
resumable, then a summary to confirm or correct, then the case is saved and
its code given.

Questions, buttons and the words that answer them are in content/report.yml;
how an answer is read is jikimi/reading.py. Every form slot is filled only
from the text typed or tapped while its own question was asked; the
validators below turn it into a value ("minor", "telegram", ...) or SKIP, or
see that it was a question or an aside and ask again. A crisis never reaches
the form: the context policy pauses it (bot/policies/context.py) and offers to
go on afterwards. "그만할래" sets `report_stopped` and the form ends without
saving; the answers stay in the conversation, so starting the form again
resumes at the first unanswered question.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    channel_of,
    previous_bot_texts,
    role_of,
    run_blocking,
    send,
    settings,
    this_turn,
)
from jikimi import cases, content, evidence_log, reading

logger = logging.getLogger(__name__)

FORM = "report_form"
SKIP = "skip"
QUESTION_SLOTS = (
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
PLATFORMS = reading.PLATFORMS
# A question typed during the form, when the classifier agrees it is one.
QUESTION_INTENTS = {
    "ask_privacy", "ask_law", "ask_what_is_deepfake", "ask_harm", "ask_spot_fake",
    "ask_prevention", "ask_evidence", "ask_takedown", "bot_challenge",
}  # fmt: skip
ASIDE_INTENTS = {"express_distress"}
# A short answer with a question mark ("아직 있어요?") is still an answer.
QUESTION_MIN_CHARS = 6


@functools.cache
def _form_content() -> Dict[Text, Any]:
    return content.read_yaml("report.yml")


def question(slot: Text) -> Dict[Text, Any]:
    return _form_content()["questions"][slot]


# "Not right" at the summary, without naming what: ask which answer to fix.
_NOT_RIGHT = ["아니", "아뇨", "ㄴㄴ", "안맞", "고칠", "고쳐", "수정", "바꿀", "바꿔", "틀"]


def _is_stored_value(slot: Text, value: Any) -> bool:
    """An answer already turned into a value: a resumed form validates the
    answers it already has again, with their stored values."""
    return value == SKIP or value in (question(slot).get("answers") or {})


def shown_value(slot: Text, value: Any, tracker_links: Optional[List[Text]] = None) -> Text:
    """How the summary shows an answer."""
    if slot == "report_link":
        links = tracker_links or []
        return "\n".join(f"  - {link}" for link in links) if links else _form_content()["skipped"]
    if value in (None, SKIP):
        return _form_content()["skipped"]
    shown = question(slot).get("shown") or {}
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
        anonymous=None,
        minor=None if age is None else age == "minor",
        platform=value("report_platform"),
        when_happened=value("report_when"),
        still_online=yes_no("report_online"),
        perpetrator_relation=value("report_relation"),
        urls=list(slots.get("report_links") or []),
        description=value("report_description"),
    )


class ValidateReportForm(FormValidationAction):
    """Reads each message against the question the form asked: an answer fills
    that question's slot; a stop ends the form without saving; a question is
    answered and the same question asked again; an aside gets a kind word and
    the question again. (A crisis, or a clear request to leave, never gets
    here: the context policy pauses the form first.)"""

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

    def _not_an_answer(
        self, slot: Text, text: Text, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Optional[Dict[Text, Any]]:
        """A stop, a question or an aside, handled; None when the text is an answer."""
        if reading.wants_stop(text):
            return {slot: None, "report_stopped": "stopped"}
        if reading.wants_wait(text):
            # "잠깐만": take the time; the same question when they are back.
            send(dispatcher, content.messages("report_wait"))
            return {slot: None, "form_aside": "aside"}
        if reading.go_on(text) or reading.confused(text):
            # "아까 하던거 계속" after a pause, or "뭐라고?": the question again, not an answer.
            return {slot: None, "form_aside": "aside"}
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if (
            reading.is_question(text)
            and reading.asks_what_now(text)
            and reading.privacy_topic(text) == "general"
        ):
            # "저 어떻게 해야 돼요?" while asked the age: the steps, then the question.
            dispatcher.utter_message(response="utter_next_steps")
            return {slot: None, "form_aside": "question"}
        if reading.is_question(text) and (
            intent in QUESTION_INTENTS or reading.privacy_topic(text) != "general"
        ):
            answer_question(dispatcher, tracker, intent, text)
            return {slot: None, "form_aside": "question"}
        return None

    def _aside(
        self, slot: Text, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Optional[Dict[Text, Any]]:
        """Distress instead of a choice: a kind word, then the question again."""
        intent = tracker.latest_message.get("intent") or {}
        if intent.get("name") in ASIDE_INTENTS and (intent.get("confidence") or 0) >= 0.5:
            send(dispatcher, content.messages("report_aside"))
            return {slot: None, "form_aside": "aside"}
        return None

    def _choice(
        self, slot: Text, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        if _is_stored_value(slot, value):
            return {slot: value}
        text = value if isinstance(value, str) else ""
        # "남아있으면 지워줄 수 있어요?" holds an answer word but asks something.
        asks = reading.is_question(text) and len(reading.squash(text)) > QUESTION_MIN_CHARS
        other = reading.others_case(text)
        if other:
            # "울언니는 에타에 자기 사진 올라왔대 언니는 대학생임" is no answer
            # for her (not her age): help for the other, then the question again.
            adult = other == "adult"
            dispatcher.utter_message(
                response="utter_other_case_adult" if adult else "utter_other_case"
            )
            return {slot: None, "form_aside": "question"}
        answer = None if asks else reading.report_choice(slot, text)
        if answer is not None:
            return {slot: answer}
        handled = (
            self._not_an_answer(slot, text, dispatcher, tracker)
            or self._aside(slot, dispatcher, tracker)
            or self._other_answer(slot, text, dispatcher, tracker)
        )
        if handled:
            return handled
        send_unclear(dispatcher)
        return {slot: None}

    def _other_answer(
        self, slot: Text, text: Text, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Optional[Dict[Text, Any]]:
        """A short, clear answer to a question not asked yet ("그저께" when asked
        the age, as students go on telling): kept for that question, and this
        one asked again. The summary shows every answer to confirm."""
        named = _platforms_named(tracker)
        corrects = reading.corrects(text)
        if corrects:
            # "아 인스타 말고 텔레였음": the platform named after the correction.
            after = reading.corrected_to(text)
            choice = reading.report_choice("report_platform", after) if after else None
            if choice not in (None, SKIP, "other"):
                named.append(choice)
        details = reading.report_details(text, named[-1] if named else None)
        found = {
            other: value
            for other, value in details.items()
            if other != slot
            and (tracker.get_slot(other) is None or (corrects and tracker.get_slot(other) != value))
        }
        if not found:
            return None
        fixed = [other for other in found if tracker.get_slot(other) is not None]
        send(dispatcher, content.messages("report_corrected" if fixed else "report_noted"))
        return {**found, slot: None, "form_aside": "noted"}

    def _free_text(
        self, slot: Text, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        text = (value if isinstance(value, str) else "").strip()
        if text == SKIP:
            return {slot: SKIP}
        handled = self._not_an_answer(slot, text, dispatcher, tracker)
        if handled:
            return handled
        if not text or reading.wants_skip(text):
            return {slot: SKIP}
        return {slot: text}

    async def validate_report_age(self, value, dispatcher, tracker, domain):
        return self._choice("report_age", value, dispatcher, tracker)

    async def validate_report_online(self, value, dispatcher, tracker, domain):
        return self._choice("report_online", value, dispatcher, tracker)

    async def validate_report_relation(self, value, dispatcher, tracker, domain):
        return self._choice("report_relation", value, dispatcher, tracker)

    async def validate_report_when(self, value, dispatcher, tracker, domain):
        text = value if isinstance(value, str) else ""
        # "무서워 기억하기도 싫어" is no date: a kind word, then the question again.
        if text != SKIP and not reading.TIME_WORDS.search(reading.squash(text)):
            aside = self._aside("report_when", dispatcher, tracker)
            if aside:
                return aside
        return self._free_text("report_when", value, dispatcher, tracker)

    async def validate_report_description(self, value, dispatcher, tracker, domain):
        return self._free_text("report_description", value, dispatcher, tracker)

    async def validate_report_platform(self, value, dispatcher, tracker, domain):
        if value in PLATFORMS or value == SKIP:
            return {"report_platform": value}
        text = value if isinstance(value, str) else ""
        # Only the answer to this question names the platform: an entity found
        # in this very message, else the words of the answer buttons.
        platform = _platform_entity(tracker)
        if platform is not None:
            return {"report_platform": platform}
        choice = reading.report_choice("report_platform", text)
        if choice is not None:
            return {"report_platform": choice}
        handled = self._not_an_answer("report_platform", text, dispatcher, tracker) or (
            self._aside("report_platform", dispatcher, tracker)
        )
        if handled:
            return handled
        # A place we have no name for is still an answer.
        return {"report_platform": "other"}

    async def validate_report_link(self, value, dispatcher, tracker, domain):
        if value == "done":
            return {"report_link": value}
        text = value if isinstance(value, str) else ""
        links = list(tracker.get_slot("report_links") or [])
        found = reading.extract_links(text)
        if found:
            for link in found:
                if link not in links and len(links) < MAX_LINKS:
                    links.append(link)
            done = len(links) >= MAX_LINKS
            return {"report_links": links, "report_link": "done" if done else None}
        if reading.report_done(text):
            return {"report_link": "done"}
        handled = self._not_an_answer("report_link", text, dispatcher, tracker)
        if handled:
            return handled
        asked = question("report_link")
        if not reading.is_short(text) and tracker.get_slot("report_description") is None:
            # What happened, written here instead of a link: no link, the story kept.
            dispatcher.utter_message(text=_tidy(asked["story_kept"]))
            return {"report_link": "done", "report_description": text.strip()}
        if _tidy(asked["not_a_link"]) in previous_bot_texts(tracker):
            # Not a link the second time: no link, rather than the same request again.
            dispatcher.utter_message(text=_tidy(asked["no_link"]))
            return {"report_link": "done"}
        dispatcher.utter_message(text=_tidy(asked["not_a_link"]))
        return {"report_link": None}

    async def validate_report_confirm(self, value, dispatcher, tracker, domain):
        text = value if isinstance(value, str) else ""
        if reading.wants_stop(text):
            return {"report_confirm": None, "report_stopped": "stopped"}
        if reading.is_question(text):
            # "저장하면 경찰한테 넘어가요?" asks before saving: answer, save nothing.
            handled = self._not_an_answer("report_confirm", text, dispatcher, tracker)
            if handled:
                return handled
        for slot in QUESTION_SLOTS:
            if reading.has_word(text, question(slot)["fix"]):
                changes: Dict[Text, Any] = {
                    slot: None, "report_confirm": None, "report_fixing": False,
                }  # fmt: skip
                if slot == "report_link":
                    changes["report_links"] = []
                if slot == "report_platform":
                    # "플랫폼 틀렸어 인스타 아니고 페북": the new answer is in the same
                    # message, last; the summary comes again with it.
                    named = _platforms_named(tracker)
                    if named:
                        changes["report_platform"] = named[-1]
                return changes
        if reading.has_word(text, _NOT_RIGHT):
            return {"report_confirm": None, "report_fixing": True}
        saves = reading.has_word(text, question("report_confirm")["answers"]["yes"])
        if saves or reading.yes_no(text, verbs=("저장",)) == reading.YES:
            return {"report_confirm": "yes", "report_fixing": False}
        handled = self._not_an_answer("report_confirm", text, dispatcher, tracker)
        return handled or {"report_confirm": None}


def answer_question(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    intent: Optional[Text],
    text: Text,
    later: Text = "report_question_later",
) -> None:
    """Answers a question typed in the middle of a form, briefly: takedown and
    evidence in short, privacy at once (it decides whether the student goes on),
    a lesson's first turn, or later."""
    role = role_of(tracker)
    topic = reading.privacy_topic(text)
    if intent == "ask_takedown" and not reading.about_this_chat(text):
        # "해외 사이트면 지울 수 있어요?" in the form: where to ask, in short.
        send(dispatcher, [content.Reply(r.text) for r in content.messages("takedown_short")])
    elif intent == "ask_evidence":
        stance = tracker.get_slot("stance")
        replies = content.messages("evidence_again", role=role, stance=stance)
        send(dispatcher, [content.Reply(r.text) for r in replies])
    elif intent == "ask_privacy" or topic != "general":
        send(dispatcher, content.privacy(topic, role))
    elif intent in content.lesson_topics():
        first = content.lesson(intent, role, 0)[0]
        send(dispatcher, [content.Reply(first.text)])
    else:
        send(dispatcher, content.messages(later))


def _platforms_named(tracker: Tracker) -> List[Text]:
    """The known platforms the latest message names, in the order written."""
    entities = sorted(
        (e for e in tracker.latest_message.get("entities") or [] if e.get("entity") == "platform"),
        key=lambda e: e.get("start") or 0,
    )
    return [e["value"] for e in entities if e.get("value") in reading.PLATFORMS]


def _tidy(text: Text) -> Text:
    return " ".join(text.split())


def send_unclear(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(text=content.message("report_unclear").text)


def _buttons(mapping: Optional[Dict[Text, Text]]) -> List[Dict[Text, Text]]:
    return [{"title": title, "payload": payload} for title, payload in (mapping or {}).items()]


def _platform_entity(tracker: Tracker) -> Optional[Text]:
    """The platform the NLU found in the latest message, if it is one we know."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "platform" and entity.get("value") in PLATFORMS:
            return entity["value"]
    return None


def _said_this_turn(tracker: Tracker, response: Text) -> bool:
    """Whether this bot turn already sent the response (its lead-in covers what
    the first question's long version says)."""
    return any(
        event.get("event") == "bot"
        and (event.get("metadata") or {}).get("utter_action") == response
        for event in this_turn(tracker)
    )


class _AskReportQuestion(Action):
    """Asks one question of the form (`action_ask_<slot>`), with a skip button."""

    slot: Text = ""

    def name(self) -> Text:
        return f"action_ask_{self.slot}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        asked = question(self.slot)
        text, buttons = asked["ask"], asked.get("buttons")
        links = tracker.get_slot("report_links") or []
        if self.slot == "report_link" and links:
            text, buttons = asked["ask_more"], asked.get("buttons_more")
        skip = _form_content()["skip_button"]
        rendered = content.render_text(text, count=len(links))
        short_text = asked.get("ask_short")
        if (
            rendered in previous_bot_texts(tracker)
            or (short_text and content.render_text(short_text) in previous_bot_texts(tracker))
            or tracker.get_slot("form_aside")
            or _said_this_turn(tracker, "utter_report_details")
        ):
            # Asked again right away (an unclear answer, a question, an aside):
            # the short form, not the same long text twice.
            short = asked.get("ask_short")
            if short and not (self.slot == "report_link" and links):
                rendered = content.render_text(short)
        events: List[EventType] = []
        if tracker.get_slot("form_aside"):
            # Asked again after a question or an aside: say so, briefly.
            rendered = content.message("report_question_again").text + "\n" + rendered
            events.append(SlotSet("form_aside", None))
        dispatcher.utter_message(
            text=rendered, buttons=_buttons(buttons) + [{"title": skip, "payload": skip}]
        )
        return events


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
                    {"title": label, "payload": content.label("buttons", "fix_answer", label=label)}
                    for label in (question(slot)["label"] for slot in QUESTION_SLOTS)
                ],
            )
            return []
        if tracker.get_slot("form_aside"):
            # Asked again after a question at the summary: not the whole summary twice.
            reply = content.message("report_summary", items=[])
            dispatcher.utter_message(
                text=content.message("report_confirm_again").text,
                buttons=_buttons({b.title: b.payload for b in reply.buttons}),
            )
            return [SlotSet("form_aside", None)]
        items = [
            (
                question(slot)["label"],
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
        SlotSet("form_aside", None),
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
            # Paused, not ended: "아까 하던 신고 이어서 하자" goes on from here.
            events: List[EventType] = [
                SlotSet("report_stopped", None),
                SlotSet("paused_form", "report_form"),
            ]
            send(dispatcher, content.messages("report_stopped"))
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
            send(dispatcher, content.messages("report_not_saved"))
            # The answers stay: "다시 저장하기" finishes the form again at once.
            return [SlotSet("report_stopped", None)]
        link = evidence_link(code)
        send(dispatcher, content.messages("report_saved", code=code, link=link, minor=report.minor))
        return reset_form_events() + [SlotSet("report_code", code)]


def evidence_link(code: Text) -> Optional[Text]:
    """The expiring link to the case's printable evidence log, if it can be made."""
    try:
        return evidence_log.make_link(settings(), code)
    except Exception:  # noqa: BLE001 - the report is saved; the link is a convenience
        logger.exception("making the evidence log link failed")
        return None
