"""The context policy: the conversation, not the single message, decides.

RulePolicy maps an intent to a reply. That is right for most turns and wrong
for the ones that matter most: "아니" after "지금 안전한 곳에 있어요?" is not a
refusal, "어제 밤" typed at "언제 알게 됐어요?" is not a suicide note, and "아니
지우지 말고" after "모두 지울까요?" must not erase anything. This policy reads the
latest message against what the bot just asked, the form in progress and who is
speaking (jikimi/reading.py), and when that context decides the reply, it
predicts the whole bot turn itself, with a confidence of 1 and a priority above
RulePolicy's. Otherwise it abstains and the rules answer.

What the bot asked is derived, not stored: the question-asking actions of the
previous bot turn (QUESTIONS). A plan for the turn (a list of actions) is a
pure function of the conversation up to the latest user message, so it is
recomputed at each prediction step and followed while the executed actions
match it. Everything safety-related it predicts is a domain response: the
crisis dialogue works with the action server down. See docs/conversation.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from jikimi import reading

logger = logging.getLogger(__name__)

# The questions the bot asks, by the action that asks them.
QUESTIONS = {
    "utter_ask_safe": "safety",
    "utter_ask_safe_again": "safety_again",
    "utter_ask_safe_other": "safety_other",
    "utter_ask_safe_other_again": "safety_other_again",
    "utter_crisis_check": "crisis_check",
    "utter_delete_confirm": "delete",
    "utter_delete_confirm_again": "delete",
    "action_offer_counsellor": "counsellor",
    "utter_offer_counsellor_again": "counsellor",
    "utter_counsellor_not_yet": "counsellor",
    "utter_counsellor_who": "counsellor",
    "utter_counsellor_unsure": "counsellor",
    "utter_delete_what": "delete",
    "utter_counsellor_ask": "counsellor",
    "utter_offer_resume_report": "resume",
    "utter_offer_resume_quiz": "resume",
    "utter_report_kept": "resume",
}
FORMS = ("report_form", "quiz_form")
RESUME_OFFER = {"report_form": "utter_offer_resume_report", "quiz_form": "utter_offer_resume_quiz"}
# Report form questions answered in the student's own words: whatever is typed
# there is an answer (unless the detector found a crisis, or it is a stop or a
# clear question, which the form's validator sees).
FREE_TEXT_SLOTS = ("report_when", "report_description", "report_confirm")
# Intents a scene-setting first line gets (reading.story_start).
STORY_INTENTS = (
    "report_incident", "ask_bystander_help", "disclose_involvement", "nlu_fallback",
    "out_of_scope", "express_distress", "greet",
)  # fmt: skip
# The replies of a threat episode (sextortion): what follows is read as part of it.
THREAT_REPLIES = ("utter_threat", "utter_threat_more", "utter_threat_short", "utter_threat_keep")
# Intents that name what the person is about; the first sets the stance.
STANCE_OF_INTENT = {
    "report_incident": "victim",
    "ask_bystander_help": "bystander",
    "disclose_involvement": "involved",
}
# The classifier alone makes the writer the one who shared only when it is this
# sure: that stance changes every later reply (the law, not comfort).
INVOLVED_CONFIDENCE = 0.8
# Replies too long to send twice in a row: a repeat gets utter_what_next.
# (Actions leave out what they just said themselves: actions.common.send.)
LONG_REPLIES = ("utter_report_incident", "utter_distress", "utter_adult_help")
# Intents that arrive as button or widget payloads or from the desk: the rules
# and actions answer them; the policy only keeps its bookkeeping.
PAYLOAD_INTENTS = ("start_report", "add_evidence", "just_talk", "show_sources")
SKIPPED_ACTIONS = ("action_listen", "action_extract_slots", "action_session_start")
# Intents a request to take the material down is often read as.
TAKEDOWN_MISREAD = (
    "delete_my_data", "nlu_fallback", "crisis", "report_incident", "deny", "affirm",
    "express_distress", "ask_takedown", "out_of_scope", "ask_privacy", "ask_law",
    "ask_bystander_help",
)  # fmt: skip
# What the one who made or shared asks gets his own answer, whatever the
# classifier read, except requests that have their own reply.
INVOLVED_OWN_REPLY = ("request_counsellor", "delete_my_data", "bot_challenge")
# A question about keeping evidence at the end of a longer message.
EVIDENCE_MISREAD = ("ask_bystander_help", "report_incident", "disclose_involvement", "nlu_fallback")
# A question about who finds out, read as something else.
PRIVACY_MISREAD = (
    "ask_bystander_help", "report_incident", "ask_law", "disclose_involvement",
    "nlu_fallback", "ask_evidence", "express_distress",
)  # fmt: skip
SAFETY_QUESTIONS = ("safety", "safety_again", "safety_other", "safety_other_again")
# Answers that may be given again when asked to ("다시 말해줘"): no side effects.
REPEATABLE = (
    "utter_where_to_report", "utter_next_steps", "action_evidence_help", "action_takedown_help",
    "action_privacy", "utter_what_rooms_are", "utter_not_your_fault", "utter_no_call",
    "utter_invited_room", "utter_in_room", "utter_saw_unwanted", "utter_real_or_fake",
)  # fmt: skip
# Replies that no intent leads to alone, only the conversation (so no rule
# names them; tests/test_stories.py lets `rasa data validate` know).
CONTEXT_ONLY = (
    "utter_crisis_other", "utter_crisis_clarified", "utter_what_next", "utter_threat_more",
    "utter_crisis_medical_again", "utter_offer_counsellor_again", "utter_where_to_report",
    "utter_report_details", "utter_report_kept", "utter_threat_unsafe", "utter_threat_safe",
    "utter_crisis_unsafe_again", "utter_tell_friend", "utter_next_steps", "utter_refuse_make",
    "utter_rephrase", "utter_not_your_fault", "utter_invited_room", "utter_no_call",
    "utter_dont_confront", "utter_support_friend", "utter_in_room", "utter_teacher_must_report",
    "utter_adult_help", "utter_profile_photo", "utter_what_rooms_are", "utter_saw_unwanted",
    "utter_real_or_fake", "utter_adult_donts", "utter_threat_short", "utter_threat_keep",
    "action_hotline", "utter_listen", "utter_under14", "utter_telegram_caught",
    "utter_minor_material", "utter_takedown_speed", "utter_police_delete",
    "utter_report_no_evidence", "utter_boys_too", "utter_pressure_to_join",
    "utter_report_for_friend", "utter_capture_then_block", "utter_not_your_fault_threat",
    "utter_good_plan", "utter_teacher_dont_receive", "utter_teacher_class",
    "utter_school_inaction", "utter_quiz_result", "utter_school_escalate", "utter_under14_report",
    "utter_viewing_law", "utter_keep_original", "utter_counsellor_not_yet", "utter_under14_help",
    "utter_minor_material_more", "utter_teacher_class_rules", "utter_school_inaction_police",
    "utter_police_site", "utter_explain_duty", "utter_takedown_speed_more",
    "utter_teacher_dont_receive_next", "utter_deleted_not_gone", "utter_report_later",
    "utter_spare_offender", "utter_platform_report", "utter_open_now", "utter_parent_scolded",
    "utter_parent_dont_receive", "utter_parent_dont_receive_other", "utter_which_number",
    "utter_threat_no_reply", "utter_threat_worry", "utter_tell_child",
    "utter_crisis_unsafe_other_again", "utter_call_cost", "utter_delete_copy",
    "utter_saved_unawares", "utter_law_text", "utter_police_interview", "utter_trial",
    "utter_tell_adult", "utter_prove_fake", "utter_refer_adult", "utter_counsellor_later",
    "utter_counsellor_who", "utter_friend_steps", "utter_counsellor_unsure",
    "utter_counsellor_can_stop", "utter_counsellor_weekend", "utter_come_back",
    "utter_counsellor_ask", "utter_teacher_no_own_inquiry", "utter_blamed_by_others",
    "utter_delete_what", "utter_adult_victim", "utter_dont_know", "utter_keeping_law",
    "utter_capture_yes", "utter_can_still_report", "utter_capture_yes_short", "utter_legal_aid",
    "utter_heard_more", "utter_heard_more_help", "utter_report_scary", "utter_other_case",
    "utter_other_case_adult", "utter_face_offender", "utter_not_believed", "utter_1377",
    "utter_review_delay", "utter_scolded_worry", "utter_link_for_report", "utter_tell_to_delete",
    "utter_refuse_payback", "utter_report_unsure", "utter_maybe_me", "utter_maybe_me_more",
    "utter_no_cover_up", "utter_117_duty", "utter_separation_now", "utter_snitch_worry",
    "utter_not_a_joke", "utter_silence_threat",
)  # fmt: skip
DANGER_REPLY = {
    "medical": "utter_crisis_medical",
    "self_harm": "utter_crisis",
    "threat": "utter_threat",
}


@dataclass
class Plan:
    """The bot's whole turn: actions in order, and slot events set with the first."""

    actions: List[Text]
    events: List[Event] = field(default_factory=list)


@dataclass
class Turn:
    """What the policy knows at the latest user message."""

    text: Text
    intent: Text
    confidence: float
    danger: List[Text]
    asked: Optional[Text]  # QUESTIONS value of the previous bot turn
    previous: List[Text]  # actions of the previous bot turn
    done: List[Text]  # actions already run in this turn
    slots: Dict[Text, Any]  # slot values as they were at the user message
    active_loop: Optional[Text]
    channel: Optional[Text]
    platform: Optional[Text] = None  # the NLU's platform entity, if any
    earlier: List[Text] = field(default_factory=list)  # the bot turn before `previous`
    session: List[Text] = field(default_factory=list)  # every bot action of the session so far

    @property
    def role(self) -> Text:
        return self.slots.get("user_role") or "student"

    @property
    def said_role(self) -> Optional[Text]:
        """The role this message says ("교사입니다"), read against the one kept."""
        return reading.role(self.text, self.slots.get("user_role"))


