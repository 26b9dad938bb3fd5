"""jikimi/reading.py: how an answer is read against the question it answers.
The sentences are written the way students type (반말, 초성, no spacing)."""

from __future__ import annotations

import pytest

from jikimi import reading
from jikimi.reading import NO, YES


@pytest.mark.parametrize(
    "text, expected",
    [
        ("네 지워주세요", YES),
        ("ㅇㅇ 다 지워", YES),
        ("응", YES),
        ("네, 모두 지워 주세요", YES),
        ("삭제해줘", YES),
        ("아니", NO),
        ("ㄴㄴ 그냥 둬", NO),
        ("지우지 마", NO),
        ("아니 지우지말고 신고 계속하자고", NO),
        ("아 그럼 안지울래", NO),
        ("웅 근데 신고한건 남겨줘", None),
        ("괜찮아요", NO),
        # unclear: nothing may be erased on these
        ("아니 지워줘", None),
        ("음 근데 지우면 어케되는데?", None),
        ("음...", None),
        ("몰라", None),
        ("응 계속하자", None),
    ],
)
def test_the_delete_question_needs_an_unambiguous_yes(text, expected):
    assert reading.delete_answer(text)[0] == expected


def test_no_to_deleting_can_also_mean_go_on_with_the_report():
    assert reading.delete_answer("아니 지우지 말고 신고 계속할래") == (NO, True)
    assert reading.delete_answer("ㄴㄴ 안지워") == (NO, False)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("응 연결해줘", YES),
        ("네 부탁드려요", YES),
        ("ㅇㅇ", YES),
        ("아 ㄴㄴ 아직은 됐어", NO),
        ("아직은 괜찮아", NO),
        ("지금은 괜찮습니다. 아이와 먼저 이야기해 볼게요.", NO),
        ("선생님이 내 이름 알게 돼?", None),
    ],
)
def test_the_counsellor_offer(text, expected):
    assert reading.yes_no(text, verbs=("연결",), okay_means=NO) == expected


@pytest.mark.parametrize(
    "text, status, place",
    [
        ("아니", "unsafe", None),
        ("아니요...", "unsafe", None),
        ("ㄴㄴ", "unsafe", None),
        ("안전하지 않아", "unsafe", None),
        ("학교 옥상임", "unsafe", "옥상·높은 곳"),
        ("한강 다리 위", "unsafe", "다리·물가"),
        ("기찻길 옆이야", "unsafe", "철로·역"),
        ("응", "safe", None),
        ("응 집이야", "safe", None),
        ("방에 혼자 있어", "safe", None),
        ("괜찮아", "safe", None),
        ("지금 보건실에 저와 함께 있습니다.", "safe", None),
        ("몰라", None, None),
        ("음...", None, None),
        ("잘 모르겠어 방에 혼자 있긴 한데", None, None),
        ("수면제는 침대 옆에 그대로 있어", "unsafe", None),
        ("아빠 불러서 약 아빠한테 다 맡겼어", "safe", None),
        ("언니 깨웠어 지금 옆에 있어", "safe", None),
    ],
)
def test_the_safety_question(text, status, place):
    assert reading.safety_answer(text) == (status, place)


@pytest.mark.parametrize(
    "text",
    [
        "나 죽고싶다는거 아닌데 그냥 물어본거임",
        "죽고 싶다는 게 아니라 너무 힘들다는 거야",
        "그런 뜻 아니야",
        "자살하고 싶진 않아",
    ],
)
def test_a_crisis_statement_taken_back(text):
    assert reading.retracts_crisis(text)


@pytest.mark.parametrize(
    "text",
    [
        "죽고 싶어",
        "진짜 다 끝내고 싶다",
        "아니 죽고 싶어",
        "죽고싶은건 아니고 그냥 자해만 해",
        "죽고 싶다는 게 아니라 그냥 손목 긋고 싶어",
        "그런 생각은 없어 그냥 약 모아두고 있어",
    ],
)
def test_a_crisis_statement_not_taken_back(text):
    assert not reading.retracts_crisis(text)


