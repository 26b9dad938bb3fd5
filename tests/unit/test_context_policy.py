"""bot/policies/context.py on real trackers and the real domain: what the bot
does with a message depends on what it just asked, the form in progress and
who is speaking. The whole turn is also played step by step through
predict_action_probabilities, as Rasa does."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.policies import context
from bot.policies.context import ContextPolicy

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(str(ROOT / "bot" / "domain"))
LISTEN = "action_listen"


def user(text: str, intent: str, confidence: float = 0.95, danger: Optional[str] = None):
    entities = [{"entity": "danger", "value": danger}] if danger else []
    return [
        ActionExecuted(LISTEN),
        UserUttered(text, {"name": intent, "confidence": confidence}, entities),
    ]


def bot(*actions: str):
    return [ActionExecuted(a) for a in actions]


def flat(parts) -> list:
    return [e for p in parts for e in (flat(p) if isinstance(p, (list, tuple)) else [p])]


def tracker(*parts) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("test", flat(parts), slots=DOMAIN.slots)


def plan(*parts) -> Optional[List[str]]:
    decided = context.decide(context.turn_of(tracker(*parts)))
    return decided.actions if decided else None


def events_of(*parts):
    return context.decide(context.turn_of(tracker(*parts))).events


CRISIS_TURN = bot("utter_crisis", "action_crisis_handoff", "utter_ask_safe")


def test_a_detector_crisis_gets_the_reply_a_page_and_the_safety_question():
    assert plan(user("요즘 진짜 다 놓고 싶고 죽고싶어", "crisis", danger="self_harm")) == [
        "utter_crisis", "action_crisis_handoff", "utter_ask_safe",
    ]  # fmt: skip


def test_the_classifier_alone_gets_a_gentle_check_and_no_page():
    assert plan(user("어제 밤", "crisis", 0.99)) == ["utter_crisis_check"]


@pytest.mark.parametrize(
    "answer, intent", [("ㄴㄴ", "deny"), ("아니요", "deny"), ("안전하지 않아", "affirm")]
)
def test_no_to_the_safety_question_gets_what_to_do_now(answer, intent):
    assert plan(CRISIS_TURN, user(answer, intent)) == [
        "utter_crisis_unsafe",
        "action_crisis_update",
    ]


def test_a_place_is_unsafe_and_the_crisis_text_is_not_repeated():
    got = plan(CRISIS_TURN, user("학교 옥상임", "crisis", danger="self_harm"))
    assert got == ["utter_crisis_unsafe", "action_crisis_update"]
    assert SlotSet("crisis_place", "옥상·높은 곳") in events_of(
        CRISIS_TURN, user("학교 옥상임", "crisis", danger="self_harm")
    )


def test_yes_to_the_safety_question_is_acknowledged_not_the_menu():
    assert plan(CRISIS_TURN, user("응 집이야", "affirm")) == [
        "utter_crisis_safe",
        "action_crisis_update",
    ]


def test_safer_after_the_steps_is_acknowledged_not_asked_about_dying_again():
    steps = [CRISIS_TURN, user("아니", "deny"), bot("utter_crisis_unsafe", "action_crisis_update")]
    assert plan(*steps, user("아빠 불러서 수면제 아빠한테 다 맡겼어요", "crisis", 0.9)) == [
        "utter_crisis_safe", "action_crisis_update",
    ]  # fmt: skip
    # Not sure first, then the means near: asked again, then the steps.
    assert plan(CRISIS_TURN, user("잘 모르겠어 그냥 방에 있음", "nlu_fallback")) == [
        "utter_ask_safe_again"
    ]


def test_an_unclear_answer_is_asked_once_more_then_given_the_steps():
    assert plan(CRISIS_TURN, user("몰라", "out_of_scope")) == ["utter_ask_safe_again"]
    again = [CRISIS_TURN, user("몰라", "out_of_scope"), bot("utter_ask_safe_again")]
    assert plan(*again, user("음...", "nlu_fallback")) == [
        "utter_crisis_unsafe",
        "action_crisis_update",
    ]


def test_a_retracted_statement_pages_nobody():
    got = plan(user("나 죽고싶다는거 아닌데 그냥 물어본거임", "crisis", danger="self_harm"))
    assert got == ["utter_crisis_clarified"]


def test_someone_elses_crisis_gets_the_third_person_version():
    assert plan(user("친구가 자꾸 죽고싶대", "crisis", danger="self_harm")) == [
        "utter_crisis_other", "action_crisis_handoff", "utter_ask_safe_other",
    ]  # fmt: skip
    assert plan(user("동생이 약을 한꺼번에 먹었어", "crisis", danger="medical")) == [
        "utter_crisis_medical", "action_crisis_handoff",
    ]  # fmt: skip


def test_a_yes_to_the_gentle_check_is_the_crisis_dialogue_with_a_page():
    turn = [user("다 끝났어", "crisis", 0.9), bot("utter_crisis_check")]
    assert plan(*turn, user("응", "affirm")) == [
        "utter_crisis", "action_crisis_handoff", "utter_ask_safe",
    ]  # fmt: skip
    assert SlotSet("crisis_confirmed", True) in events_of(*turn, user("응", "affirm"))
    assert plan(*turn, user("아니", "deny")) == ["utter_crisis_check_no"]
    assert plan(*turn, user("아니 그런 뜻 아님", "deny")) == ["utter_crisis_clarified"]
    # Not sure is no "no": the crisis reply and the safety question, whatever
    # else the message seems to say.
    for unsure in ("잘 모르겠어 그냥 혼자 있고 싶어", "글쎄요 학원 끝나고 집에 왔어요"):
        assert plan(*turn, user(unsure, "report_incident")) == [
            "utter_crisis", "action_crisis_handoff", "utter_ask_safe",
        ]  # fmt: skip


IN_REPORT = [
    user("신고할래", "report_incident"),
    bot("report_form"),
    ActiveLoop("report_form"),
    SlotSet("report_age", "minor"),
]


def at(slot: str):
    return [SlotSet("requested_slot", slot)]


def test_a_free_text_answer_that_looks_like_a_crisis_is_the_answer():
    assert plan(IN_REPORT, at("report_when"), user("어제 밤", "crisis", 0.99)) is None
    assert plan(IN_REPORT, at("report_relation"), user("우리반 남자애들인거같아", "crisis")) is None


def test_a_detector_crisis_pauses_the_form_first():
    parts = [IN_REPORT, at("report_platform"), user("그냥 죽고싶다", "crisis", danger="self_harm")]
    assert plan(*parts) == [
        "action_deactivate_loop", "utter_crisis", "action_crisis_handoff", "utter_ask_safe",
    ]  # fmt: skip
    events = events_of(*parts)
    assert SlotSet("paused_form", "report_form") in events
    assert SlotSet("report_platform", None) in events  # what the slot mapping took


def test_a_paused_report_is_kept_without_a_push_after_a_safe_answer():
    paused = [SlotSet("paused_form", "report_form"), CRISIS_TURN]
    assert plan(*paused, user("응 방이야", "affirm")) == [
        "utter_crisis_safe", "action_crisis_update", "utter_report_kept",
    ]  # fmt: skip
    kept = [*paused, user("응", "affirm"), bot("utter_crisis_safe", "utter_report_kept")]
    assert plan(*kept, user("신고 이어서 할래", "report_incident")) == ["report_form"]


def test_a_paused_report_is_offered_again_after_a_question():
    offer = [
        SlotSet("paused_form", "report_form"),
        bot("action_privacy", "utter_offer_resume_report"),
    ]
    assert plan(*offer, user("응 이어서", "affirm")) == ["report_form"]
    assert plan(*offer, user("나중에", "deny")) == ["utter_resume_later"]
    assert not events_of(*offer, user("나중에", "deny"))  # still paused: resumable later


THREAT_TURN = bot("utter_threat", "action_crisis_handoff", "utter_ask_safe")


def test_safety_answers_after_a_threat_get_112_not_the_suicide_line():
    threat = [SlotSet("danger", "threat"), THREAT_TURN]
    assert plan(*threat, user("아니 안전하지 않아", "deny")) == [
        "utter_threat_unsafe", "action_crisis_update",
    ]  # fmt: skip
    assert plan(*threat, user("응 집이야", "affirm")) == [
        "utter_threat_safe", "action_crisis_update",
    ]  # fmt: skip
    suicide = [SlotSet("danger", "self_harm"), CRISIS_TURN]
    assert plan(*suicide, user("아니", "deny"))[0] == "utter_crisis_unsafe"


def test_what_a_victim_tells_after_the_support_reply_starts_the_report():
    told = [user("제 사진으로 합성한게 돈대요", "report_incident"), bot("utter_report_incident")]
    assert plan(*told, user("인스타 dm으로 돌았대요", "nlu_fallback")) == [
        "utter_report_details", "report_form",
    ]  # fmt: skip
    assert SlotSet("report_platform", "instagram") in events_of(
        *told, user("인스타 dm으로 돌았대요", "nlu_fallback")
    )
    assert SlotSet("report_when", "그저께") in events_of(*told, user("그저께", "nlu_fallback"))
    # A question is answered, not taken as a detail; a friend who told is no suspect.
    assert plan(*told, user("인스타에 올리면 부모님도 알아?", "ask_privacy")) != [
        "utter_report_details", "report_form",
    ]  # fmt: skip
    assert SlotSet("report_relation", "classmate") not in events_of(
        *told, user("친구가 텔레에 있다고 알려줬어", "report_incident")
    )


def test_a_teacher_who_mentions_parents_is_still_a_teacher():
    def roles(*parts):
        return context.role_events(context.turn_of(tracker(*parts)))

    teacher = [SlotSet("user_role", "teacher")]
    asks = user("학부모님께도 알려야 하나요?", "ask_privacy")
    assert SlotSet("user_role", "parent") not in roles(*teacher, asks)
    assert SlotSet("user_role", "parent") in roles(*teacher, user("아 저는 학부모입니다", "greet"))


def test_erasing_what_she_wrote_here_is_asked_before_anything_is_erased():
    told = [user("여기 내가 쓴거 남아?", "ask_privacy"), bot("action_privacy")]
    # After what is kept: her data, whatever the classifier read; asked first.
    assert plan(*told, user("그럼 걍 싹 지워줘", "ask_takedown")) == ["utter_delete_confirm"]
    assert plan(user("내 전화번호랑 대화 다 지워주세요", "ask_takedown")) == [
        "utter_delete_confirm"
    ]
    # The pictures are not this chat: not the erase question.
    assert plan(*told, user("그 합성사진 지워줘", "ask_takedown")) != ["utter_delete_confirm"]


def test_refusing_deletion_deletes_nothing_and_can_go_on_with_the_report():
    asked = [IN_REPORT, bot("action_deactivate_loop", "utter_delete_confirm")]
    assert plan(*asked, user("아니 지우지말고 신고 계속하자고", "delete_my_data")) == [
        "utter_delete_cancelled", "report_form",
    ]  # fmt: skip
    assert plan(*asked, user("지우지 마", "delete_my_data")) == ["utter_delete_cancelled"]
    # A question is answered (what erasing removes) and asked again; no erasure.
    assert plan(*asked, user("음 근데 지우면 어케되는데?", "delete_my_data")) == [
        "utter_delete_what"
    ]
    answered = [user("그럼 신고한것도 없어짐?", "delete_my_data"), bot("utter_delete_what")]
    assert plan(*asked, answered, user("음..", "nlu_fallback", 0.3)) == [
        "utter_delete_confirm_again"
    ]
    assert plan(*asked, user("근데 1366 몇번이었지?", "affirm")) == [
        "action_hotline", "utter_delete_what",
    ]  # fmt: skip
    # Cancelled, then a clear "지워줘": the question once more, never the erasure.
    cancelled = [user("괜찮아", "deny"), bot("utter_delete_cancelled")]
    confirm = bot("utter_delete_confirm")
    assert plan(confirm, cancelled, user("아니 지워도 된다니까 지워줘", "ask_takedown")) == [
        "utter_delete_confirm"
    ]
    assert plan(*asked, user("네 지워주세요", "affirm")) == ["action_delete_my_data"]


def test_a_counsellor_is_offered_and_only_a_yes_pages():
    assert plan(user("상담쌤이랑 얘기하고싶어", "request_counsellor")) == [
        "action_offer_counsellor"
    ]
    offered = [user("상담 선생님 있어?", "request_counsellor"), bot("action_offer_counsellor")]
    assert plan(*offered, user("응 연결해줘", "affirm")) == ["action_request_counsellor"]
    assert plan(*offered, user("아 아직은 괜찮아", "deny")) == ["utter_counsellor_declined"]


def test_a_first_person_disclosure_is_the_victims():
    assert plan(user("우리학교 텔방에 내얼굴 박힌 벗은사진 돌고잇대", "ask_bystander_help")) == [
        "utter_report_incident"
    ]


def test_the_one_who_shared_gets_an_answer_to_what_he_asked():
    shared = [
        SlotSet("stance", "involved"),
        user("내가 단톡에 사진 돌렸어", "disclose_involvement"),
        bot("action_lesson"),
    ]
    assert plan(*shared, user("자수하면 어케됨?", "ask_law")) == ["action_involved_answer"]
    assert plan(*shared, user("헐 그럼 나 이제 어떡함", "express_distress")) == [
        "action_involved_answer"
    ]


def test_roles_are_kept_from_what_was_said():
    said = tracker(user("담임입니다. 반 학생 사진이 돌고 있어요", "ask_bystander_help"))
    events = context.role_events(context.turn_of(said))
    assert SlotSet("user_role", "teacher") in events
    assert SlotSet("stance", "bystander") in events


def test_the_same_long_reply_is_not_sent_twice_in_a_row():
    before = [user("내 사진이 합성됐어", "report_incident"), bot("utter_report_incident")]
    # Said again, louder: heard (not the support's long reply once more).
    assert plan(*before, user("내 사진이 합성됐다고ㅠ", "report_incident")) == [
        "utter_heard_more",
        "utter_heard_more_help",
    ]
    more = [bot("utter_heard_more", "utter_heard_more_help")]
    assert plan(*before, *more, user("내 사진이 합성됐다니까", "report_incident")) != [
        "utter_report_incident"
    ]


# --- the policy as Rasa runs it ---------------------------------------------------


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    return ContextPolicy.create(
        ContextPolicy.get_default_config(),
        storage,
        Resource("context"),
        ExecutionContext(GraphSchema({}), "test"),
    )


def play(policy, events) -> List[str]:
    """Predicts and runs actions until listen, as the processor does."""
    state = tracker(*events)
    done: List[str] = []
    for _ in range(10):
        prediction = policy.predict_action_probabilities(state, DOMAIN)
        state.update_with_events(prediction.events + prediction.optional_events, DOMAIN)
        if max(prediction.probabilities) < 0.5:
            return done
        action = DOMAIN.action_names_or_texts[prediction.max_confidence_index]
        state.update(ActionExecuted(action))
        if action == LISTEN:
            return done
        done.append(action)
    raise AssertionError(f"no listen after {done}")


def test_a_whole_turn_is_predicted_then_listen(policy):
    assert play(policy, [CRISIS_TURN, user("ㄴㄴ", "deny")]) == [
        "utter_crisis_unsafe", "action_crisis_update",
    ]  # fmt: skip


def test_the_policy_abstains_when_context_changes_nothing(policy):
    assert play(policy, [user("딥페이크가 뭐야", "ask_what_is_deepfake")]) == []


def test_pausing_a_form_beats_the_forms_own_prediction(policy):
    state = tracker(IN_REPORT, at("report_when"), user("죽고싶어", "crisis", danger="self_harm"))
    prediction = policy.predict_action_probabilities(state, DOMAIN)
    assert prediction.is_no_user_prediction
    assert DOMAIN.action_names_or_texts[prediction.max_confidence_index] == "action_deactivate_loop"


def test_more_after_the_sources_of_a_lesson_is_its_next_level():
    lesson = [
        SlotSet("lesson_topic", "ask_law"),
        user("법 알려줘", "ask_law"),
        bot("action_lesson"),
    ]
    sources = [*lesson, user("/show_sources", "show_sources"), bot("action_show_sources")]
    assert plan(*sources, user("더 알려줘", "affirm")) == ["action_lesson_more"]
    assert plan(*lesson, user("응", "affirm")) is None  # the rule "more of a lesson"


def test_a_crisis_while_talking_with_a_counsellor_comes_first_and_reaches_them():
    relay = [
        user("/EXTERNAL_handoff_accepted", "EXTERNAL_handoff_accepted"),
        bot("action_handoff_accepted", "handoff_form"),
        ActiveLoop("handoff_form"),
    ]
    assert plan(*relay, user("진짜 죽고싶어", "crisis", danger="self_harm")) == [
        "utter_crisis", "action_forward_to_counsellor", "handoff_form",
    ]  # fmt: skip
    assert plan(*relay, user("선생님 고마워요", "thank")) is None  # the relay forwards it


def test_weariness_of_living_is_asked_about_gently():
    assert plan(user("사는게 넘 힘들다", "express_distress")) == ["utter_crisis_check"]
    assert plan(user("숙제 때문에 짜증나", "express_distress")) == ["utter_distress"]


def test_the_question_at_the_end_of_a_long_message_is_answered():
    said = "학생 사진이 합성돼 돌고 있습니다. 증거는 어떻게 남기나요?"
    assert plan(user(said, "ask_bystander_help")) == ["action_evidence_help"]


def test_unsure_words_from_a_known_friend_get_the_friends_lesson():
    known = [SlotSet("stance", "bystander"), user("친구 사진 봤어", "ask_bystander_help"),
             bot("action_lesson")]  # fmt: skip
    assert plan(*known, user("아 진짜 개빡치네 ㅡㅡ", "nlu_fallback", 0.3)) == ["action_lesson"]


def test_tapped_yes_and_no_buttons_answer_the_question():
    asked = [user("내 기록 지워줘", "delete_my_data"), bot("utter_delete_confirm")]
    assert plan(*asked, user("/affirm", "affirm", 1.0)) == ["action_delete_my_data"]
    assert plan(*asked, user("/deny", "deny", 1.0)) == ["utter_delete_cancelled"]


def test_a_threat_as_the_answer_to_the_safety_question_gets_the_threat_reply():
    got = plan(CRISIS_TURN, user("사진 뿌린다고 협박해요 돈 보내래요", "crisis", danger="threat"))
    assert got[0] == "utter_threat"


def test_danger_after_the_threat_reply_is_an_unsafe_answer_not_the_threat_again():
    threat = bot("utter_threat", "action_crisis_handoff", "utter_ask_safe")
    got = plan(threat, user("아니요 그 사람이 지금 우리집 앞에 와있대", "crisis", danger="threat"))
    assert got[0] == "utter_threat_unsafe"
    more = user("계속 협박 문자 와요 돈 안보내면 뿌린대", "crisis", danger="threat")
    assert plan(threat, more) == ["utter_threat_more"]


def test_a_threat_with_an_unsafe_answer_after_the_crisis_reply_is_unsafe_first():
    outside = user("아니 걔가 협박하면서 지금 집 앞에 와있어", "crisis", danger="threat")
    assert plan(CRISIS_TURN, outside)[0] == "utter_threat_unsafe"


def test_a_medical_emergency_at_the_safety_question_keeps_the_119_reply():
    got = plan(CRISIS_TURN, user("아니 약을 한통 다 먹었어", "crisis", danger="medical"))
    assert got[0] == "utter_crisis_medical"


def test_taking_it_back_at_the_safety_question_is_heard():
    got = plan(CRISIS_TURN, user("아 그런뜻 아니고 그냥 짜증나서 한말임", "deny"))
    assert got[0] == "utter_crisis_clarified"


def test_more_of_a_threat_gets_the_short_threat_reply():
    threat = bot("utter_threat", "action_crisis_handoff")
    paid = user("아이가 이미 10만원을 보냈다고 하는데 어떻게 해야 하나요?", "nlu_fallback", 0.4)
    assert plan(threat, paid) == ["utter_threat_more"]


def test_after_the_119_reply_119_stays_first_until_help_is_called():
    medical = bot("utter_crisis_medical", "action_crisis_handoff")
    assert plan(medical, user("걔네집 어딘지는 알아", "nlu_fallback", 0.3)) == [
        "utter_crisis_medical_again"
    ]
    assert plan(medical, user("119 불렀어", "affirm")) != ["utter_crisis_medical_again"]


def test_go_on_resumes_the_paused_form():
    paused = [SlotSet("paused_form", "report_form")]
    assert plan(*paused, user("아까 하던거 계속", "affirm")) == ["report_form"]


def test_a_feeling_after_the_counsellor_offer_asks_once_more_and_pages_nobody():
    offered = bot("action_offer_counsellor")
    anxious = user("누가 만든건지도 모르겠고 너무 불안해요", "express_distress")
    assert plan(offered, anxious) == ["utter_offer_counsellor_again"]
    again = bot("utter_offer_counsellor_again")
    assert plan(offered, anxious, again, user("네 연결해주세요", "affirm")) == [
        "action_request_counsellor"
    ]


def test_where_to_report_gets_the_places_not_the_penalties():
    assert plan(user("딥페이크 신고하면 어디로 가는거야?", "ask_law")) == ["utter_where_to_report"]
    assert plan(user("신고하면 부모님이 알아?", "ask_privacy")) == ["action_privacy"]


def test_how_to_report_is_where_to_report_whatever_the_label():
    assert plan(user("그럼 만든 애들은 어떻게 신고해요?", "ask_law", 0.6)) == [
        "utter_where_to_report"
    ]


def test_a_question_about_a_number_gets_that_service():
    assert plan(user("109도 카톡 돼?", "nlu_fallback", 0.4)) == ["action_hotline"]
    assert plan(user("1366은 밤에도 받아요?", "request_counsellor", 0.5)) == ["action_hotline"]
    # Asking for a person is the counsellor offer, number or not.
    assert plan(user("1388 말고 여기 상담 선생님 연결돼?", "request_counsellor")) != [
        "action_hotline"
    ]


def test_my_fault_is_answered_whatever_the_classifier_guessed():
    question = user("근데 내 셀카를 누가 가져다 쓰면 그게 내 탓임?", "disclose_involvement", 0.55)
    assert plan(question) == ["utter_not_your_fault"]


def test_an_unsure_label_with_a_clear_speaker_gets_their_lesson():
    forwarded = user(
        "중학생 딸이 반 친구 합성 사진을 다른 단톡방에 퍼뜨렸다고 합니다 어떻게 해야 하나요",
        "nlu_fallback",
        0.45,
    )
    assert plan(forwarded) == ["action_lesson"]


def test_one_who_was_shown_it_stays_a_bystander_and_hears_seeing_is_not_saving():
    shown = [SlotSet("stance", "bystander")]
    question = user("나도 봤으니까 나도 처벌받는거야?", "disclose_involvement", 0.8)
    assert plan(*shown, question) == ["utter_saw_unwanted"]


def test_sextortion_follow_ups_stay_in_the_threat():
    threat = bot("utter_threat", "action_crisis_handoff", "utter_ask_safe")
    more = bot("utter_threat_more")
    delete = user("걔 차단하고 디엠 다 지워버릴까", "delete_my_data", 0.7)
    assert plan(threat, user("돈 보내면 안 뿌리겠지?", "ask_law"), more, delete) == [
        "utter_threat_keep"
    ]
    again = user("진짜 또 보내야 돼? 12시까지래", "nlu_fallback", 0.4)
    assert plan(threat, user("돈 보내면 안 뿌리겠지?", "ask_law"), more, again) == [
        "utter_threat_short"
    ]


def test_a_parent_whose_child_blames_herself_hears_it_is_not_her_fault():
    parent = [SlotSet("user_role", "parent"), SlotSet("stance", "victim")]
    blames = user("아이가 자기가 프사를 올려서 이렇게 된 거라고 자책해요", "express_distress")
    assert plan(*parent, blames) == ["utter_not_your_fault"]


def test_a_line_that_only_sets_the_scene_is_listened_to():
    assert plan(user("같은 학원 다니는 선배가 있거든요", "report_incident", 0.7)) == [
        "utter_listen"
    ]
    told = user("그 선배가 제 사진으로 합성한 걸 돌렸대요", "report_incident")
    assert plan(
        user("같은 학원 다니는 선배가 있거든요", "report_incident"), bot("utter_listen"), told
    ) == ["utter_report_incident"]


@pytest.mark.parametrize(
    "text, intent, reply",
    [
        ("초딩이 만든 거면 처벌 못 하는 거야?", "ask_law", ["utter_under14", "utter_under14_help"]),
        ("텔레는 서버가 외국이라 추적 못 한다던데", "ask_law", ["utter_telegram_caught"]),
        (
            "심의 신청하면 하루만에 싹 지워지나요?",
            "ask_takedown",
            ["utter_takedown_speed", "utter_takedown_speed_more"],
        ),
        ("112에 신고해도 경찰이 삭제까지 해줌?", "report_incident", ["utter_police_delete"]),
        ("캡처도 없는데 신고 가능함?", "ask_evidence", ["utter_report_no_evidence"]),
        ("남자인데 이런걸로 신고하면 오바인가", "report_incident", ["utter_boys_too"]),
        ("그 방 안들어가면 반에서 은따 당할거같음", "nlu_fallback", ["utter_pressure_to_join"]),
        ("걔 모르게 제가 대신 신고해도 되나요?", "ask_privacy", ["utter_report_for_friend"]),
    ],
)
def test_one_point_asked_gets_its_own_short_answer(text, intent, reply):
    assert plan(user(text, intent, 0.9)) == reply


def test_the_same_point_asked_again_gets_the_other_side_not_a_repeat():
    first = user("촉법소년이 만든 거면 어떻게 돼?", "ask_law")
    again = user("그럼 그 애 신고해봤자 소용없는 거잖아", "nlu_fallback", 0.4)
    assert plan(first, bot("utter_under14", "utter_under14_help"), again) == [
        "utter_under14_report"
    ]


def test_a_question_about_parents_that_asks_nothing_of_who_knows_is_not_privacy():
    teacher = [SlotSet("user_role", "teacher")]
    asks = user("저희 반 아이들에게 이 일을 어떻게 안내하면 좋을까요?", "ask_bystander_help")
    assert plan(*teacher, asks) == ["utter_teacher_class", "utter_teacher_class_rules"]
    who = user("담임한테 얘기하면 엄마한테도 연락가?", "ask_bystander_help")
    assert plan(who) == ["action_privacy"]


def test_blocking_or_leaving_gets_capture_first_and_in_a_threat_the_threat_version():
    block = user("그 계정 차단해버릴까", "nlu_fallback", 0.4)
    assert plan(block) == ["utter_capture_then_block"]
    threat = bot("utter_threat", "action_crisis_handoff", "utter_ask_safe")
    later = [user("집이야", "affirm"), bot("utter_threat_safe")]
    leave = user("인스타 탈퇴하면 끝 아님?", "ask_prevention", 0.6)
    assert plan(threat, later, leave) == ["utter_threat_keep"]


def test_blaming_herself_after_a_threat_gets_the_threat_version():
    threat = bot("utter_threat", "action_crisis_handoff", "utter_ask_safe")
    later = [user("집이야", "affirm"), bot("utter_threat_safe")]
    blame = user("그 사람이랑 영상통화한 내가 멍청했지", "express_distress")
    assert plan(threat, later, blame) == ["utter_not_your_fault_threat"]
    assert plan(user("제가 사진을 공개로 올려서 이렇게 된 거죠", "ask_privacy")) == [
        "utter_not_your_fault"
    ]


def test_her_own_plan_is_taken_as_it_is_not_as_a_story_for_the_form():
    victim = [SlotSet("stance", "victim")]
    plan_ = user("알겠어 오늘 엄마한테 말하고 경찰서 가볼게", "affirm", 0.7)
    assert plan(*victim, bot("utter_report_incident"), plan_) == ["utter_good_plan"]


def test_the_score_is_kept_for_after_the_quiz():
    ended = [SlotSet("quiz_result", "5문제 중 4문제를 맞혔어요")]
    assert plan(*ended, user("점수 몇점이었어?", "disclose_involvement", 0.55)) == [
        "utter_quiz_result"
    ]


def test_a_low_confidence_disclosure_does_not_make_the_writer_the_one_who_shared():
    unsure = context.role_events(
        context.turn_of(tracker(user("그거 몇개 맞음", "disclose_involvement", 0.55)))
    )
    assert SlotSet("stance", "involved") not in unsure
    sure = user("제가 반 단톡에 그 합성 사진 올렸어요", "disclose_involvement", 0.9)
    assert SlotSet("stance", "involved") in context.role_events(context.turn_of(tracker(sure)))


def test_counsellor_offer_answered_with_her_own_plan_pages_nobody():
    offer = bot("action_offer_counsellor")
    assert plan(offer, user("괜찮아 그냥 1388에 전화해볼래", "affirm", 0.7)) == [
        "utter_counsellor_declined"
    ]


def test_asked_what_happens_after_the_offer_hears_nothing_was_sent_yet():
    offer = bot("action_offer_counsellor")
    asks = user("그럼 선생님 언제쯤 답장 와요?", "ask_privacy")
    assert plan(offer, asks) == ["utter_counsellor_not_yet"]


def test_asked_again_in_so_many_words_after_the_offer_pages():
    offer = [user("상담 받고 싶어요", "request_counsellor"), bot("action_offer_counsellor")]
    aside = [user("근데 부모님도 알게 돼요?", "ask_privacy"), bot("action_privacy")]
    again = user("그냥 빨리 상담쌤 연결해 주세요", "request_counsellor")
    assert plan(offer, aside, again) == ["action_request_counsellor"]
    assert plan(again) == ["action_offer_counsellor"]


def test_a_wish_to_be_gone_of_oneself_among_classmates_is_her_own_crisis():
    text = "반 애들이 다 쳐다봐 솔직히 나 같은 애는 그냥 없어졌으면 좋겠어"
    got = plan(user(text, "crisis", danger="self_harm"))
    assert got[0] == "utter_crisis"


def test_a_parent_of_the_one_who_shared_asking_to_delete_files_gets_his_own_answer():
    parent = [SlotSet("user_role", "parent"), SlotSet("stance", "involved")]
    files = user("그냥 제가 애 폰 갤러리에서 그 사진 다 지우면 안 될까요?", "delete_my_data", 0.5)
    assert plan(*parent, bot("action_lesson"), files) == ["action_involved_answer"]
    chat = user("여기 제가 쓴 기록 지워 주세요", "delete_my_data", 0.9)
    assert plan(*parent, bot("action_lesson"), chat) == ["utter_delete_confirm"]


def test_a_teacher_asking_how_to_put_the_duty_to_the_student():
    teacher = [SlotSet("user_role", "teacher"), SlotSet("stance", "victim")]
    asks = user("그럼 아이한테는 어떻게 말해 주면 될까요?", "ask_what_is_deepfake", 0.5)
    assert plan(*teacher, bot("utter_teacher_must_report"), asks) == ["utter_explain_duty"]


def test_sextortion_follow_ups_begging_fear_and_paying_at_a_shop():
    threat = [
        SlotSet("danger", "threat"),
        bot("utter_threat", "action_crisis_handoff", "utter_ask_safe"),
    ]
    pay = user("그냥 다이소 가서 문상 사서 보내면 안 끝나나", "nlu_fallback", 0.4)
    assert plan(threat, pay) == ["utter_threat_more"]
    later = [user("집이야", "affirm"), bot("utter_threat_safe")]
    beg = user("답장으로 제발 하지 말라고 사정해볼까", "nlu_fallback", 0.4)
    assert plan(threat, later, beg) == ["utter_threat_no_reply"]
    afraid = user("반 애들이 다 볼까봐 너무 무서워", "express_distress")
    assert plan(threat, later, afraid) == ["utter_threat_worry"]


def test_a_refusal_to_report_is_respected_not_taken_for_a_request():
    victim = [SlotSet("stance", "victim")]
    no = user("아니 신고까지는 아직 안 할래", "report_incident", 0.7)
    assert plan(*victim, bot("utter_report_incident"), no) == ["utter_report_later"]


def test_after_calling_for_a_friend_going_alone_is_not_the_answer():
    other = bot("utter_crisis_unsafe_other", "action_crisis_update")
    go = user("걔 집 아니까 그냥 혼자 가볼까?", "nlu_fallback", 0.4)
    assert plan(other, go) == ["utter_crisis_unsafe_other_again"]
    called = user("119 불렀어", "affirm")
    assert plan(other, called) != ["utter_crisis_unsafe_other_again"]


def test_a_parent_who_names_a_teacher_is_still_the_parent():
    said = user("중3 아들 아빠입니다. 담임선생님이 사진 건으로 연락하셨어요", "ask_bystander_help")
    events = context.role_events(context.turn_of(tracker(said)))
    assert SlotSet("user_role", "parent") in events


def test_four_numbers_asked_at_once_get_what_each_is_for():
    asks = user("112랑 117이랑 1366 중에 뭐가 뭐야?", "request_counsellor", 0.5)
    assert plan(asks) == ["utter_which_number"]


def test_a_teachers_quote_of_a_students_wish_is_the_students_crisis():
    quoted = user(
        '담임입니다. 학생이 "죽고 싶어요"라고 문자를 보냈어요', "crisis", danger="self_harm"
    )
    assert plan(quoted)[0] == "utter_crisis_other"


def test_a_copy_she_holds_or_the_chat_with_him_is_not_her_record_here():
    copy = user("갤러리 휴지통에 남은 것도 지워야 됨?", "delete_my_data", 0.8)
    assert plan(copy) == ["utter_delete_copy"]
    chat = user("전남친이랑 디엠 한 거 다 삭제하고 싶어", "delete_my_data", 0.8)
    assert plan(chat) == ["utter_capture_then_block"]
    mine = user("여기 내 기록 지워줘", "delete_my_data", 0.9)
    assert plan(mine) == ["utter_delete_confirm"]


def test_saved_without_meaning_to_is_a_bystander_told_what_to_do_now():
    saved = user(
        "카톡 자동저장 때문에 그 사진이 갤러리에 있음 나 어떡함", "disclose_involvement", 0.9
    )
    assert plan(saved) == ["utter_saved_unawares"]
    events = context.role_events(context.turn_of(tracker(saved)))
    assert SlotSet("stance", "bystander") in events


@pytest.mark.parametrize(
    "text, reply",
    [
        ("경찰 조사할 때 여경한테 말할 수 있어?", "utter_police_interview"),
        ("그럼 재판도 해야 돼?", "utter_trial"),
        ("법 조문 pdf로 줄 수 있음?", "utter_law_text"),
        ("진짜 내 몸 아니라는 거 어케 증명해?", "utter_prove_fake"),
        ("엄마한테 말할까 고민중", "utter_tell_adult"),
    ],
)
def test_more_single_points(text, reply):
    victim = [SlotSet("stance", "victim")]
    assert plan(*victim, user(text, "nlu_fallback", 0.4)) == [reply]


def test_a_friends_steps_when_asked_what_the_friend_should_do():
    friend = [SlotSet("stance", "bystander")]
    asks = user("그럼 친구는 뭘 해야 돼?", "ask_bystander_help")
    assert plan(*friend, bot("action_lesson"), asks) == ["utter_friend_steps"]


def test_the_number_asked_again_and_a_grandmother_is_a_parent():
    again = user("아까 번호 몇번이라고요", "nlu_fallback", 0.4)
    assert plan(bot("action_lesson"), again) == ["action_hotline"]
    said = user("손녀 키우는 할머니입니다 담임 선생님이 연락했어요", "ask_bystander_help")
    events = context.role_events(context.turn_of(tracker(said)))
    assert SlotSet("user_role", "parent") in events


def test_a_refusal_never_erases_or_pages():
    confirm = bot("utter_delete_confirm")
    assert "action_delete_my_data" not in plan(confirm, user("삭제하지 마세요", "delete_my_data"))
    offer = bot("action_offer_counsellor")
    assert "action_request_counsellor" not in plan(
        offer, user("연결하지 마세요", "request_counsellor")
    )
    later = [offer, user("부모님도 알아요?", "ask_privacy"), bot("action_privacy")]
    refuse = user("상담 연결은 안 해도 돼요", "request_counsellor")
    assert plan(later, refuse) == ["action_offer_counsellor"]


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        # Unsure is no yes: nobody is paged on a guess.
        ("흠 잘 모르겠어요 무섭기도 하고", "deny", ["utter_counsellor_unsure"]),
        ("연결할까 말까", "request_counsellor", ["utter_counsellor_unsure"]),
        # "돼" in a question is no yes either.
        ("하다가 나가고 싶으면 나가도 돼요?", "affirm",
         ["utter_counsellor_can_stop", "utter_counsellor_ask"]),
        ("주말인데 지금도 연결돼요?", "affirm",
         ["utter_counsellor_weekend", "utter_counsellor_ask"]),
        ("전화는 힘들어요 동생이 옆에 있어서", "express_distress",
         ["utter_no_call", "utter_counsellor_ask"]),
    ],
)  # fmt: skip
def test_questions_and_doubts_at_the_counsellor_offer_page_nobody(text, intent, expected):
    assert plan(bot("action_offer_counsellor"), user(text, intent)) == expected


def test_a_second_doubt_is_not_asked_about_again():
    offer = bot("action_offer_counsellor")
    first = [user("모르겠어", "deny"), bot("utter_counsellor_unsure")]
    assert plan(offer, first, user("모르겠다 진짜", "nlu_fallback", 0.3)) != [
        "utter_counsellor_unsure"
    ]
    assert "action_request_counsellor" not in (
        plan(offer, first, user("모르겠다 진짜", "nlu_fallback", 0.3)) or []
    )


def test_coming_back_later_and_stopping_a_talk_are_answered():
    assert plan(user("내일 다시 와서 이어서 해도 돼요?", "nlu_fallback", 0.3)) == [
        "utter_come_back"
    ]
    offered = [bot("action_offer_counsellor"), user("이름 말해야돼?", "ask_privacy")]
    asks = user("상담하다가 중간에 그만둬도 돼?", "out_of_scope")
    assert plan(offered, bot("action_privacy"), asks) == ["utter_counsellor_can_stop"]


def test_a_teacher_whose_student_told_of_her_own_picture():
    told = user(
        "담임입니다. 반 여학생이 찾아와 다른 학교 남학생이 자기 얼굴로 "
        "합성물을 만들어 올렸다고 했습니다",
        "report_incident",
    )
    events = context.role_events(context.turn_of(tracker(told)))
    assert SlotSet("stance", "victim") in events
    said = [
        told,
        SlotSet("user_role", "teacher"),
        SlotSet("stance", "victim"),
        bot("action_lesson"),
    ]
    delay = user("학생이 원치 않아서 며칠 미뤘다가 신고해도 될까요?", "nlu_fallback", 0.3)
    assert plan(said, delay) == ["utter_teacher_must_report"]
    duty = [delay, bot("utter_teacher_must_report")]
    how = user("그럼 학생한테는 뭐라고 얘기해야 할까요?", "nlu_fallback", 0.3)
    assert plan(said, duty, user("네", "affirm"), bot("utter_affirm"), how) == [
        "utter_explain_duty"
    ]
    alone = user("가해 학생을 먼저 상담실로 불러서 물어봐도 될까요?", "ask_bystander_help")
    assert plan(said, alone) == ["utter_teacher_no_own_inquiry"]


def test_a_parent_whose_son_shared_it_gets_the_lesson_first():
    told = user(
        "중학생 아들 엄마입니다. 아들이 반 친구 합성사진을 다른 방에 넘겼다고 합니다. "
        "제가 뭘 해야 할까요?",
        "ask_privacy",
    )
    assert plan(told) == ["action_lesson"]


def test_blamed_by_others_hears_it_is_not_her_fault():
    told = user(
        "내 합성사진 돈다는데 애들이 니가 사진 너무 많이 올려서 그런거래", "report_incident"
    )
    assert plan(told) == ["utter_report_incident", "utter_blamed_by_others"]
    known = [SlotSet("stance", "victim"), bot("utter_report_incident")]
    again = user("선배들도 나보고 조심 좀 하지 그랬냐고 하더라", "express_distress")
    assert plan(known, again) == ["utter_blamed_by_others"]


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        ("😢😢😢", "affirm", ["utter_listen"]),
        ("ㅁㄹ", "out_of_scope", ["utter_dont_know"]),
        ("학교는요?", "nlu_fallback", ["action_privacy"]),
        ("나만 보고 안 보내고 갖고만 있으면 괜찮음?", "ask_law", ["utter_keeping_law"]),
        ("스샷만 하면 돼요?", "ask_evidence", ["utter_capture_yes"]),
        ("연결 ㄱㄱ", "affirm", ["action_offer_counsellor"]),
    ],
)
def test_short_turns_in_context(text, intent, expected):
    assert plan(user(text, intent)) == expected


def test_it_was_me_after_a_friend_made_it_is_the_one_who_made_it():
    made = [user("친구가 반 애 얼굴로 합성했는데 큰일남?", "disclose_involvement")]
    said = [made, SlotSet("stance", "involved"), bot("action_lesson")]
    reveal = user("사실 친구 아니고 나임 장난이었음", "report_incident")
    events = context.role_events(context.turn_of(tracker(said, reveal)))
    assert SlotSet("stance", "victim") not in events
    assert plan(said, reveal) != ["utter_report_incident"]


def test_an_adult_who_is_pictured_and_one_who_shared_and_was_pictured():
    teacher = [user("교사입니다 학생들 지도 방법이 궁금해요", "ask_bystander_help"),
               SlotSet("user_role", "teacher"), bot("action_lesson")]  # fmt: skip
    me = user("실은 합성된 사람이 저예요", "report_incident")
    assert plan(teacher, me) == ["utter_adult_victim"]
    both = [SlotSet("stance", "involved"), bot("action_lesson")]
    still = user("저도 보낸적 있는데 그럼 저는 신고 못해요?", "ask_law")
    assert plan(both, still) == ["utter_can_still_report"]


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        (
            "변호사 선임하면 비용이 얼마나 드나요? 지원받을 수 있나요?",
            "ask_law",
            ["utter_legal_aid"],
        ),
        ("피해 상담은 어디에서 받을 수 있어요?", "request_counsellor", ["utter_where_to_report"]),
        ("그 애 신상 다 털어서 반톡에 공개할 거예요", "express_distress", ["utter_dont_confront"]),
    ],
)
def test_legal_aid_where_to_get_help_and_exposing_him(text, intent, expected):
    assert plan(user(text, intent)) == expected


def test_the_same_threat_told_on_gets_the_short_reply_not_a_second_page():
    first = user("돈 안 보내면 합성한 사진 뿌린대요", "crisis", danger="threat")
    replied = bot("utter_threat", "action_crisis_handoff", "utter_ask_safe")
    answered = [user("네 집이에요", "affirm"), bot("utter_threat_safe", "action_crisis_update")]
    again = user("신고하면 바로 올려버린다고 했어요", "crisis", danger="threat")
    assert plan(first, replied, answered, again) == ["utter_threat_more"]


def test_the_report_button_gets_capture_first_and_a_threat_starts_no_form():
    told = user("인스타에 내 합성사진 올라온거 신고하기 버튼 눌러도 돼?", "report_incident")
    assert plan(told) == ["utter_report_incident", "utter_platform_report"]
    known = [SlotSet("stance", "victim"), bot("utter_report_incident")]
    assert plan(known, user("게시물 신고 눌러도 되나요?", "ask_takedown")) == [
        "utter_platform_report"
    ]
    threat = [user("돈 안주면 사진 뿌린대", "crisis", danger="threat"),
              bot("utter_threat", "action_crisis_handoff")]  # fmt: skip
    detail = user("그 사람 우리 학교도 알아요 ㅠ 인스타 dm이었어요", "report_incident")
    assert "report_form" not in (plan(threat, detail) or [])


@pytest.mark.parametrize(
    "text",
    [
        "어떤 애가 합성해서 단체로 뿌렸대 학원 애들도 봤대",
        "몰래 만든거 돌았는데 반 애들 다 알아 ㅠ",
    ],
)
def test_the_story_told_after_the_support_is_heard_and_no_report_starts(text):
    fragment = [user("제 얼굴 ㅠ", "report_incident"), SlotSet("stance", "victim"),
                bot("utter_report_incident")]  # fmt: skip
    assert plan(fragment, user(text, "report_incident")) == [
        "utter_heard_more",
        "utter_heard_more_help",
    ]


def test_report_answers_after_the_support_still_start_the_report():
    told = [user("반 애들이 내 얼굴로 합성했대", "report_incident"), SlotSet("stance", "victim"),
            bot("utter_report_incident")]  # fmt: skip
    assert plan(told, user("페북에 돌고 있대요", "report_incident")) == [
        "utter_report_details",
        "report_form",
    ]


@pytest.mark.parametrize("text", ["경찰에 말하는건 너무 겁나요", "근데 신고하기 좀 두려움"])
def test_afraid_to_report_gets_help_without_a_report(text):
    told = [SlotSet("stance", "victim"), bot("utter_report_incident")]
    assert plan(told, user(text, "express_distress")) == ["utter_report_scary"]


def test_another_persons_case_told_by_a_victim_gets_help_for_them():
    told = [SlotSet("stance", "victim"), bot("utter_report_incident")]
    sister = user("울 누나도 본인 얼굴 합성된거 봤대 대학생이야", "report_incident")
    assert plan(told, sister) == ["utter_other_case_adult"]


@pytest.mark.parametrize(
    "text",
    ["합성한 애가 지금 집 앞에 와있대요 ㅠ 무서워", "사진 퍼뜨린 오빠가 학원 끝날때까지 기다린대"],
)
def test_a_person_near_her_now_gets_112_and_an_adult_not_the_sextortion_advice(text):
    assert plan(user(text, "crisis", danger="threat")) == [
        "utter_threat_unsafe",
        "action_crisis_handoff",
        "utter_ask_safe",
    ]
    form = [bot("report_form"), ActiveLoop("report_form"), SlotSet("requested_slot", "report_when")]
    inside = plan(*form, user(text, "crisis", danger="threat"))
    assert inside[:2] == ["action_deactivate_loop", "utter_threat_unsafe"]


def test_facing_the_one_who_did_it_not_believed_and_a_question_read_as_goodbye():
    known = [SlotSet("stance", "victim"), bot("utter_report_incident")]
    assert plan(known, user("담주에도 그 선배 있는 동아리 가야돼?", "goodbye")) == [
        "utter_face_offender"
    ]
    assert plan(known, user("근데 아빠가 내 말 안믿어주면 어떡해", "express_distress")) == [
        "utter_not_believed"
    ]
    assert plan(user("이거 어디서 보는건지 알려줄래?", "goodbye")) == ["action_clarify"]


def test_a_teacher_who_thanks_and_asks_what_not_to_do_gets_the_donts():
    teacher = [user("담임입니다 우리반 학생 사진이 합성됐대요", "report_incident"),
               SlotSet("user_role", "teacher"), SlotSet("stance", "victim"),
               bot("utter_report_incident")]  # fmt: skip
    asked = user("네 알겠습니다. 그럼 교사가 하면 안될 행동도 있을까요?", "thank")
    assert plan(teacher, asked) == ["utter_adult_donts"]


def test_a_concession_is_no_no_thanks_to_the_counsellor_offer():
    offered = bot("action_offer_counsellor")
    assert plan(offered, user("응 늦어도 괜찮으니까 기다릴래요", "affirm")) == [
        "action_request_counsellor"
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("방심위 전화번호 1377 아직 되나요?", ["utter_1377"]),
        ("방송통신심의위원회에 신고한 지 한 달인데 답이 없어요", ["utter_review_delay"]),
        ("심의가 밀렸다던데 그래도 신고하는 게 소용 있어?", ["utter_review_delay"]),
    ],
)
def test_the_review_body_its_number_and_its_delay(text, expected):
    assert plan(user(text, "ask_takedown")) == expected


def test_how_long_after_deletion_was_the_subject_gets_no_promise():
    said = bot("utter_police_delete")
    assert plan(said, user("응 그럼 며칠이면 돼?", "affirm")) == [
        "utter_takedown_speed",
        "utter_takedown_speed_more",
    ]
    threat = [user("돈 안보내면 뿌린대", "crisis", danger="threat"),
              bot("utter_threat", "action_crisis_handoff")]  # fmt: skip
    assert plan(*threat, user("욕해도 돼? 꺼지라고", "ask_evidence")) == ["utter_threat_no_reply"]


def test_a_victim_afraid_of_being_scolded_for_telling():
    known = [SlotSet("stance", "victim"), bot("utter_report_incident")]
    assert plan(known, user("아빠한테 말하면 폰 압수당할거같아요", "ask_privacy")) == [
        "utter_scolded_worry"
    ]


def test_opening_a_link_to_such_a_room_and_leaving_at_once_is_seeing_unasked():
    text = "디코 초대링크 열었더니 겹지인방이었어 바로 나감 이것도 처벌돼?"
    assert plan(user(text, "disclose_involvement")) == ["utter_saw_unwanted"]


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        ("방 주소 적어놨는데 신고할때 같이 내도 돼?", "ask_evidence", ["utter_link_for_report"]),
        ("그냥 걔한테 삭제하라고 말해볼까요?", "ask_bystander_help", ["utter_tell_to_delete"]),
        ("틱톡에 제가 직접 신고해도 될까요?", "ask_takedown", ["utter_platform_report"]),
    ],
)
def test_the_link_telling_him_to_delete_and_reporting_to_the_platform(text, intent, expected):
    assert plan(user(text, intent)) == expected


def test_refusing_to_post_and_afraid_of_payback():
    pressed = [SlotSet("stance", "involved"), bot("action_lesson")]
    assert plan(
        pressed, user("알겠어 안보낼게 근데 안보내면 나 왕따당할듯", "express_distress")
    ) == ["utter_refuse_payback"]


TEACHER = [SlotSet("user_role", "teacher")]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("117로 신고하면 수사기관 신고 의무까지 한 걸로 인정되나요?", "utter_117_duty"),
        ("가해 교사를 담임에서 빼는 건 학교 조사 결과가 나온 다음에 해야 하나요?",
         "utter_separation_now"),
        ("학부모들 모르게 게시판 글만 조용히 지우고 정리하면 안 될까요?", "utter_no_cover_up"),
        ("내일 그쪽 부모를 찾아가서 따져 볼 생각입니다", "utter_dont_confront"),
        ("아직 확실하지 않은데 경찰에 신고해도 괜찮을까요?", "utter_report_unsure"),
    ],
)  # fmt: skip
def test_a_teachers_duties_and_doubts(text, expected):
    assert plan(*TEACHER, user(text, "ask_bystander_help", 0.6)) == [expected]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("틱톡에 있는거 내 얼굴인지 아닌지 모르겠어 긴가민가함", "utter_maybe_me"),
        ("증거도 없는데 신고하면 괜히 나만 이상해질까봐", "utter_report_unsure"),
        ("애들이 나보고 꼰질이라고 할까봐 못 말하겠음", "utter_snitch_worry"),
        ("근거 어디서 나온거예요?", "action_show_sources"),
    ],
)  # fmt: skip
def test_a_students_doubts(text, expected):
    assert plan(user(text, "nlu_fallback", 0.5)) == [expected]


def test_a_victim_told_it_was_a_joke_or_thinking_of_silence():
    victim = [SlotSet("stance", "victim")]
    joke = user("걔네가 농담이라고 하면서 웃던데 그냥 넘어가야돼?", "nlu_fallback")
    assert plan(*victim, joke) == ["utter_not_a_joke"]
    assert plan(*victim, user("그냥 아무한테도 말 안하고 참을까", "nlu_fallback")) == [
        "utter_report_scary"
    ]
    threatened = [*victim, user("사진 뿌린대", "crisis", danger="threat"), bot("utter_threat")]
    assert plan(*threatened, user("신고하지 말고 그냥 가만히 있을까", "nlu_fallback")) == [
        "utter_silence_threat"
    ]


def test_more_of_why_it_may_be_her_is_heard():
    maybe = [user("이거 나인지 잘 모르겠어", "express_distress"), bot("utter_maybe_me")]
    assert plan(*maybe, user("근데 배경이 우리 학원 앞이야", "out_of_scope")) == [
        "utter_maybe_me_more"
    ]
    # Thanks or a short yes is no more of why.
    assert plan(*maybe, user("알겠어 고마워", "thank")) != ["utter_maybe_me_more"]
    assert plan(*maybe, user("ㅇㅇ", "affirm")) != ["utter_maybe_me_more"]


def test_a_first_disclosure_with_a_question_gets_the_support_then_the_answer():
    assert plan(user("남자인데 이런거 신고하면 이상한가요? 반 애들이 제 얼굴로 합성했어요",
                     "report_incident")) == ["utter_report_incident", "utter_boys_too"]  # fmt: skip


def test_a_student_sent_the_picture_is_a_witness():
    sent = user("어떤 남자애가 저한테 dm으로 옆반 애 합성사진 보내왔어요", "disclose_involvement")
    assert SlotSet("stance", "bystander") in context.role_events(context.turn_of(tracker(sent)))


def test_a_friend_in_danger_is_no_snitching_worry():
    friend = [
        user("친구가 죽고싶대 연락이 안돼", "crisis", danger="self_harm"),
        bot("utter_crisis_other", "action_crisis_handoff", "utter_ask_safe_other"),
        user("몰라", "deny"),
        bot("utter_crisis_unsafe_other", "action_crisis_update"),
    ]
    assert plan(*friend, user("쌤한테 말하면 걔가 나 고자질했다고 싫어할듯", "nlu_fallback")) != [
        "utter_snitch_worry"
    ]