def turn_of(tracker: DialogueStateTracker) -> Optional[Turn]:
    """Reads the tracker: the latest user message, the turns around it, and the
    slots as they stood when the message came (before this turn's events)."""
    events = list(tracker.events)
    start = 0
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], (Restarted, SessionStarted)):
            start = index + 1
            break
    events = events[start:]
    users = [i for i, e in enumerate(events) if isinstance(e, UserUttered)]
    if not users:
        return None
    last = users[-1]
    before = users[-2] if len(users) > 1 else -1

    def actions(between: Sequence[Event]) -> List[Text]:
        return [
            e.action_name
            for e in between
            if isinstance(e, ActionExecuted)
            and e.action_name
            and e.action_name not in SKIPPED_ACTIONS
        ]

    previous = actions(events[before + 1 : last])
    before_that = users[-3] if len(users) > 2 else -1
    earlier = actions(events[before_that + 1 : before]) if before >= 0 else []
    asked = _asked(previous)
    slots: Dict[Text, Any] = {}
    active_loop = None
    for event in events[:last]:
        if isinstance(event, SlotSet):
            slots[event.key] = event.value
        elif event.type_name == "active_loop":
            active_loop = getattr(event, "name", None)
    message: UserUttered = events[last]
    intent = message.intent or {}
    return Turn(
        text=message.text or "",
        intent=intent.get("name") or "",
        confidence=float(intent.get("confidence") or 0.0),
        danger=[e.get("value") for e in message.entities if e.get("entity") == "danger"],
        asked=asked,
        previous=previous,
        done=actions(events[last + 1 :]),
        slots=slots,
        active_loop=active_loop,
        channel=message.input_channel,
        earlier=earlier,
        session=actions(events[:last]),
        platform=next(
            (e.get("value") for e in message.entities if e.get("entity") == "platform"), None
        ),
    )


def _asked(previous: List[Text]) -> Optional[Text]:
    """The question the previous bot turn ended with: its last question-asking
    action, followed by nothing but quiet ones (a question followed by another
    reply is no longer pending)."""
    quiet = {"action_crisis_handoff", "action_crisis_update", "action_deactivate_loop"}
    for action in reversed(previous):
        if action in QUESTIONS:
            return QUESTIONS[action]
        if action not in quiet:
            return None
    return None


# --- deciding the turn ---------------------------------------------------------------


def role_events(turn: Turn) -> List[Event]:
    """Who is speaking, kept for the whole conversation (slots user_role, stance)."""
    events: List[Event] = []
    said = turn.said_role
    if said and said != turn.slots.get("user_role"):
        events.append(SlotSet("user_role", said))
    role = said or turn.role
    stance = _stance(turn, role)
    if stance and stance != turn.slots.get("stance"):
        events.append(SlotSet("stance", stance))
    speaker = speaker_of(role, stance or turn.slots.get("stance"))
    if speaker != turn.slots.get("speaker"):
        events.append(SlotSet("speaker", speaker))
    return events


def speaker_of(role: Text, stance: Optional[Text]) -> Optional[Text]:
    """The one value conditional responses choose their version by: what the
    person (or their child or student) did first, then who they are."""
    if stance == "involved":
        return "involved"
    if role in ("parent", "teacher"):
        return role
    return stance


def _stance(turn: Turn, role: Text) -> Optional[Text]:
    if turn.asked or turn.active_loop == "report_form":
        return None  # an answer to a question says nothing about who is speaking
    if (
        role == "student"
        and turn.slots.get("stance") == "involved"
        and reading.reveals_self(turn.text)
    ):
        return "involved"  # "사실 친구 아니고 저예요": the friend who made it was him
    if role == "student" and reading.victim_cue(turn.text):
        return "victim"
    if reading.saved_unawares(turn.text):
        return "bystander"  # "자동저장돼서 구글포토에 백업돼있음": she did not choose it
    if reading.worry(turn.text) and not turn.danger:
        return None  # "합성당할까봐 걱정돼": nothing has happened
    if turn.slots.get("stance") == "bystander" and reading.asks_if_seeing_is_crime(turn.text):
        return None  # shown it by a friend, "나도 봤으니까 처벌받아?": still a bystander
    if role != "student" and reading.involved_cue(turn.text, adult=True):
        # "저희 반 남학생이 같은 반 여학생 얼굴로 합성해 보냈다고": their student did it.
        return "involved"
    if role == "parent" and reading.child_pictured(turn.text) and not turn.slots.get("stance"):
        return "victim"  # "딸 사진이 합성돼서": the parent's child is the one pictured
    if (
        role != "student"
        and reading.told_of_own_picture(turn.text)
        and not turn.slots.get("stance")
    ):
        return "victim"  # "여학생이 … 자기 얼굴로 만들었다고": the one who told is pictured
    if reading.bystander_cue(turn.text) and turn.slots.get("stance") is None:
        return "bystander"
    if turn.danger and reading.about_someone_else(turn.text, adult=role != "student"):
        # A friend in danger: a bystander; a child or student: the adult's victim.
        return turn.slots.get("stance") or ("bystander" if role == "student" else "victim")
    if (
        role == "student"
        and reading.received_it(turn.text)
        and not reading.victim_cue(turn.text)
        and turn.slots.get("stance") is None
    ):
        return "bystander"  # "걔가 나한테 갠톡으로 사진 보냈는데 …": she was sent it
    if reading.involved_cue(turn.text, adult=role != "student"):
        return "involved"
    # The first intent that says who is speaking sets the stance; later ones
    # do not overturn it (a friend asking "can I report it?" stays a friend):
    # only the cues above do.
    stance = STANCE_OF_INTENT.get(turn.intent)
    if stance == "involved" and turn.confidence < INVOLVED_CONFIDENCE:
        return None  # "나 몇점임?" read as a disclosure at 0.53 says nothing of who this is
    if stance and reading.hypothetical(turn.text):
        return None  # "만들어서 퍼뜨리면 어케됨": a question, not a disclosure
    if stance and turn.slots.get("stance") is None:
        return stance
    return None


def decide(turn: Turn) -> Optional[Plan]:
    """The plan for this turn, or None when the rules should answer."""
    if turn.intent.startswith("EXTERNAL_"):
        return None
    if turn.active_loop == "handoff_form":
        # Talking with a counsellor: a crisis still gets its reply first, and
        # the counsellor gets the message (marked urgent); nothing else here.
        if turn.danger and not reading.retracts_crisis(turn.text):
            kind = next((k for k in DANGER_REPLY if k in turn.danger), "self_harm")
            return Plan([DANGER_REPLY[kind], "action_forward_to_counsellor", "handoff_form"])
        return None
    if turn.intent in PAYLOAD_INTENTS:
        return None
    plan = (
        _crisis(turn)
        or _answer_to_question(turn)
        or _after_crisis_reply(turn)
        or _after_sources(turn)
    )
    if plan is None:
        # In a form, whatever the policy does not take is the form's to read.
        plan = _in_form(turn) if turn.active_loop in FORMS else _route(turn)
    if plan is not None:
        plan = _no_repeat(turn, plan)
    return plan


def _pause(turn: Turn) -> Plan:
    """Pauses the form in progress, keeping its answers. The message that paused
    it is no answer: what the slot mapping took from it is undone."""
    if turn.active_loop not in FORMS:
        return Plan([])
    events: List[Event] = [SlotSet("paused_form", turn.active_loop)]
    requested = turn.slots.get("requested_slot")
    if requested:
        events.insert(0, SlotSet(requested, None))
    return Plan(["action_deactivate_loop"], events)


def _resume_offer(turn: Turn) -> List[Text]:
    paused = turn.slots.get("paused_form")
    return [RESUME_OFFER[paused]] if paused in RESUME_OFFER else []


def _crisis(turn: Turn) -> Optional[Plan]:
    """The detector's verdict: the crisis dialogue first, whatever else is going on."""
    if not turn.danger:
        return None
    if reading.retracts_crisis(turn.text):
        return Plan(["utter_crisis_clarified"] + _resume_offer(turn))
    kind = next((k for k in DANGER_REPLY if k in turn.danger), "self_harm")
    if turn.asked in SAFETY_QUESTIONS:
        # "학교 옥상임": an answer to the safety question, not a new crisis. So is
        # "아니요 그 사람이 집 앞에 와 있대" after the threat reply: saying it again
        # helps nobody; the unsafe reply (112 or 119 now) does. A medical
        # emergency, or a threat not yet answered, keeps its own reply.
        status, place = reading.safety_answer(turn.text)
        if kind == "self_harm" or (kind == "threat" and status == "unsafe"):
            return _unsafe(turn, place or reading.danger_place(turn.text), threat=kind == "threat")
        answered = DANGER_REPLY[kind] in turn.previous or turn.asked.endswith("again")
        if kind == "threat" and answered:
            # More of the threat ("또 디엠옴 ... 걍 보낼까"): don't send, 112, short.
            return Plan(["utter_threat_more"])
    pause = _pause(turn)
    adult = (turn.said_role or turn.role) in ("teacher", "parent")
    other = reading.about_someone_else(turn.text, adult=adult)
    # "합성한 애가 지금 집 앞에 와있대": the one near is the perpetrator; the
    # one in danger is the student writing.
    near = kind == "threat" and not adult and reading.danger_near(turn.text)
    other = other and not near
    if kind == "threat" and "utter_threat" in turn.session and not other and not near:
        # The same threat told on ("경찰에 말하면 진짜 올린다고 했어"): the reply
        # and the page were given this session; don't send, 112, in short.
        return Plan(pause.actions + ["utter_threat_more"], pause.events)
    if kind in ("threat", "medical"):
        # 119 or 112 first; "are you safe?" only when it is the writer's own danger.
        tail = [] if other else ["utter_ask_safe"]
        # A person at the door, not a message: don't open, 112 now, an adult
        # (not the sextortion advice).
        first = "utter_threat_unsafe" if near else DANGER_REPLY[kind]
        reply = [first, "action_crisis_handoff"] + tail
        return Plan(pause.actions + reply, pause.events)
    if other:
        reply = ["utter_crisis_other", "action_crisis_handoff", "utter_ask_safe_other"]
        return Plan(pause.actions + reply, pause.events)
    return Plan(
        pause.actions + ["utter_crisis", "action_crisis_handoff", "utter_ask_safe"],
        pause.events,
    )