@pytest.mark.parametrize(
    "text, other",
    [
        ("친구가 죽고싶대", True),
        ("딸이 자해를 해요", True),
        ("저희 아이가 죽고 싶다고 해요", True),
        ("동생이 손목을 그었어요", True),
        ("나 죽고싶어", False),
        ("걔네가 그거 보면서 웃는거 보고 진짜 뛰어내리고 싶었어", False),
        # Those she wrote to or said goodbye to are not whose crisis it is.
        ("단톡 나가고 반친구들한테 미안했다고 남겼어 오늘 다 끝낼거야", False),
        ("언니한테 고마웠다고 문자 보냄 이제 그만살래", False),
        ("친구랑 마지막으로 통화했어 옥상 올라가려고", False),
        ("친구가 언니한테 잘 있으라고 보내고 옥상 간대요", True),
    ],
)
def test_whose_crisis_it_is(text, other):
    assert reading.about_someone_else(text) == other


@pytest.mark.parametrize(
    "text, victim, involved",
    [
        ("나 방금 알았는데 ㅠ", True, False),
        ("우리학교 텔방에 내얼굴 박힌 벗은사진 돌고잇대", True, False),
        ("내 얼굴로 만든 벗은 사진이 돈대", True, False),
        ("내가 친구 얼굴 합성했는데", False, True),
        ("내가 합성사진 돌린거 다 들킴", False, True),
        ("나도 그 방에 있었는데", False, True),
        ("친구 사진이 능욕방에 올라왔어", False, False),
    ],
)
def test_who_is_speaking(text, victim, involved):
    assert reading.victim_cue(text) == victim
    assert reading.involved_cue(text) == involved


@pytest.mark.parametrize(
    "text, role",
    [
        ("교사입니다. 반 학생 사진이 합성됐어요", "teacher"),
        ("담임인데요 어떻게 해야 하나요", "teacher"),
        ("저희 딸이 피해를 입었어요", "parent"),
        ("상담 선생님이랑 얘기하고 싶어요", None),
        ("친구 엄마가 알면 어떡해", None),
    ],
)
def test_role(text, role):
    assert reading.role(text) == role


@pytest.mark.parametrize(
    "text, question",
    [
        ("엄마한텐 말 안해도 되는거지?", True),
        ("잠깐만 근데 이거 하면 학교나 집에 연락가?", True),
        ("자수하면 어케됨", True),
        ("어제 밤", False),
        ("밤에요", False),
        ("새벽에 봤어요", False),
        ("우리반 남자애들인거같아", False),
    ],
)
def test_questions(text, question):
    assert reading.is_question(text) == question


@pytest.mark.parametrize(
    "slot, text, value",
    [
        ("report_relation", "우리반 남자애들인거같아", "classmate"),
        ("report_relation", "모르는 사람이에요", "stranger"),
        ("report_relation", "누군지 몰라요", "unknown"),
        ("report_age", "중2예요", "minor"),
        ("report_age", "성인이에요", "adult"),
        ("report_online", "아직 있어요", "yes"),
        ("report_online", "건너뛸래요", "skip"),
        ("report_age", "너무 무서워", None),
    ],
)
def test_report_choices(slot, text, value):
    assert reading.report_choice(slot, text) == value


@pytest.mark.parametrize(
    "text, topic",
    [
        ("부모님이 알게 돼?", "parents"),
        ("엄마한텐 말 안해도 되는거지?", "parents"),
        ("학교에 연락가?", "school"),
        ("익명으로 할 수 있어?", "anonymous"),
        ("비밀 지켜져?", "general"),
        # What she wrote here, kept or not; whether the bot passes it on.
        ("아까 학교 이름 쓴거 아직 여기 저장돼있어?", "records"),
        ("그때 말한거 남았어요", "records"),
        ("제가 쓴 내용이 학교로 자동으로 통보되나요?", "general"),
    ],
)
def test_privacy_topics(text, topic):
    assert reading.privacy_topic(text) == topic


@pytest.mark.parametrize(
    "text, topic",
    [
        ("자수하면 어케됨?", "turn_in"),
        ("피해자한테 사과하고싶은데", "apologise"),
        ("경찰이 집에 와?", "police"),
        ("지우면 되는거야?", "delete"),
        ("헐 그럼 나 이제 어떡함", "what_now"),
        ("너무 무섭고 죄책감 들어", "worried"),
        ("엄마한테 말해야돼?", "tell_adult"),
        ("담임쌤께 먼저 얘기하면 좀 나음?", "tell_adult"),
        ("경찰한테 말하면 잡혀가?", "police"),
    ],
)
def test_involved_topics(text, topic):
    assert reading.involved_topic(text) == topic


