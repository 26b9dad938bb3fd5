"""The quiz: a few questions from content/quiz.yml in random order, answered by
button or free text ("1번", "오", "맞아", "x"), an explanation after each answer
and a score at the end. The student can stop at any time.

Flow: action_start_quiz draws the questions, quiz_form asks them one by one
(action_ask_quiz_answer) and validate_quiz_form checks each answer. The form's
one slot, quiz_answer, is emptied after every question so the form asks again;
it is filled ("done" or "stopped") only to end the quiz, and action_quiz_end
then gives the score.
"""

from __future__ import annotations

import random
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    channel_of,
    numbers_said_last,
    previous_bot_texts,
    send,
    service_replies,
    this_turn,
)
from actions.report import QUESTION_INTENTS, answer_question
from actions.sources import asked_for_sources, source_ids
from jikimi import content, quiz_answers, reading

QUESTIONS_PER_QUIZ = 5
DONE, STOPPED = "done", "stopped"
# A message that is no answer but a call for help ends the quiz, and what
# answers that intent outside the quiz (bot/rules/) follows at once. Short
# answers like "3번" can be misread as one of these, so an answer that parses
# always counts as an answer first.
HELP_INTENTS = {
    "report_incident": "utter_report_incident",
    "request_counsellor": "action_offer_counsellor",
    "express_distress": "utter_distress",
    "ask_bystander_help": "action_lesson",
    "disclose_involvement": "action_lesson",
    "ask_privacy": "action_privacy",
    "delete_my_data": "utter_delete_confirm",
}
HELP_CONFIDENCE = 0.6
# "이제 안 할래요 대신 증거 남기는 법 알려 주세요": stopped, and what was asked
# is answered at once (as bot/rules/ answers it outside the quiz).
ASKED_WHEN_STOPPING = {
    "ask_evidence": "action_evidence_help",
    "ask_takedown": "action_takedown_help",
    "ask_privacy": "action_privacy",
    "ask_law": "action_lesson",
    "ask_harm": "action_lesson",
    "ask_what_is_deepfake": "action_lesson",
    "ask_spot_fake": "action_lesson",
    "ask_prevention": "action_lesson",
}
STOPPED_THEN = "stopped_then:"

# "몰라", "모르겠어요", "패스", "다음 문제": no answer, but no reason to stop;
# the answer and why, kindly, then the next question.
_DONT_KNOW = re.compile(
    r"^(음+|아+|흠+|잘)?(몰라|모르|모름|몰|패스|pass|스킵|skip|넘길래|넘어가|다음|담)"
)
# "그만할래", "퀴즈 그만", "멈춰", "안 할래", "stop": the student wants out.
_STOP = re.compile(r"(그만|멈춰|멈출래|스톱|안\s*할래|안\s*해|끝낼래|나갈래|종료|\bstop\b)", re.I)


def _questions_by_id() -> Dict[Text, content.Question]:
    return {q.id: q for q in content.quiz_questions()}


def _current(tracker: Tracker) -> Optional[content.Question]:
    ids = tracker.get_slot("quiz_ids") or []
    index = int(tracker.get_slot("quiz_index") or 0)
    if index >= len(ids):
        return None
    return _questions_by_id().get(ids[index])


def _answer_buttons(question: content.Question) -> List[Dict[Text, Text]]:
    # Plain-text payloads: they arrive as the message text, which the form reads.
    if question.kind == "ox":
        return [{"title": "⭕ O", "payload": "O"}, {"title": "❌ X", "payload": "X"}]
    choices = [
        content.label("buttons", "quiz_choice", number=i)
        for i in range(1, len(question.choices) + 1)
    ]
    stop = content.label("buttons", "quiz_stop")
    return [{"title": c, "payload": c} for c in choices] + [{"title": stop, "payload": stop}]


class ActionStartQuiz(Action):
    """Draws the questions for this run and says how the quiz works."""

    def name(self) -> Text:
        return "action_start_quiz"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        ids = [q.id for q in content.quiz_questions()]
        chosen = random.sample(ids, min(QUESTIONS_PER_QUIZ, len(ids)))
        send(dispatcher, content.messages("quiz_intro", total=len(chosen)))
        return [
            SlotSet("quiz_ids", chosen),
            SlotSet("quiz_index", 0),
            SlotSet("quiz_score", 0),
            SlotSet("quiz_answer", None),
        ]


class ActionAskQuizAnswer(Action):
    """Asks the current question (the form's ask action for quiz_answer)."""

    def name(self) -> Text:
        return "action_ask_quiz_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        question = _current(tracker)
        if question is None:
            return []
        ids = tracker.get_slot("quiz_ids") or []
        number = int(tracker.get_slot("quiz_index") or 0) + 1
        text = content.render("quiz_question.j2", question=question, number=number, total=len(ids))
        if tracker.get_slot("form_aside"):
            # After an answer to a question asked in the middle: the whole question
            # again, saying so (the same bubble twice reads like a stuck bot).
            text = f"{content.message('quiz_back').text}\n{text}"
            dispatcher.utter_message(text=text, buttons=_answer_buttons(question))
            return [SlotSet("form_aside", None)]
        if text in previous_bot_texts(tracker):
            # Asked again right after an unclear answer: the question is just
            # above; a short word and the same buttons, not the question twice.
            text = content.message("quiz_again").text
        dispatcher.utter_message(text=text, buttons=_answer_buttons(question))
        return []