def _unsafe(turn: Turn, place: Optional[Text], threat: Optional[bool] = None) -> Plan:
    other = turn.asked in ("safety_other", "safety_other_again")
    events: List[Event] = [SlotSet("crisis_status", "unsafe"), SlotSet("crisis_place", place)]
    threat = _threat_episode(turn) if threat is None else threat
    if other:
        reply = "utter_crisis_unsafe_other"
    else:
        reply = "utter_threat_unsafe" if threat else "utter_crisis_unsafe"
    return Plan([reply, "action_crisis_update"], events)


def _threat_episode(turn: Turn) -> bool:
    """Whether the safety question followed a threat (sextortion) reply, not a
    suicide one: its answers get 112, not the suicide line."""
    return turn.slots.get("danger") == "threat" and not turn.slots.get("crisis_confirmed")


def _kept_offer(turn: Turn) -> List[Text]:
    """After the crisis dialogue: a paused report is kept, with no push to go on
    now; a paused quiz is offered as usual."""
    if turn.slots.get("paused_form") == "report_form":
        return ["utter_report_kept"]
    return _resume_offer(turn)


def _after_crisis_reply(turn: Turn) -> Optional[Plan]:
    """The message right after a crisis reply, read as part of that crisis:
    more of a threat gets "don't send, 112" again in short; anything after the
    119 reply keeps 119 first, unless help was already called."""
    if turn.danger or reading.retracts_crisis(turn.text):
        return None
    status, _place = reading.safety_answer(turn.text)
    if any(a in THREAT_REPLIES for a in turn.previous) and status is None:
        # Still the threat: "dm 지울까" (capture first), "또 보내야돼?" (no; said
        # short when the long answer was just given).
        if reading.asks_delete_or_block(turn.text):
            return Plan(["utter_threat_keep"])
        if reading.threat_more(turn.text):
            said = "utter_threat_more" in turn.previous or "utter_threat_keep" in turn.previous
            return Plan(["utter_threat_short" if said else "utter_threat_more"])
    if "utter_crisis_medical" in turn.previous and not reading.help_called(turn.text):
        return Plan(["utter_crisis_medical_again"])
    if (
        "utter_crisis_unsafe_other" in turn.previous
        and status != "safe"
        and not reading.help_called(turn.text)
        and (
            reading.is_question(turn.text)
            or reading.feeling(turn.text)
            or turn.intent in ("express_distress", "crisis", "deny", "nlu_fallback")
        )
    ):
        # "걔네집 어딘지 아는데 지금 가볼까": 119 or 112 first, and not alone.
        return Plan(["utter_crisis_unsafe_other_again"])
    if (
        "utter_crisis_unsafe" in turn.previous
        and status != "safe"
        and not reading.help_called(turn.text)
        and (reading.feeling(turn.text) or turn.intent in ("express_distress", "crisis", "deny"))
    ):
        # "전화하는거 무서워": still in danger; a text to 109, an adult, away from the edge.
        return Plan(["utter_crisis_unsafe_again"])
    for unsafe, reply in SAFER_AFTER.items():
        if unsafe in turn.previous and status == "safe" and not reading.is_question(turn.text):
            # "엄마 깨워서 약 엄마한테 줬어요" right after "119, an adult, now":
            # safer now, said so (not asked again whether she wants to die).
            return _safe(turn, reply)
    return None


# The reply to "safe now" right after the steps for danger now.
SAFER_AFTER = {
    "utter_crisis_unsafe": "utter_crisis_safe",
    "utter_threat_unsafe": "utter_threat_safe",
}


def _safe(turn: Turn, reply: Text) -> Plan:
    """Safe now: said so, the status kept, and a paused form offered again."""
    events: List[Event] = [SlotSet("crisis_status", "safe"), SlotSet("crisis_place", None)]
    return Plan([reply, "action_crisis_update"] + _kept_offer(turn), events)


def _answer_to_question(turn: Turn) -> Optional[Plan]:
    asked = turn.asked
    if asked and turn.text.startswith("/") and turn.intent in ("affirm", "deny"):
        # A tapped button ("/affirm", "/deny"): its intent is the answer.
        return _button_answer(turn, asked)
    if asked in ("safety", "safety_again", "safety_other", "safety_other_again"):
        if reading.retracts_crisis(turn.text):
            # "아 그런 뜻 아니고 짜증나서 한 말임": taken back, 109 for later.
            return Plan(
                ["utter_crisis_clarified", "action_crisis_update"] + _kept_offer(turn),
                [SlotSet("crisis_status", "clarified")],
            )
        status, place = reading.safety_answer(turn.text)
        other = asked.startswith("safety_other")
        if (
            status == "safe"
            and not other
            and _threat_episode(turn)
            and reading.threat_more(turn.text)
            and not reading.safety_answer_words(turn.text)
        ):
            # "편의점에서 기프트카드 사서 보내면 끝나지 않을까": about paying, not
            # where she is (편의점 is no answer to "are you safe?" here).
            status = None
        if status is None and not other and _threat_episode(turn):
            # After the threat reply, "걍 보낼까", "이미 10만원 보냈는데": don't send,
            # 112; a question ("엄마도 알게 돼?") is answered, not read as unsafe.
            if reading.asks_delete_or_block(turn.text):
                return Plan(["utter_threat_keep"])
            if reading.threat_more(turn.text):
                return Plan(["utter_threat_more"])
            if reading.is_question(turn.text):
                return None
        if status == "unsafe" or (status is None and asked.endswith("again")):
            return _unsafe(turn, place)
        if status == "safe":
            if other:
                reply = "utter_crisis_safe_other"
            else:
                reply = "utter_threat_safe" if _threat_episode(turn) else "utter_crisis_safe"
            return _safe(turn, reply)
        return Plan(["utter_ask_safe_other_again" if other else "utter_ask_safe_again"])
    if asked == "crisis_check":
        if reading.retracts_crisis(turn.text):
            return Plan(["utter_crisis_clarified"] + _resume_offer(turn))
        answer = reading.yes_no(turn.text, verbs=("죽고싶", "죽고 싶"))
        if answer == reading.YES or (answer is None and reading.starts_unsure(turn.text)):
            # "모르겠어요" is no "no": the crisis reply and the safety question
            # (facts-ko §10: ask directly, don't leave them alone), not a move on.
            return Plan(
                ["utter_crisis", "action_crisis_handoff", "utter_ask_safe"],
                [SlotSet("crisis_confirmed", True)],
            )
        if answer == reading.NO:
            return Plan(["utter_crisis_check_no"] + _resume_offer(turn))
        return None
    if asked == "delete":
        answer, go_on = reading.delete_answer(turn.text)
        if reading.is_question(turn.text) and "utter_delete_what" not in turn.previous:
            # "신고서 낸것도 같이 지워짐?", "ㅇㅇ근데 그 전에 1366 번호 맞죠?": answered,
            # and asked again; a question is no yes.
            if reading.hotlines_named(turn.text):
                return Plan(["action_hotline", "utter_delete_what"])
            return Plan(["utter_delete_what"])
        if answer == reading.YES:
            return Plan(["action_delete_my_data"])
        if answer == reading.NO:
            if go_on and _report_in_progress(turn):
                return Plan(
                    ["utter_delete_cancelled", "report_form"], [SlotSet("paused_form", None)]
                )
            return Plan(["utter_delete_cancelled"] + _resume_offer(turn))
        if "utter_delete_confirm_again" in turn.previous:
            # Unclear twice: nothing is erased, and the question is not asked a third time.
            return Plan(["utter_delete_cancelled"] + _resume_offer(turn))
        return Plan(["utter_delete_confirm_again"])
    if asked == "counsellor":
        if reading.hotlines_named(turn.text) and "연결" not in reading.squash(turn.text):
            # "ㅇㅋ 1388에 문자해볼게": her own plan, not a yes to paging someone.
            return Plan(["utter_counsellor_declined"] + _resume_offer(turn))
        answer = reading.yes_no(turn.text, verbs=("연결", "기다릴"), okay_means=reading.NO)
        if answer != reading.NO:
            # Asked about, or unsure: answered, and nobody is paged on a guess
            # ("끊어도 돼?" and "월요일까지 기다려야 돼요?" say 돼, no yes).
            if reading.asks_can_stop_talk(turn.text):
                return Plan(["utter_counsellor_can_stop", "utter_counsellor_ask"])
            if reading.asks_wait_for_weekday(turn.text):
                return Plan(["utter_counsellor_weekend", "utter_counsellor_ask"])
            if reading.unsure(turn.text) and "utter_counsellor_unsure" not in turn.previous:
                return Plan(["utter_counsellor_unsure"])
        if answer == reading.YES:
            return Plan(["action_request_counsellor"] + _resume_offer(turn))
        if answer == reading.NO:
            return Plan(["utter_counsellor_declined"] + _resume_offer(turn))
        if reading.is_question(turn.text) and reading.asks_who_counsellor(turn.text):
            # "그 상담쌤 우리학교 쌤임?": who they are is theirs to say; the offer stands.
            return Plan(["utter_counsellor_who"])
        if (
            reading.is_question(turn.text)
            and reading.asks_what_happens_next(turn.text)
            and "utter_counsellor_not_yet" not in turn.previous
        ):
            # "그럼 이제 어떻게 돼요? 선생님이 언제 연락 줘요?": nothing was sent yet.
            return Plan(["utter_counsellor_not_yet"])
        if reading.avoids_calling(turn.text):
            # "전화는 못하겠어요 엄마가 들을까봐요": ways without a call; the offer stands.
            return Plan(["utter_no_call", "utter_counsellor_ask"])
        if (reading.feeling(turn.text) or turn.intent == "express_distress") and (
            "utter_offer_counsellor_again" not in turn.previous
        ):
            # "너무 불안해요" after "연결해 줄까요?": heard, and asked once more;
            # nobody is paged on a guess.
            return Plan(["utter_offer_counsellor_again"])
        return None
    if asked == "resume":
        paused = turn.slots.get("paused_form")
        answer = reading.yes_no(turn.text, verbs=("이어", "계속"), okay_means=reading.NO)
        if answer == reading.YES and paused in FORMS:
            return Plan([paused], [SlotSet("paused_form", None)])
        if answer == reading.NO:
            # The form stays paused: "신고 이어서 할래" later goes on from there.
            return Plan(["utter_resume_later"])
        return None
    return None