@pytest.mark.parametrize(
    "text, waits",
    [
        ("잠깐만", True),
        ("잠시만요", True),
        ("잠만 ㅠ", True),
        ("잠깐만요 링크 찾아보고 올게요", True),
        ("잠깐 나 지금 너무 무서워서 아무것도 생각이 안 나", False),
        ("어제", False),
    ],
)
def test_wait_is_not_an_answer(text, waits):
    assert reading.wants_wait(text) is waits


@pytest.mark.parametrize(
    "text, ids",
    [
        ("1388은 문자도 돼요?", ["1388"]),
        ("112랑 117 중에 어디가 나아? 112가 빨라?", ["112", "117"]),
        ("010-1388-1234로 연락해", []),
        ("13880원", []),
    ],
)
def test_hotlines_named(text, ids):
    assert reading.hotlines_named(text) == ids


@pytest.mark.parametrize(
    "text",
    ["만든 애들 어케 신고함?", "이거 어떻게 신고하나요", "신고 방법 알려줘?", "어디에 신고해?"],
)
def test_how_and_where_to_report(text):
    assert reading.asks_where_to_report(text)


def test_being_shown_material_is_a_bystanders_words():
    assert reading.bystander_cue("반 애가 딥페 사진 보여주면서 누군지 맞혀보래")
    assert not reading.bystander_cue("누가 내 합성 사진 보여줬어")


@pytest.mark.parametrize(
    "text, ids",
    [
        ("디지털 성범죄 피해 상담하는 전화번호가 뭐예요?", ["1366"]),
        ("학폭 신고 번호 몇번이야?", ["117"]),
        ("청소년 상담 연락처 알려줘", ["1388"]),
        ("1388은 문자도 돼요?", ["1388"]),
        ("디지털 성범죄가 뭐예요?", []),
    ],
)
def test_hotlines_asked_by_number_or_by_what_they_are_for(text, ids):
    assert reading.hotlines_asked(text) == ids


def test_hours_penalty_self_blame_and_excuses():
    assert reading.asks_hours("거기 주말이나 새벽에도 받아요?")
    assert not reading.asks_hours("거기 전화하면 뭐라고 해?")
    assert reading.asks_penalty("걸리면 나 어떻게 됨")
    assert not reading.asks_penalty("피해자한테 사과하고 싶어")
    assert reading.blames_self("딸이 자꾸 자기가 사진을 올려서 그런 거라고 자책해요")
    assert reading.involved_topic("근데 나만 그런 거 아니잖아 다들 했는데") == "excuse"
    assert reading.asks_delete_or_block("계정 차단하고 디엠 다 지울까")


@pytest.mark.parametrize(
    "text, topic",
    [
        ("만든 애가 12살이면 어떻게 돼요?", "under14"),
        ("텔레그램이면 경찰이 못 잡는 거 아냐?", "telegram_caught"),
        ("청소년 사진으로 만든 합성이면 성착취물 맞나요?", "minor_material"),
        ("신고하면 바로 지워지는 거죠?", "takedown_speed"),
        ("경찰도 사진 삭제 요청해 주나요?", "police_delete"),
        ("증거가 하나도 없는데 신고할 수 있어?", "no_evidence"),
        ("남잔데 이런 피해 당하면 창피한 거 아님?", "boys_too"),
        ("거기 안 들어가면 애들이 무시할 거 같아", "pressure_to_join"),
        ("친구 대신 신고해줘도 돼?", "for_friend"),
        ("경찰 홈페이지에 친구 대신 올려도 돼?", "police_site"),
        ("학교랑 따로 제가 직접 신고해야 하나요?", "report_myself"),
        # Not a question about one point: a story, a fact told, or nothing of it.
        ("13살 때 찍은 사진으로 합성했대", None),
        ("저 13살인데 혼자 신고할 수 있어요?", None),
        ("같은반 남자애가 내 사진 합성했어 신고할수있어?", None),
        ("엄마 몰래 신고할 수 있어?", None),
        ("텔레그램 방에 올라왔어", None),
        ("경찰에 신고했어요", None),
    ],
)
def test_question_topics(text, topic):
    assert reading.question_topic(text) == topic