class ValidateQuizForm(FormValidationAction):
    """Checks one answer: explanation, score, next question or the end."""

    def name(self) -> Text:
        return "validate_quiz_form"

    async def validate_quiz_answer(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        question = _current(tracker)
        if question is None:  # nothing left to ask (e.g. slots were reset)
            return {"quiz_answer": DONE}
        if _just_started(tracker):
            # "퀴즈 풀래" started it: no answer yet (the form reads the message
            # that activated it).
            return {"quiz_answer": None}
        if asked_for_sources(tracker):
            # "근거 보기" under the last explanation: the sources, then the
            # same question again (the form asks it when the slot stays empty).
            send(dispatcher, content.source_notes(source_ids(tracker)))
            return {"quiz_answer": None}
        text = value if isinstance(value, str) else ""
        ids = tracker.get_slot("quiz_ids") or []
        index = int(tracker.get_slot("quiz_index") or 0)
        if index > 0 and reading.asks_why(text):
            # "왜 그게 답이에요?": why the last answer was right, then this
            # question again.
            answered = _questions_by_id().get(ids[index - 1])
            if answered is not None:
                why = content.message("quiz_why", explanation=answered.explanation).text
                button = content.sources_button(answered.facts)
                send(dispatcher, [content.Reply(why, (button,) if button else ())])
                return {"quiz_answer": None, "form_aside": "question"}
        given = quiz_answers.parse_answer(question, text)
        dont_know = (
            given is None
            and reading.is_short(text)
            and bool(_DONT_KNOW.search(reading.squash(text)))
        )
        if given is None and not dont_know and reading.asks_number_again(text):
            # "아 잠만 아까 그거 번호 뭐였지": the numbers said last, then the question.
            services = numbers_said_last(tracker, before_loop="quiz_form")[:2] or ["1388"]
            send(dispatcher, service_replies(services))
            return {"quiz_answer": None, "form_aside": "question"}
        if given is None and not dont_know:
            intent = tracker.latest_message.get("intent") or {}
            if reading.is_question(text) and (
                intent.get("name") in QUESTION_INTENTS or reading.privacy_topic(text) != "general"
            ):
                # "이거 점수 선생님한테 가?", "보기만 해도 처벌됨?": answered, then
                # the same question again.
                answer_question(
                    dispatcher, tracker, intent.get("name"), text, later="quiz_question_later"
                )
                return {"quiz_answer": None, "form_aside": "question"}
            if reading.victim_cue(text):
                # "사실 내 사진도 합성됐어": a victim speaking up, whatever the label.
                return {"quiz_answer": "report_incident"}
            if (
                intent.get("name") in HELP_INTENTS
                and (intent.get("confidence") or 0) >= HELP_CONFIDENCE
            ):
                return {"quiz_answer": intent["name"]}
            if _STOP.search(text) or intent.get("name") == "goodbye":
                asked = ASKED_WHEN_STOPPING.get(intent.get("name"))
                if asked and (intent.get("confidence") or 0) >= HELP_CONFIDENCE:
                    return {"quiz_answer": STOPPED_THEN + asked}
                return {"quiz_answer": STOPPED}
            send(dispatcher, content.messages("quiz_unclear"))
            return {"quiz_answer": None}

        correct = given == question.answer
        index += 1
        finished = index >= len(ids)
        feedback = content.quiz_feedback(question, given)
        if not finished and channel_of(tracker) == "jikimi_sms":
            # By SMS one turn's buttons are numbered together: "1. 근거 보기" here
            # would make the next question's ① read as "2" (typed, "근거 보기"
            # still works).
            feedback = [content.Reply(r.text, (), r.facts) for r in feedback]
        send(dispatcher, feedback)
        score = int(tracker.get_slot("quiz_score") or 0) + int(correct)
        return {
            "quiz_index": index,
            "quiz_score": score,
            "quiz_answer": DONE if finished else None,
        }


def _just_started(tracker: Tracker) -> bool:
    """Whether the quiz was started by the latest message (this very turn)."""
    return any(
        event.get("event") == "action" and event.get("name") == "action_start_quiz"
        for event in this_turn(tracker)
    )


class ActionQuizEnd(Action):
    """The score, or a kind word when the student stopped early; then what next."""

    def name(self) -> Text:
        return "action_quiz_end"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        total = len(tracker.get_slot("quiz_ids") or [])
        score = int(tracker.get_slot("quiz_score") or 0)
        answered = int(tracker.get_slot("quiz_index") or 0)
        ending = tracker.get_slot("quiz_answer")
        followup: List[EventType] = []
        if ending in HELP_INTENTS:
            followup = [FollowupAction(HELP_INTENTS[ending])]
        elif ending == STOPPED:
            send(dispatcher, content.messages("quiz_stopped"))
        elif isinstance(ending, str) and ending.startswith(STOPPED_THEN):
            send(dispatcher, content.messages("quiz_stopped_then"))
            followup = [FollowupAction(ending[len(STOPPED_THEN) :])]
        else:
            send(dispatcher, content.messages("quiz_score", score=score, total=total))
            answered = total
        result = (
            content.message("quiz_result", score=score, total=answered).text if answered else None
        )
        return [
            SlotSet("quiz_ids", None),
            SlotSet("quiz_index", None),
            SlotSet("quiz_score", None),
            SlotSet("quiz_answer", None),
            SlotSet("quiz_result", result),
        ] + followup