def _button_answer(turn: Turn, asked: Text) -> Optional[Plan]:
    """The same reading as typed words, for a tapped yes or no."""
    said = {"affirm": "응", "deny": "아니"}[turn.intent]
    return _answer_to_question(replace(turn, text=said))


def _report_in_progress(turn: Turn) -> bool:
    return (
        turn.active_loop == "report_form"
        or turn.slots.get("paused_form") == "report_form"
        or any(
            turn.slots.get(slot) is not None
            for slot in ("report_age", "report_platform", "report_when")
        )
    )


# Requests that leave a form, when typed short and clearly (a long message at a
# free-text question is the student's answer, whatever the classifier says).
COMMANDS = {
    "delete_my_data": "utter_delete_confirm",
    "request_counsellor": "action_offer_counsellor",
}
COMMAND_CONFIDENCE = 0.8
COMMAND_MAX_CHARS = 25


def _in_form(turn: Turn) -> Optional[Plan]:
    """In a form, a clear request to leave it pauses it; the classifier alone
    saying crisis is checked gently, unless the message answers the question
    asked. Everything else is the form's validator's to read."""
    if turn.active_loop not in FORMS:
        return None
    answers = _answers_question(turn)
    says_it = {
        "delete_my_data": reading.asks_deletion,
        "request_counsellor": reading.asks_counsellor,
    }
    if (
        turn.intent in COMMANDS
        and turn.confidence >= COMMAND_CONFIDENCE
        and len(reading.squash(turn.text)) <= COMMAND_MAX_CHARS
        and says_it[turn.intent](turn.text)
        and not answers
    ):
        pause = _pause(turn)
        return Plan(pause.actions + [COMMANDS[turn.intent]], pause.events)
    if turn.intent != "crisis" or answers or _free_text(turn):
        return None
    pause = _pause(turn)
    return Plan(pause.actions + ["utter_crisis_check"], pause.events)


def _free_text(turn: Turn) -> bool:
    return turn.active_loop == "report_form" and turn.slots.get("requested_slot") in FREE_TEXT_SLOTS


def _answers_question(turn: Turn) -> bool:
    """Whether the message is a valid answer to a multiple-choice question."""
    requested = turn.slots.get("requested_slot")
    if turn.active_loop == "report_form":
        if requested == "report_link":
            return bool(reading.extract_links(turn.text)) or reading.report_done(turn.text)
        if requested in FREE_TEXT_SLOTS:
            return False
        return reading.report_choice(requested, turn.text) is not None
    return reading.quiz_answer(turn.slots, turn.text) is not None


def _after_sources(turn: Turn) -> Optional[Plan]:
    """ "더 알려줘" right after "근거 보기" of a lesson level: the next level, as
    right after the lesson itself (the sources carry the lesson's button)."""
    if (
        turn.intent == "affirm"
        and turn.previous == ["action_show_sources"]
        and turn.slots.get("lesson_topic")
    ):
        return Plan(["action_lesson_more"])
    return None


# One point asked (reading.question_topic), and its short answer (one idea a bubble).
QUESTION_REPLIES = {
    "under14": ["utter_under14", "utter_under14_help"],
    "telegram_caught": ["utter_telegram_caught"],
    "minor_material": ["utter_minor_material", "utter_minor_material_more"],
    "takedown_speed": ["utter_takedown_speed", "utter_takedown_speed_more"],
    "police_delete": ["utter_police_delete"],
    "no_evidence": ["utter_report_no_evidence"],
    "boys_too": ["utter_boys_too"],
    "pressure_to_join": ["utter_pressure_to_join"],
    "for_friend": ["utter_report_for_friend"],
    "report_myself": ["utter_where_to_report"],
    "police_site": ["utter_police_site"],
}
# The same point asked again right after its answer.
QUESTION_FOLLOWUPS = {"utter_under14": ["utter_under14_report"]}
# Requests with their own reply, never taken for a question, a plan or a worry
# (a crisis the detector found comes as turn.danger; the classifier's alone may
# be a word misread, "자기 폰에서 다 지웠대").
OWN_REQUESTS = ("delete_my_data", "request_counsellor")
# Replies about taking material down: "얼마나 걸려" right after one asks how long.
TAKEDOWN_TALK = ("utter_police_delete", "action_takedown_help", "utter_review_delay", "utter_1377")