@pytest.mark.parametrize(
    "text, expected",
    [
        ("담임쌤한테 말하면 엄마도 알아?", True),
        ("학교에 연락 가요?", True),
        ("반 전체에 어떻게 이야기하면 좋을까요?", False),
        ("중학교 교사인데 뭐부터 해야 하나요?", False),
    ],
)
def test_asks_who_knows(text, expected):
    assert reading.asks_who_knows(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("그 사람이랑 영통한 내가 바보였지", True),
        ("제가 프사를 전체공개로 해놔서 이렇게 된 거예요", True),
        ("걔가 바보같아", False),
        ("내가 신고해서 이렇게 된 거야?", True),
    ],
)
def test_blames_self_now(text, expected):
    assert reading.blames_self_now(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("오늘 저녁에 엄마한테 말해볼게", True),
        ("내일 117에 전화해볼게요", True),
        ("경찰서 가보겠습니다", True),
        ("엄마한테 말해야 돼?", False),
        ("신고할래", False),
        ("그냥 경찰에 신고 안할게", False),
        ("부모님한텐 비밀로 할게", False),
        ("엄마한테 말 못할거같아 그냥 혼자할게", False),
    ],
)
def test_own_plan(text, expected):
    assert reading.own_plan(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("그 계정 차단할까?", True),
        ("앱 아예 지워버리면 안 돼?", True),
        ("디코 탈퇴하면 끝임?", True),
        ("차단당했어", False),
        ("지킴이 탈퇴하면 내 기록 지워져?", False),
    ],
)
def test_asks_block_or_leave(text, expected):
    assert reading.asks_block_or_leave(text) is expected


@pytest.mark.parametrize(
    "text", ["나중에 마저 할게요", "이따 다시 할래 지금 밥먹어야돼", "다음에 이어서 할게"]
)
def test_later_in_a_form_is_a_stop(text):
    assert reading.wants_stop(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("제가 옆에서 뭐부터 해주면 될까요?", False),
        ("내 사진도 합성될까봐 무서워", True),
        ("프사가 악용될까 걱정돼요", True),
    ],
)
def test_worry_is_about_what_may_happen_not_any_question(text, expected):
    assert reading.worry(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("단톡에 돌던 사진 봤는데 얼굴이 딱 나더라", True),
        ("그거 아무리 봐도 제 얼굴이에요", True),
        ("얼굴이 나랑 닮은 연예인", False),
    ],
)
def test_recognising_herself_is_a_victim_cue(text, expected):
    assert reading.victim_cue(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("남친이 미안하다면서 폰에서 다 지웠대", True),
        ("내가 다 지웠어", False),
    ],
)
def test_says_deleted_by_them(text, expected):
    assert reading.says_deleted_by_them(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [("전화비 나와?", True), ("1388 공짜임?", True), ("무료 상담 받았어", False)],
)
def test_asks_cost(text, expected):
    assert reading.asks_cost(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("내일 학교에서 찾아가서 따질거임", True),
        ("걔네 집 찾아가서 말할거야", True),
        ("경찰서 찾아가서 신고할게", False),
    ],
)
def test_plans_to_confront(text, expected):
    assert reading.plans_to_confront(text) is expected


@pytest.mark.parametrize(
    "text, verbs, expected",
    [
        # A noun verb takes 하다 or a particle before the "no": never a yes.
        ("삭제하지 마세요", ("지우", "지워", "삭제"), reading.NO),
        ("삭제는 안 할래요", ("지우", "지워", "삭제"), reading.NO),
        ("연결은 안 해도 돼요", ("연결",), reading.NO),
        ("연결하지 마세요", ("연결",), reading.NO),
        ("연결 말고 그냥 얘기할래", ("연결",), reading.NO),
        ("저장하지 마", ("저장",), reading.NO),
        ("네 삭제해 주세요", ("지우", "지워", "삭제"), reading.YES),
        ("네 연결해주세요", ("연결",), reading.YES),
    ],
)
def test_a_refusal_with_a_noun_verb_is_a_no(text, verbs, expected):
    assert reading.yes_no(text, verbs=verbs) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("근데 왜 그게 정답임?", True),
        ("왜요??", True),
        ("그게 왜 O야", True),
        ("왜 내가 이런 일을 당해야 되는지 모르겠어 진짜 너무 억울하고 속상해", False),
        ("2번", False),
    ],
)
def test_asks_why(text, expected):
    assert reading.asks_why(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("아 페북 아니고 인스타임", "인스타임"),
        ("디코 말고 카톡 오픈채팅이었어요", "카톡 오픈채팅이었어요"),
        ("인스타요", ""),
    ],
)
def test_corrected_to(text, expected):
    assert reading.corrected_to(text) == expected
    assert reading.corrects(text) is bool(expected)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("일요일이라 아무도 없는거 아니에요?", True),
        ("주말엔 연결 안돼요?", True),
        ("월요일에 학교 가기 싫어", False),
    ],
)
def test_asks_wait_for_weekday(text, expected):
    assert reading.asks_wait_for_weekday(text) is expected