def _specific(turn: Turn, intent: Text, role: Text, stance: Optional[Text]) -> Optional[Plan]:
    """Turns that say exactly what they need, whatever the classifier read: one
    point asked, the score, blocking or leaving, blaming oneself, one's own plan,
    and a teacher's or parent's situation."""
    if len(reading.hotlines_named(turn.text)) >= 3 and reading.is_question(turn.text):
        # "1366 117 112 1388 다 뭐가 다른거야??": what each is for, side by side.
        return Plan(["utter_which_number"])
    threat = "utter_threat" in turn.session or _threat_episode(turn)
    if not turn.danger and stance != "involved":
        if reading.deletes_chat_with_them(turn.text):
            # "걔랑 카톡 대화 다 지우고 싶어요": the chat with him, not this one.
            return Plan(["utter_threat_keep" if threat else "utter_capture_then_block"])
        if (
            intent == "delete_my_data"
            and reading.asks_delete_copy(turn.text)
            and not reading.about_this_chat(turn.text)
        ):
            # "휴지통까지 다 지워야 돼?": a copy she holds, not her record here.
            return Plan(["utter_delete_copy"])
    if role in ("teacher", "parent") and reading.asks_where_to_refer(turn.text):
        # "그 선생님께서 상담을 받고 싶어 하시면 어디로 안내해 드리면 될까요?"
        return Plan(["utter_refer_adult"])
    if reading.saved_unawares(turn.text) and not turn.danger:
        # "단톡 자동저장 … 구글포토에 백업돼있음 나 처벌받음?": what to do now.
        return Plan(["utter_saved_unawares"])
    if intent == "bot_challenge" and reading.privacy_topic(turn.text) == "records":
        # "너 내가 한말 다 기억함?": what is kept, not "I am a bot".
        return Plan(["action_privacy"])
    if intent in OWN_REQUESTS or turn.danger or stance == "involved":
        return None
    if threat and reading.pleads_with_threat(turn.text):
        # "please dont 이렇게 빌어볼까": no answer to him; keep, capture, 112.
        return Plan(["utter_threat_no_reply"])
    if (
        threat
        and (intent == "express_distress" or reading.feeling(turn.text))
        and not reading.blames_self_now(turn.text)
        and reading.privacy_topic(turn.text) != "parents"  # "엄마한테 말하면 혼날거같아"
    ):
        # "팔로워 다 우리학교 애들인데 다 보면 어떡해": not her fault, not alone.
        return Plan(["utter_threat_worry"])
    if _connects_again(turn):
        # "네 연결해주세요" a few turns after the offer: the page.
        return Plan(["action_request_counsellor"])
    if reading.asks_law_file(turn.text):
        return Plan(["utter_law_text"])
    if reading.asks_police_interview(turn.text):
        # "경찰서 가면 걔 얼굴 봐야돼?", "여자 경찰관에게 조사받을 수 있나요?"
        return Plan(["utter_police_interview"])
    if reading.asks_trial(turn.text):
        return Plan(["utter_trial"])
    if role == "student" and reading.plans_to_confront(turn.text):
        # "내일 학교에서 찾아가서 따질거임": not alone, through those who can help.
        return Plan(["utter_dont_confront"])
    if role == "student" and reading.wonders_whether_to_tell(turn.text):
        # "쌤한테 말할까 말까 고민됨": yes, honestly what follows, 1388 first if she wants.
        return Plan(["utter_tell_adult"])
    if reading.asks_prove_fake(turn.text):
        return Plan(["utter_prove_fake"])
    if "action_offer_counsellor" in turn.session and reading.asks_can_stop_talk(turn.text):
        # "얘기하다가 중간에 끊어도 돼?": yes, "상담 끝" ends it.
        return Plan(["utter_counsellor_can_stop"])
    if reading.asks_wait_for_weekday(turn.text) and not reading.hotlines_named(turn.text):
        # "그럼 월요일까지 기다려야 돼요?": no; who answers now.
        counsellor = "action_offer_counsellor" in turn.session
        return Plan(["utter_counsellor_weekend" if counsellor else "utter_open_now"])
    if reading.asks_come_back(turn.text) and not turn.danger:
        # "나중에 다시 와서 이어서 할 수 있을까요?": yes, and what is kept.
        return Plan(["utter_come_back"])
    if "action_offer_counsellor" in turn.session and reading.asks_how_later(turn.text):
        # "나중에 하고 싶으면 어떻게 해요?" after saying no to the counsellor.
        return Plan(["utter_counsellor_later"])
    if role in ("parent", "teacher") and reading.asks_block_or_leave(turn.text):
        # "SNS 계정을 전부 탈퇴시키려고 하는데": capture first.
        return Plan(["utter_capture_then_block"])
    if (
        stance == "bystander" or reading.bystander_cue(turn.text)
    ) and reading.asks_what_they_should_do(turn.text):
        # "걔는 어떻게 해야돼?", "친구가 어떻게 해야 될까요": the friend's steps.
        return Plan(["utter_friend_steps"])
    if reading.says_deleted_by_them(turn.text):
        # "걔가 미안하다고 자기 폰에서 다 지웠대": copies may be elsewhere.
        return Plan(["utter_deleted_not_gone"])
    if (
        reading.declines_report(turn.text)
        and role == "student"
        and not reading.is_question(turn.text)
    ):
        # "ㄴㄴ 신고는 안할래 아직": not now, and that is fine.
        return Plan(["utter_report_later"])
    if reading.spares_the_offender(turn.text):
        # "신고하면 걔 인생 망하는거잖아": what follows is his doing.
        return Plan(["utter_spare_offender"])
    if reading.platform_report_enough(turn.text):
        # "커뮤 운영자한테 신고만 하면 되는거 아님?": capture first, and 1366 too.
        return Plan(["utter_platform_report"])
    if reading.asks_number_again(turn.text):
        # "몇 번이라고요": the numbers of the last reply, one by one (action_hotline).
        return Plan(["action_hotline"])
    if reading.asks_cost(turn.text):
        # "전화비 나와? 요금제 얼마 안남음": what is known to be free, and a way to write.
        return Plan(["utter_call_cost"])
    if reading.asks_who_answers_now(turn.text) and not reading.hotlines_named(turn.text):
        # "새벽 2시인데 이 시간에도 받는 곳 있어요?": who answers at any hour.
        return Plan(["utter_open_now"])
    if role == "parent" and reading.scolded_child(turn.text):
        # "왜 사진을 올리냐고 혼냈더니 말을 안 해요": say sorry, not her fault.
        return Plan(["utter_parent_scolded"])
    if (
        role == "parent"
        and reading.offered_the_file(turn.text)
        and "utter_parent_dont_receive" not in turn.previous
    ):
        # "다른 학부모가 보내 주겠다는데 받아서 확인해도 될까요?": no, and what to tell them.
        return Plan(["utter_parent_dont_receive", "utter_parent_dont_receive_other"])
    if (
        role == "parent"
        and "utter_parent_dont_receive" in turn.session
        and reading.asks_how_to_explain(turn.text)
    ):
        # "그 학부모님은 어떻게 하시라고 말씀드리면 될까요?"
        return Plan(["utter_parent_dont_receive_other"])
    if role == "parent" and reading.asks_tell_child(turn.text):
        # "아들에게 지금 알려야 할까요, 모르는 게 나을까요?"
        return Plan(["utter_tell_child"])
    if role == "teacher" and reading.asks_must_report(turn.text):
        return None  # the duty to report has its own reply (_route)
    if (
        role == "teacher"
        and "utter_teacher_must_report" in turn.session
        and (reading.asks_how_to_explain(turn.text) or reading.asks_how_to_help(turn.text))
        and reading.is_question(turn.text)
    ):
        # "학생에게는 이 부분을 어떻게 설명하면 좋을까요?": the duty, put to the student.
        return Plan(["utter_explain_duty"])
    if role in ("teacher", "parent") and reading.asks_about_watching(turn.text):
        # "구경만 했는데 무슨 문제냐고 하면?": watching on purpose is an offence.
        return Plan(["utter_viewing_law"])
    if reading.asks_keep_original(turn.text):
        # "프사 원본도 다 지워버릴까": keep the original on the phone.
        return Plan(["utter_keep_original"])
    if role == "teacher" and reading.questions_offender_alone(turn.text):
        # "가해 학생을 먼저 따로 불러서 이야기를 들어 봐도 될까요?": the school's
        # procedure, not an inquiry of one's own.
        return Plan(["utter_teacher_no_own_inquiry"])
    if role == "teacher" and reading.offered_the_file(turn.text):
        # "학생이 증거로 보내 주겠다는데 받아서 전달해도 될까요?": no.
        return Plan(["utter_teacher_dont_receive", "utter_teacher_dont_receive_next"])
    if (
        role == "teacher"
        and reading.asks_what_to_tell_class(turn.text)
        and "utter_teacher_class" not in turn.previous
    ):
        return Plan(["utter_teacher_class", "utter_teacher_class_rules"])
    if role == "parent" and reading.school_inactive(turn.text):
        # "학교가 아무 조치도 안 해요", "덮으려는 것 같아요": the school's duties, 117, 112;
        # asked again, where to take it.
        said = "utter_school_inaction" in turn.previous + turn.earlier
        if said:
            return Plan(["utter_school_escalate"])
        return Plan(["utter_school_inaction", "utter_school_inaction_police"])
    if "utter_under14" in turn.previous and reading.says_pointless(turn.text):
        # "그럼 신고해봤자 소용없잖아" right after: why it is not.
        return Plan(["utter_under14_report"])
    topic = reading.question_topic(turn.text)
    if topic == "report_myself" and reading.asks_who_knows(turn.text):
        topic = None  # "제가 신고하면 아이 학교에도 알려지나요?": who finds out
    if topic and reading.victim_cue(turn.text) and turn.slots.get("stance") != "victim":
        # A first disclosure with a question ("남자도 이런거 피해자 되나요? 친구놈들이
        # 제 얼굴로 …"): the support first, then the answer.
        return Plan(["utter_report_incident"] + QUESTION_REPLIES[topic])
    if topic:
        replies = QUESTION_REPLIES[topic]
        if replies[0] in turn.previous:
            # The same point again, from another side ("그럼 신고해도 소용없잖아").
            replies = QUESTION_FOLLOWUPS.get(replies[0], [])
        if replies:
            return Plan(list(replies))
    if reading.asks_score(turn.text) and turn.slots.get("quiz_result"):
        return Plan(["utter_quiz_result"])
    if role == "student" and reading.asks_block_or_leave(turn.text):
        # "그 부계 그냥 차단해도 됨?", "디코 계정 탈퇴할까요": capture first.
        return Plan(["utter_threat_keep" if threat else "utter_capture_then_block"])
    if role == "student" and reading.blames_self_now(turn.text):
        # "영통한 내가 바보같아", "내가 공개로 해놔서 이렇게 된거지?": no.
        return Plan(["utter_not_your_fault_threat" if threat else "utter_not_your_fault"])
    if reading.own_plan(turn.text) and not reading.victim_cue(turn.text):
        # "네 부모님한테 말하고 112 해볼게요": their step, not a form to fill.
        return Plan(["utter_good_plan"])
    return None


def _counsellor(turn: Turn) -> Plan:
    """A request for a counsellor: the offer, which says what connecting means
    and asks; asked again in so many words after the offer ("다시 연결해
    주세요"), the page itself (what it means was already said)."""
    if _connects_again(turn):
        return Plan(["action_request_counsellor"])
    return Plan(["action_offer_counsellor"])


def _connects_again(turn: Turn) -> bool:
    """After the offer was read, a person asked for in so many words, and not
    refused ("연결은 안 해도 돼요")."""
    return (
        "action_offer_counsellor" in turn.session
        and reading.asks_to_connect(turn.text)
        and reading.yes_no(turn.text, verbs=("연결",)) != reading.NO
    )


def _doubts_and_duties(
    turn: Turn, intent: Optional[Text], role: Text, stance: Optional[Text]
) -> Optional[Plan]:
    """Questions the classifier has no intent for: doubt before a report, a
    school's duties, a joke, staying silent, the sources."""
    if turn.danger or intent in OWN_REQUESTS:
        return None
    if any(a.startswith(("utter_crisis", "utter_ask_safe")) for a in turn.previous):
        return None  # right after a crisis reply, its own dialogue reads the answer
    text = turn.text
    if role == "teacher":
        if reading.asks_117_duty(text):
            return Plan(["utter_117_duty"])  # "117에 신고하면 신고의무를 다한 건가요?"
        if reading.asks_separation(text):
            return Plan(["utter_separation_now"])  # "조사가 끝난 뒤에 빼도 되나요?"
        if reading.wants_quiet_removal(text):
            return Plan(["utter_no_cover_up"])  # "조용히 내려 달라고 하면"
    if role in ("teacher", "parent") and reading.confronts_family(text):
        return Plan(["utter_dont_confront"])  # "그 집 부모한테 전화해서 사과는 받아야"
    if reading.asks_sources(text):
        return Plan(["action_show_sources"])  # "출처도 알려 줄 수 있어요?"
    if reading.unsure_to_report(text) and stance != "involved":
        return Plan(["utter_report_unsure"])  # "확실하지도 않은데 신고해도 됨?"
    if role != "student" or stance == "involved":
        return None
    if reading.unsure_if_me(text):
        return Plan(["utter_maybe_me"])  # "나 같기도 하고 아닌거같기도함"
    if (
        "utter_maybe_me" in turn.previous
        and not reading.is_question(text)
        and intent not in ("affirm", "deny", "thank", "goodbye", "greet")
        and len(reading.squash(text)) >= 6
    ):
        return Plan(["utter_maybe_me_more"])  # "근데 교복이 우리학교 교복이야"
    if reading.fears_snitch(text) and "action_crisis_handoff" not in turn.session:
        # "고자질한다고 애들이 욕할거같아요" (a friend in danger is not this: telling
        # her mum is what keeps her safe, said by the crisis replies).
        return Plan(["utter_snitch_worry"])
    victim = "victim" in (stance, turn.slots.get("stance")) or reading.victim_cue(text)
    if victim and reading.called_a_joke(text):
        return Plan(["utter_not_a_joke"])  # "걔네는 장난이라는데 웃고 넘길까요"
    if victim and reading.thinks_of_silence(text):
        # "그냥 신고 안 하고 조용히 있을까요": her choice, not alone.
        threatened = "utter_threat" in turn.session
        return Plan(["utter_silence_threat" if threatened else "utter_report_scary"])
    return None