@pytest.mark.parametrize(
    "text, unsure, can_stop",
    [
        ("음.. 할까 말까", True, False),
        ("좀 무섭긴한데 모르겟어ㅠ", True, False),
        ("누가 올린건지 모르겠고 너무 무서워", False, False),
        ("하다가 싫으면 나가도 돼요?", False, True),
        ("이야기 도중에 그만해도 되나요?", False, True),
        ("퀴즈 그만해도 돼?", False, False),
        ("응 연결해줘", False, False),
    ],
)
def test_unsure_and_asks_can_stop_talk(text, unsure, can_stop):
    assert reading.unsure(text) is unsure
    assert reading.asks_can_stop_talk(text) is can_stop


@pytest.mark.parametrize(
    "text, expected",
    [
        ("내일 다시 들어와서 계속해도 되나요?", True),
        ("이따 다시 와서 이어 할 수 있어?", True),
        ("나중에 신고해도 돼?", False),
    ],
)
def test_asks_come_back(text, expected):
    assert reading.asks_come_back(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("반 애들이 다 니가 셀카 많이 올려서 그렇다는데", False),
        ("애들이 니가 프사 공개로 해놔서 그런거래", True),
        ("다들 나보고 조심 좀 하지 그랬냐고 하더라", True),
        ("걔가 그랬대", False),
        # 걔네가 (they) holds 네가 (you).
        ("걔네가 그냥 장난이었다고 하던데", False),
    ],
)
def test_blamed_by_others(text, expected):
    assert reading.blamed_by_others(text) is expected


@pytest.mark.parametrize(
    "text, role, involved, told_of_own",
    [
        # A girl in the teacher's class told of her own picture: she is the victim.
        ("저희 반 여학생이 울면서 찾아왔는데 옆 반 남학생이 본인 사진으로 "
         "합성물을 만들어 돌렸다고 합니다",
         "teacher", False, True),
        ("저희 반 남학생이 같은 반 여학생 사진으로 합성물을 만들어 돌렸다고 합니다",
         "teacher", True, False),
        ("중2 딸아이가 울면서 얘기하는데 사진이 합성돼서 돈다고 하네요", "parent", False, False),
        ("아들이 단톡에서 받은 합성 사진을 친구 여러 명에게 다시 보내줬다는 걸 알았습니다",
         "parent", True, False),
        # The student who told is neither: "만든" says what the picture is.
        ("고1 담임입니다. 반 학생이 학원 단톡방에 옆 반 아이 얼굴로 합성한 영상이 "
         "돈다고 제보해 줬습니다", "teacher", False, False),
        ("학생이 자기가 만든 사진이 돌고 있다고 말해줬어요 담임인데 어떻게 해야 하나요",
         "teacher", True, False),
    ],
)  # fmt: skip
def test_who_an_adult_speaks_of(text, role, involved, told_of_own):
    assert reading.role(text) == role
    assert reading.involved_cue(text, adult=True) is involved
    assert reading.told_of_own_picture(text) is told_of_own


@pytest.mark.parametrize(
    "text, delay, see, alone",
    [
        ("방학이라 개학하고 나서 신고해도 될지 여쭙습니다", True, False, False),
        ("학생이 진정될 때까지 신고를 좀 미뤄도 괜찮을까요?", True, False, False),
        ("다음주에 보고드려도 될지 궁금합니다", True, False, False),
        ("확인하려면 제가 그 영상을 봐야 하는지 궁금합니다", False, True, False),
        ("그 남학생을 교무실로 불러서 먼저 물어봐도 될까요?", False, False, True),
    ],
)
def test_what_a_teacher_asks(text, delay, see, alone):
    assert reading.asks_must_report(text) is delay
    assert reading.offered_the_file(text) is see
    assert reading.questions_offender_alone(text) is alone