def _route(turn: Turn) -> Optional[Plan]:
    """Outside forms and questions: who is speaking chooses the reply."""
    intent, role = turn.intent, turn.said_role or turn.role
    stance = _stance(turn, role) or turn.slots.get("stance")
    paused = turn.slots.get("paused_form")
    if paused in FORMS and reading.go_on(turn.text):
        # "아까 하던거 계속": the paused form, from where it stopped.
        return Plan([paused], [SlotSet("paused_form", None)])
    if (
        role == "student"
        and reading.wants_report(turn.text)
        and (
            turn.slots.get("stance") == "victim"  # support was given before this turn
            or turn.slots.get("paused_form") == "report_form"
            or any(a in turn.previous for a in ("utter_report_incident", "utter_what_next"))
        )
    ):
        # Typed instead of tapping "신고·삭제 요청 준비하기" (or to go on).
        return Plan(["report_form"], [SlotSet("paused_form", None)])
    if (
        role in ("teacher", "parent")
        and stance == "involved"
        and turn.slots.get("stance") != "involved"
        and intent not in OWN_REQUESTS + ("crisis",)
        and not turn.danger
        and reading.adult_asks_what_now(turn.text)
    ):
        # "아들이 … 단체방에 전달했다는 사실을 알게 되었습니다. 무엇을 해야 합니까?":
        # their first words, their lesson (not who will be told).
        return Plan(["action_lesson"])
    if (
        role == "student"
        and stance != "involved"
        and not turn.danger
        and reading.blamed_by_others(turn.text)
        and (reading.victim_cue(turn.text) or turn.slots.get("stance") == "victim")
    ):
        # "친구들이 니가 인스타에 사진 올려서 그런거래": not her fault, said plainly.
        first = [] if turn.slots.get("stance") == "victim" else ["utter_report_incident"]
        return Plan(first + ["utter_blamed_by_others"])
    if (
        "utter_delete_cancelled" in turn.previous
        and (intent == "delete_my_data" or reading.asks_to_erase(turn.text))
        and not turn.danger
    ):
        # "아 지워도 된다고 ㅇㅇ 지워줘" right after a cancel: asked properly, once more.
        return Plan(["utter_delete_confirm"])
    if (
        not turn.danger
        and reading.asks_to_erase(turn.text)
        and (reading.names_own_data(turn.text) or "action_privacy" in turn.previous)
        and not reading.names_material(turn.text)
        and intent != "crisis"
    ):
        # "ㅇㅋ 그럼 다 지워줘 이름까지 전부" (after what is kept here): her data,
        # not the pictures; asked before anything is erased.
        return Plan(["utter_delete_confirm"])
    if role in ("teacher", "parent") and reading.adult_is_pictured(turn.text) and not turn.danger:
        # "사실 합성된 교사가 저입니다": an adult victim; help for adults (1366, the centre).
        return Plan(["utter_adult_victim"])
    if role == "student" and not turn.danger and reading.fears_payback(turn.text):
        return Plan(["utter_refuse_payback"])  # "안올릴게 근데 그럼 나 찍힘 ㅠ"
    fresh = _doubts_and_duties(turn, intent, role, stance)
    if fresh:
        return fresh
    if not turn.danger and reading.asks_link_for_report(turn.text):
        return Plan(["utter_link_for_report"])  # "링크는 있는데 그거 신고할때 써도됨?"
    if (
        not turn.danger
        and turn.slots.get("stance") != "involved"
        and reading.asks_tell_to_delete(turn.text)
    ):
        return Plan(["utter_tell_to_delete"])  # "제가 걔한테 지우라고 하면 안돼요?"
    if not turn.danger and reading.asks_report_button(turn.text):
        # "틱톡에 내 합성영상 올라온거 신고버튼 눌러도 됨?": yes, after a capture;
        # told for the first time, the support first.
        told = reading.victim_cue(turn.text) and not turn.slots.get("stance")
        return Plan((["utter_report_incident"] if told else []) + ["utter_platform_report"])
    if (
        role == "student"
        and not turn.danger
        and "utter_report_incident" in turn.previous
        and intent not in OWN_REQUESTS
        and not _report_details(turn, role)
        and reading.tells_what_happened(turn.text)
        and not reading.involved_cue(turn.text)
    ):
        # "누가 합성해서 돌림 반애들 다봄" right after the support (given on
        # "내사진"): heard, and the help; no report started unasked.
        return Plan(["utter_heard_more", "utter_heard_more_help"])
    other = reading.others_case(turn.text)
    if role == "student" and not turn.danger and other and turn.slots.get("stance") == "victim":
        # "울언니도 에타에 자기 사진 올라왔대": help for her sister too.
        return Plan(["utter_other_case_adult" if other == "adult" else "utter_other_case"])
    if (
        role == "student"
        and not turn.danger
        and not _report_in_progress(turn)
        and reading.afraid_to_report(turn.text)
    ):
        return Plan(["utter_report_scary"])  # "신고는 무서움": help without a report
    if (
        reading.asks_my_fault(turn.text)
        and turn.slots.get("stance") != "involved"  # the classifier's guess does not count
        and not reading.involved_cue(turn.text)
        and role == "student"
        and not turn.danger
    ):
        # "누가 합성하면 내가 사진 올린 탓이야?", "내가 괜히 인스타에 올려서 그런건가":
        # no, never (before anything read from the same words: a platform named).
        return Plan(["utter_not_your_fault"])
    if role == "student" and not turn.danger and intent not in OWN_REQUESTS:
        if turn.slots.get("stance") == "victim" and reading.asks_face_offender(turn.text):
            return Plan(["utter_face_offender"])  # "내일도 학원 가야돼요? 그 쌤 수업 있어요"
        if reading.fears_not_believed(turn.text) and turn.slots.get("stance") != "involved":
            return Plan(["utter_not_believed"])  # "엄마가 안 믿으면요"
        if turn.slots.get("stance") == "victim" and reading.fears_scolding(turn.text):
            return Plan(["utter_scolded_worry"])  # "엄마한테 말하면 혼나요?"
    if (
        role in ("teacher", "parent")
        and not turn.danger
        and reading.asks_donts(turn.text)
        and turn.slots.get("stance") != "involved"
    ):
        return Plan(["utter_adult_donts"])  # "제가 해서는 안 되는 일이 있을까요?"
    if not turn.danger and intent not in OWN_REQUESTS:
        if reading.asks_review_delay(turn.text):
            return Plan(["utter_review_delay"])  # "심의가 멈췄다던데 신고해도 소용 있나요?"
        if reading.asks_1377(turn.text):
            return Plan(["utter_1377"])  # "방통위 번호가 1377이 맞습니까?"
    if (
        not turn.danger
        and any(a in turn.previous for a in TAKEDOWN_TALK)
        and reading.asks_how_long(turn.text)
        and "utter_takedown_speed" not in turn.previous
    ):
        # "ㅇㅇ 근데 그거 얼마나 걸려" right after deletion was the subject: no promise.
        return Plan(["utter_takedown_speed", "utter_takedown_speed_more"])
    if not turn.danger and intent != "delete_my_data" and reading.asks_where_help(turn.text):
        return Plan(["utter_where_to_report"])  # "상담 어디서 해요?": the places
    if not turn.danger and intent not in OWN_REQUESTS:
        if reading.feeling(turn.text) and not reading.squash(turn.text):
            return Plan(["utter_listen"])  # "😭😭": heard; she may go on
        if reading.dont_know(turn.text):
            return Plan(["utter_dont_know"])  # "몰루": no pressure
        if reading.elliptical_privacy(turn.text):
            return Plan(["action_privacy"])  # "부모님은요": who will know, about them
        if reading.asks_if_keeping_ok(turn.text):
            return Plan(["utter_keeping_law"])
        if reading.asks_if_capture_enough(turn.text):
            # Asked again right after: yes, in a word (not the same bubble twice).
            again = "utter_capture_yes" in turn.previous
            return Plan(["utter_capture_yes_short" if again else "utter_capture_yes"])
        if reading.asks_can_still_report(turn.text):
            return Plan(["utter_can_still_report"])
        if reading.asks_legal_aid(turn.text):
            return Plan(["utter_legal_aid"])  # "소송 비용 지원 있나요?": the centre links it
        if reading.plans_to_expose(turn.text):
            return Plan(["utter_dont_confront"])  # shaming him in a group chat: not alone
        if reading.asks_to_connect(turn.text):
            return _counsellor(turn)  # "ㅇㅇ 연결ㄱㄱ": the offer first, or the page after it
    specific = _specific(turn, intent, role, stance)
    if specific:
        return specific
    details = _report_details(turn, role)
    if details:
        # "인스타 dm으로 돌았대요" right after being offered help: what happened,
        # kept, and the report started from there (the summary shows it all).
        events = [SlotSet(slot, value) for slot, value in details.items()]
        events.append(SlotSet("paused_form", None))
        return Plan(["utter_report_details", "report_form"], events)
    if (
        role == "student"
        and not turn.danger
        and intent in STORY_INTENTS
        and not turn.slots.get("stance")
        and reading.story_start(turn.text)
    ):
        # "학원에 같이 다니는 오빠가 있는데요": nothing told yet; listen.
        return Plan(["utter_listen"])
    lesson = turn.slots.get("lesson_topic")
    just_taught = any(a in turn.previous for a in ("action_lesson", "action_lesson_more"))
    if (
        lesson in ("ask_what_is_deepfake", "ask_harm", "ask_law")
        and reading.wants_example(turn.text)
        and "utter_what_rooms_are" not in turn.previous
    ):
        # "예를 들면?": how it is done to real people (the rooms of 2024).
        return Plan(["utter_what_rooms_are"])
    if (
        lesson
        and reading.wants_more(turn.text)
        and (just_taught or intent != "report_incident")
        and not reading.asks_tell_friend(turn.text)
    ):
        # "예를 들면?", "진짜야?", "더 알려줘" after a lesson: its next level.
        return Plan(["action_lesson_more"])
    if reading.wants_repeat(turn.text) and turn.previous == ["utter_rephrase"]:
        # "다시 말해줘" after "?": the answer before it, once more.
        again = [a for a in turn.earlier if a in REPEATABLE]
        if again:
            return Plan(again[-1:])
    if reading.confused(turn.text):
        # "?", "뭐라고", "다시 말해줘": said more simply, with the choices.
        return Plan(["utter_rephrase"])
    chat = ("affirm", "thank", "nlu_fallback", "out_of_scope")
    if intent in chat and reading.says_bye(turn.text):
        return Plan(["utter_goodbye"])
    if (
        intent in ("disclose_involvement", "report_incident", "ask_bystander_help")
        and reading.hypothetical(turn.text)
        and not reading.victim_cue(turn.text)
        and not turn.slots.get("stance")
    ):
        # "딥페 만들어서 퍼뜨리면 어케됨": the law, not a disclosure.
        return Plan(["action_lesson"])
    if role in ("teacher", "parent") and reading.child_struggles(turn.text) and not turn.danger:
        # "아들이 괴로워하면서 방에서 안 나와요": support for the adult, 1388.
        return Plan(["utter_distress"])
    if role == "teacher" and reading.asks_must_report(turn.text):
        # "학생이 원하지 않는데 그래도 경찰에 신고해야 하나요?": the duty, plainly.
        return Plan(["utter_teacher_must_report"])
    if (
        role in ("teacher", "parent")
        and stance
        # A follow-up: their lesson came first, or they said whose side they are on.
        and (lesson or turn.slots.get("stance"))
        and reading.asks_how_to_help(turn.text)
    ):
        # "아이에게 어떻게 말을 꺼내야 할까요?", "하지 말아야 할 행동": what to do and not.
        if stance == "involved":
            return Plan(["action_lesson"])
        # Asked again right after: the don'ts alone, short.
        again = "utter_adult_help" in turn.previous
        return Plan(["utter_adult_donts" if again else "utter_adult_help"])
    if reading.asks_profile_photo(turn.text) and intent not in ("crisis", "delete_my_data"):
        return Plan(["utter_profile_photo"])
    if reading.asks_about_rooms(turn.text):
        return Plan(["utter_what_rooms_are"])
    if (
        reading.saw_unwanted(turn.text)
        or (stance == "bystander" and reading.asks_if_seeing_is_crime(turn.text))
    ) and intent not in ("crisis", "delete_my_data"):
        # "단톡에 갑자기 올라와서 본 거면 걸려?": not a crime; saving or sending is.
        return Plan(["utter_saw_unwanted"])
    if reading.real_or_fake(turn.text) and intent not in ("crisis", "delete_my_data"):
        return Plan(["utter_real_or_fake"])
    if (
        role == "student"
        and intent in ("report_incident", "express_distress", "nlu_fallback", "ask_prevention")
        and reading.worry(turn.text)
        and not reading.victim_cue(turn.text)
    ):
        # "프사 내 얼굴인데 합성당할까봐 걱정돼": how to protect one's photos.
        return Plan(["action_lesson"])
    if (
        role in ("teacher", "parent")
        and turn.slots.get("stance") != "involved"
        and reading.blames_self(turn.text)
        and intent != "crisis"
    ):
        # "딸이 자꾸 자기 탓이라고 자책해요": not the child's fault, and what to say.
        return Plan(["utter_not_your_fault"])
    if (
        reading.invited_to_room(turn.text)
        and intent not in ("crisis", "delete_my_data")
        and stance != "involved"
        and not reading.involved_cue(turn.text)
    ):
        inside = reading.already_in_room(turn.text) or "utter_invited_room" in turn.previous
        return Plan(["utter_in_room" if inside else "utter_invited_room"])
    if stance == "victim" and role == "student" and reading.avoids_calling(turn.text):
        # "전화 말고는 방법 없어?": text and online ways.
        return Plan(["utter_no_call"])
    if (
        stance == "victim"
        and reading.wants_to_confront(turn.text)
        and (reading.is_question(turn.text) or role != "student")
    ):
        # "걔한테 직접 지우라고 따지면 안됨?": not alone; through those who can help.
        return Plan(["utter_dont_confront"])
    if stance == "bystander" and role == "student" and reading.asks_support_friend(turn.text):
        # "걔 계속 우는데 뭐라고 해줘야돼": how to be there for a friend.
        return Plan(["utter_support_friend"])
    if reading.asks_to_look(turn.text):
        # "내가 그 방 들어가서 찾아봐야돼?": nobody goes looking.
        return Plan(["action_evidence_help"])
    if (
        intent not in ("delete_my_data", "crisis")
        and stance != "involved"
        and reading.asks_to_delete_own(turn.text)
    ):
        # "아이 폰에서 그 사진 지워 버려도 될까요?": keep it, forward it to nobody.
        return Plan(["action_evidence_help"])
    if (
        intent not in ("crisis", "delete_my_data", "request_counsellor")
        and reading.asks_where_to_report(turn.text)
        and (reading.privacy_topic(turn.text) == "general" or not reading.asks_who_knows(turn.text))
    ):
        # "딥페이크 신고하면 어디로 가는거야?": the places, not the penalties.
        return Plan(["utter_where_to_report"])
    named = reading.hotlines_named(turn.text)
    if reading.is_question(turn.text) and (
        (
            named
            and (
                intent in ("nlu_fallback", "out_of_scope")
                or (intent == "request_counsellor" and not reading.asks_counsellor(turn.text))
            )
        )
        or (
            not named
            and intent not in ("crisis", "delete_my_data")
            and reading.hotlines_asked(turn.text)
        )
    ):
        # "1388은 문자도 돼요?", "디지털 성범죄 피해 상담 번호 뭐예요?": that
        # service's channels, hours and what it does.
        return Plan(["action_hotline"])
    if (
        turn.slots.get("hotline")
        and "action_hotline" in turn.previous + turn.earlier
        and reading.asks_hours(turn.text)
    ):
        # "거기 주말이나 새벽에도 받아요?" right after: that service's hours.
        return Plan(["action_hotline"])
    involved = _involved_question(turn, intent, role, stance)
    if involved and not reading.about_this_chat(turn.text):
        # His own question (자수, 경찰, 부모님, 지워도 되나), unless it is about this chat.
        return involved
    if intent in TAKEDOWN_MISREAD and reading.wants_takedown(turn.text):
        return Plan(["action_takedown_help"])
    if (
        intent in EVIDENCE_MISREAD + PRIVACY_MISREAD
        or (intent == "ask_privacy" and reading.names_evidence(turn.text))
    ) and reading.asks_evidence(turn.text):
        # "학생 사진이 돌고 있습니다. 증거는 어떻게 남기나요?": the question asked.
        return Plan(["action_evidence_help"])
    if stance == "bystander" and role == "student" and reading.asks_tell_friend(turn.text):
        # "걔한테 말해줘야돼 아님 모르는척해?": how to tell the friend.
        return Plan(["utter_tell_friend"])
    if (
        stance == "bystander"
        and reading.is_question(turn.text)
        and (
            intent == "report_incident"
            or reading.asks_where_to_report(turn.text)
            or reading.asks_can_report(turn.text)
        )
    ):
        # "나도 신고할수있어?": yes, and where.
        return Plan(["utter_where_to_report"])
    if intent not in ("crisis", "request_counsellor") and reading.asks_how_to_make(turn.text):
        # "딥페 만드는법 알려줘": no, and why.
        return Plan(["utter_refuse_make"])
    if (
        intent not in ("crisis", "request_counsellor", "delete_my_data")
        and reading.wont_tell(turn.text)
        and reading.privacy_topic(turn.text) in ("parents", "school")
    ):
        # "엄마한테는 말하기 싫어": what reaches parents or the school, and what does not.
        return Plan(["action_privacy"])
    if (
        role == "student"
        and turn.slots.get("stance") == "victim"  # the support came before
        and not reading.victim_cue(turn.text)
        and not reading.protects(turn.text)
        and intent not in ("crisis", "request_counsellor", "delete_my_data")
        and reading.asks_what_now(turn.text)
        and reading.privacy_topic(turn.text) != "parents"  # "엄마한테 말하면 혼날거같아"
    ):
        # "이제 뭐해야돼?" after the support or a saved report: the next steps.
        return Plan(["utter_next_steps"])
    if (
        intent in PRIVACY_MISREAD + ("ask_privacy",)
        and reading.is_question(turn.text)
        and (reading.privacy_topic(turn.text) != "general")
        and (intent == "ask_privacy" or reading.asks_who_knows(turn.text))
    ):
        # "담임쌤한테 말하면 어떻게 돼?"; not "반 전체에 어떻게 이야기할까요?".
        return Plan(["action_privacy"])
    if involved:
        return involved
    if reading.wants_counsellor(turn.text) and intent not in ("delete_my_data", "ask_privacy"):
        # "저도 어떻게 해야 할지 모르겠어요. 상담받을 수 있을까요?" read as something else.
        return _counsellor(turn)
    if intent in ("crisis", "express_distress", "nlu_fallback", "request_counsellor") and (
        reading.wants_to_talk(turn.text)
    ):
        if reading.wants_a_person(turn.text):
            return _counsellor(turn)  # "걍 누구랑 얘기하고싶음": a person, offered
        return Plan(["utter_just_talk"])
    if (
        intent in ("out_of_scope", "nlu_fallback")
        and reading.feeling(turn.text)
        and not (reading.life_weary(turn.text))
    ):
        return Plan(["utter_distress"])
    if intent in ("express_distress", "nlu_fallback", "out_of_scope") and reading.life_weary(
        turn.text
    ):
        # "사는 게 너무 힘들다": no word of dying, but asked about directly.
        return Plan(["utter_crisis_check"])
    if (
        intent in ("nlu_fallback", "out_of_scope")
        and role in ("teacher", "parent")
        and lesson
        and reading.is_question(turn.text)
    ):
        # A teacher's or parent's follow-up the classifier could not place ("제가
        # 가장 먼저 해야 할 일이 무엇인가요?"): more of their own lesson.
        return Plan(["action_lesson_more"])
    if intent == "nlu_fallback" and stance in ("bystander", "involved"):
        # Unsure of the words, sure of who is speaking (a friend, the one who
        # shared, a parent whose son forwarded it).
        return Plan(["action_lesson"])
    if intent == "crisis":
        if role == "student" and reading.victim_cue(turn.text):
            return Plan(["utter_report_incident"])
        if reading.is_greeting(turn.text) and len(reading.squash(turn.text)) <= 20:
            return Plan(["utter_greet"])
        return Plan(["utter_crisis_check"])
    if intent == "greet" and role == "student" and reading.victim_cue(turn.text):
        # "안녕하세요 친구가 저 합성한 사진을 돌린대요": the disclosure, not hello.
        return Plan(["utter_report_incident"])
    if intent == "request_counsellor":
        return _counsellor(turn)
    if intent == "delete_my_data":
        return Plan(["utter_delete_confirm"])
    if intent == "ask_privacy":
        return Plan(["action_privacy"])
    if role in ("teacher", "parent") and intent == "report_incident":
        # Their student or child is the victim: the adult's version of the help.
        return Plan(["action_lesson"])
    if (
        stance == "involved"
        and intent in ("ask_bystander_help", "report_incident")
        and not reading.involved_topic(turn.text)
    ):
        # "친구 얼굴로 합성해서 올린 적 있어" read as a friend's or a victim's words.
        return Plan(["action_lesson"])
    if role == "student" and reading.victim_cue(turn.text) and intent in (
        "ask_bystander_help", "disclose_involvement", "express_distress", "nlu_fallback",
    ):  # fmt: skip
        return Plan(["utter_report_incident"])
    if intent == "report_incident" and role == "student" and stance == "bystander":
        # "내가 대신 신고해도 돼?": a friend's question, the friend's answer.
        return Plan(["action_lesson"])
    if intent == "report_incident" and role == "student" and stance != "involved":
        return Plan(["utter_report_incident"])
    if intent == "express_distress" and stance != "involved":
        return Plan(["utter_distress"])
    if intent == "goodbye" and reading.is_question(turn.text) and not reading.says_bye(turn.text):
        # A question read as a goodbye, and nothing above answered it: asked again.
        return Plan(["action_clarify"])
    return None


# What a victim may add, unasked, about what happened: not a request or a
# question with a reply of its own.
DETAIL_INTENTS = (
    "report_incident", "nlu_fallback", "out_of_scope", "affirm", "deny",
    "ask_bystander_help", "express_distress", "ask_takedown",
)  # fmt: skip


def _report_details(turn: Turn, role: Text) -> Dict[Text, Any]:
    """The report's answers a victim gives right after the support reply (or
    once known as the victim), before any report was started."""
    if (
        role != "student"
        or "utter_threat" in turn.session  # a threat: 112 first, no form started unasked
        or turn.intent not in DETAIL_INTENTS
        or turn.slots.get("paused_form")
        or _report_in_progress(turn)
        or turn.slots.get("report_code")
        or not (
            # Known as the victim, not only just listened to: the support comes first.
            (turn.slots.get("stance") == "victim" and "utter_listen" not in turn.previous)
            or any(a in turn.previous for a in ("utter_report_incident", "utter_what_next"))
        )
    ):
        return {}
    return reading.report_details(turn.text, turn.platform)


def _involved_question(turn: Turn, intent: Text, role: Text, stance: Optional[Text]):
    """The one who made or shared asks what now: his own answer, whatever the
    classifier made of it (a question about the police reads like a crisis to it).
    His first words get the lesson (what he did, what to do now) first."""
    if turn.slots.get("stance") != "involved" or reading.victim_cue(turn.text):
        return None
    topic = reading.involved_topic(turn.text)
    if intent == "express_distress" or (topic and intent not in INVOLVED_OWN_REPLY):
        return Plan(["action_involved_answer"])
    if (
        intent == "delete_my_data"
        and topic == "delete"
        and not reading.about_this_chat(turn.text)
        and reading.names_material(turn.text)
    ):
        # "아들 휴대폰에 있는 파일을 전부 지워 버리면?": the files, not this chat.
        return Plan(["action_involved_answer"])
    return None


def _no_repeat(turn: Turn, plan: Plan) -> Plan:
    """The same long reply is never sent twice in a row."""
    if not plan.actions:
        return plan
    first = plan.actions[0]
    if first in LONG_REPLIES and first in turn.previous:
        return Plan(["utter_what_next"] + plan.actions[1:], plan.events)
    return plan


# --- the policy ---------------------------------------------------------------------


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class ContextPolicy(Policy):
    """Predicts the turns whose answer depends on the conversation (module docstring)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # Above RulePolicy (6): equally confident predictions go to this policy.
        return {"priority": 7}

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Optional[Any] = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)

    def train(
        self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        # Nothing to learn: the decisions are written out above and in jikimi/reading.py.
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        turn = turn_of(tracker)
        if turn is None:
            probabilities = self._default_predictions(domain)
            if tracker.latest_action_name not in (None, ACTION_LISTEN_NAME):
                # After "delete my data" restarted the conversation: listen.
                probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 0.4
            return self._prediction(probabilities)
        first_step = tracker.latest_action_name == ACTION_LISTEN_NAME
        # Who is speaking is kept whatever answers the turn (mandatory events).
        events = role_events(turn) if first_step else []
        try:
            plan = decide(turn)
        except Exception:  # noqa: BLE001 - never let a reading error silence the bot
            logger.exception("the context policy failed; the rules answer instead")
            plan = None
        action, optional = self._next(turn, plan, domain)
        probabilities = self._default_predictions(domain)
        if action is not None:
            probabilities[domain.index_for_action(action)] = 1.0
        elif not first_step:
            # After any bot action that nothing else continues, listen rather than
            # fall back (RulePolicy's fallback is predicted at 0.3).
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 0.4
        return self._prediction(
            probabilities,
            events=events,
            optional_events=optional,
            # A form in progress is predicted by RulePolicy without looking at
            # the user (a "no user" prediction, which beats every other kind):
            # to pause it, this prediction must be of the same kind.
            is_no_user_prediction=action is not None and tracker.active_loop_name is not None,
        )

    @staticmethod
    def _next(
        turn: Turn, plan: Optional[Plan], domain: Domain
    ) -> Tuple[Optional[Text], List[Event]]:
        """The plan's next action (with its events on the first one), listen at its
        end, or None when there is no plan or the turn left it."""
        if plan is None:
            return None, []
        unknown = [a for a in plan.actions if a not in domain.action_names_or_texts]
        if unknown:
            logger.error("context policy: actions missing from the domain: %s", unknown)
            return None, []
        done = turn.done
        if done != plan.actions[: len(done)]:
            return None, []
        if len(done) == len(plan.actions):
            last = plan.actions[-1] if plan.actions else None
            if last in FORMS:
                return None, []  # the form runs on; RulePolicy follows its loop
            return ACTION_LISTEN_NAME, []
        return plan.actions[len(done)], (plan.events if not done else [])