def test_a_number_to_block_is_not_a_number_asked_again():
    assert not reading.asks_number_again("모르는 번호 차단해도 되나요?")
    assert reading.asks_number_again("아까 그 번호 몇번이었죠?")
    assert reading.avoids_calling("전화는 힘들어요 동생이 옆에 있어서")


def test_a_threat_against_the_child_is_not_the_child_sharing():
    text = "딸이 모르는 계정한테 협박받고 있대요. 돈 안 주면 사진을 다 뿌리고 퍼뜨린다고 했대요"
    assert not reading.involved_cue(text, adult=True)


@pytest.mark.parametrize(
    "text, plan, tell",
    [
        ("넹 오늘 말해볼게요", True, False),
        ("ㅇㅋ 한번 얘기해볼께", True, False),
        ("말 안 할래", False, False),
        ("담임쌤한테 얘기하면 소문날까봐 무서워", False, True),
        ("엄마한테 말하면 혼날까봐", False, False),
    ],
)
def test_will_tell_and_afraid_to_tell_a_teacher(text, plan, tell):
    assert reading.own_plan(text) is plan
    assert reading.wonders_whether_to_tell(text) is tell


def test_where_to_get_help_is_not_where_to_ask_for_a_takedown():
    assert reading.asks_where_help("상담은 어디서 받아요?")
    assert not reading.asks_where_help("게시물 삭제 요청은 어디에 하면 되나요?")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("모르는 애가 합성한거 같은데 반 애들이 벌써 다 봤대", {}),  # who saw, not who made
        ("학교 선배들한테 다 돌았대요", {}),
        ("누가 만들었는지도 몰라요 옆반애들 다 알고", {}),
        ("같은 반 남자애가 만든거래요", {"report_relation": "classmate"}),
        ("학원 오빠가 만듦", {"report_relation": "known"}),
    ],
)
def test_report_details_the_audience_is_not_the_one_who_made_it(text, expected):
    assert reading.report_details(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("솔직히 경찰서 가는게 겁나요", True),
        ("신고까지는 못하겠어요", True),
        ("경찰한테 신고했는데 무서웠어", False),
        ("너무 무서워요", False),
    ],
)
def test_afraid_to_report(text, expected):
    assert reading.afraid_to_report(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("울 언니는 카페에 자기 사진 올라왔대 대학생임", "adult"),
        ("베프도 당했대 ㅠ", "other"),
        ("여동생 사진도 합성돼서 돌았대요", "other"),
        ("친구가 알려줬는데 제 사진이 돌아요", None),
        ("친구들도 다 봤대", None),
    ],
)
def test_others_case(text, expected):
    assert reading.others_case(text) == expected


@pytest.mark.parametrize(
    "text, involved",
    [
        ("장난으로 선배 사진 합성해서 단톡에 뿌렸는데 들킴", True),
        ("장난으로 만들어봤는데 이거 범죄임?", True),
        ("제 셀카 합성해서 반톡에 올렸어요 ㅠ", False),  # her own picture: someone did it to her
        ("반애들이 친구 얼굴 합성해서 올렸어요", False),
    ],
)
def test_a_made_and_posted_picture_of_another_is_the_writers_act(text, involved):
    assert reading.involved_cue(text) is involved


def test_a_student_who_names_her_homeroom_teacher_is_no_teacher():
    assert reading.role("담임쌤 얼굴로 누가 이상한 사진 만들었대") is None
    assert reading.role("담임입니다. 반 학생 일로 문의드려요") == "teacher"
    assert reading.involved_topic("쌤은 성인인데도 처벌돼요?") == "any_age"
    assert reading.involved_topic("단톡엔 안올렸고 우리끼리만 봄") == "made_not_shared"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("겹지인방이 정확히 뭐야?", True),
        ("친구 사진이 겹지인방에 돌고 있대 어떡해", False),
        ("반 애 얼굴이 능욕방에 올라왔다던데 어케함", False),
    ],
)
def test_what_such_rooms_are_is_asked_not_told(text, expected):
    assert reading.asks_about_rooms(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("저번에 알려준 내 폰번호랑 대화 기록 싹 지워줘", True),
        ("그 합성 영상 좀 지워줘", False),
    ],
)
def test_her_own_data_is_not_the_pictures(text, expected):
    assert (reading.names_own_data(text) and not reading.names_material(text)) is expected
