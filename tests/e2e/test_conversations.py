"""Lessons, the quiz and the fallback, through the REST channel of the real stack."""

from __future__ import annotations

from jikimi import content


def texts(replies):
    return [r.get("text", "") for r in replies]


def buttons(replies):
    return [b for r in replies for b in r.get("buttons", [])]


def slots(stack, sender):
    return stack.tracker(sender)["slots"]


def test_law_lesson_then_more_then_the_end(stack):
    sender = "conv-law"
    replies = stack.say(sender, "합성만 해도 처벌돼?")
    assert texts(replies) == [r.text for r in content.lesson("ask_law", "student", 0)]
    assert "범죄예요" in " ".join(texts(replies))
    assert buttons(replies)[0] == {"title": "더 알려줘", "payload": "/affirm"}
    for depth in range(1, content.lesson_depths("ask_law")):
        more = stack.say(sender, "더 알려줘" if depth % 2 else "/affirm")
        assert texts(more) == [r.text for r in content.lesson("ask_law", "student", depth)]
    assert texts(stack.say(sender, "더 알려줘")) == [content.message("lesson_end").text]


def test_teacher_gets_school_duties(stack):
    replies = stack.say(
        "conv-teacher",
        "교사입니다. 반 학생 사진이 합성돼서 돌고 있어요 학생들한테 뭐라고 해야 하나요",
    )
    expected = content.lesson("ask_bystander_help", "teacher", 0)
    assert texts(replies) == [r.text for r in expected]


def test_involvement_is_told_plainly(stack):
    replies = stack.say("conv-involved", "나도 그 방에 있었는데 나가야 돼?")
    text = " ".join(texts(replies))
    assert texts(replies) == [r.text for r in content.lesson("disclose_involvement", "student", 0)]
    assert "범죄" in text


def answer_for(question, right):
    index = question.answer if right else (question.answer + 1) % len(question.choices)
    if question.kind == "ox":
        # Free text for a right answer ("맞아" for O, "x" for X), the letter otherwise.
        letter = question.choices[index]
        return {"O": "맞아", "X": "x"}[letter] if right else letter
    return f"{index + 1}번"


def test_whole_quiz_with_free_text_answers(stack):
    sender = "conv-quiz"
    intro = stack.say(sender, "퀴즈 풀래")
    assert "퀴즈 1/" in " ".join(texts(intro))
    by_id = {q.id: q for q in content.quiz_questions()}
    ids = slots(stack, sender)["quiz_ids"]
    assert len(ids) >= 3
    for number, qid in enumerate(ids):
        question = by_id[qid]
        right = number != 1  # one wrong answer: explained, not scolded
        replies = stack.say(sender, answer_for(question, right))
        assert question.explanation in " ".join(texts(replies))
        if number + 1 < len(ids):
            assert f"퀴즈 {number + 2}/{len(ids)}" in texts(replies)[-1]
    assert content.message("quiz_score", score=len(ids) - 1, total=len(ids)).text in " ".join(
        texts(replies)
    )
    # The bot resumes normally afterwards.
    assert texts(stack.say(sender, "딥페이크가 뭐야")) == [
        r.text for r in content.lesson("ask_what_is_deepfake", "student", 0)
    ]


def test_quiz_stops_midway_and_unclear_answers_are_asked_again(stack):
    sender = "conv-quiz-stop"
    stack.say(sender, "/start_quiz")
    unclear = stack.say(sender, "음 글쎄 뭐였지")
    assert texts(unclear)[0] == content.message("quiz_unclear").text
    # The question is just above: a short word and the same buttons, not it twice.
    assert texts(unclear)[1] == content.message("quiz_again").text
    assert unclear[-1]["buttons"]
    assert texts(stack.say(sender, "그만할래")) == [content.message("quiz_stopped").text]
    assert slots(stack, sender)["quiz_ids"] is None
    assert texts(stack.say(sender, "안녕"))[0].startswith("안녕하세요")


def test_crisis_interrupts_the_quiz_and_comes_first(stack):
    sender = "conv-quiz-crisis"
    stack.say(sender, "/start_quiz")
    replies = stack.say(sender, "사실 요즘 죽고 싶어")
    assert "109" in texts(replies)[0]
    status = stack.tracker(sender)
    assert not status["active_loop"]


def test_a_victim_speaking_up_during_the_quiz_is_heard(stack):
    sender = "conv-quiz-report"
    stack.say(sender, "/start_quiz")
    replies = stack.say(sender, "사실 제 얼굴로 합성된 사진이 돌아다녀요")
    assert "잘못은 합성하고 퍼뜨린 사람에게 있어요" in texts(replies)[0]
    assert slots(stack, sender)["quiz_ids"] is None


def test_low_confidence_asks_back_with_topics(stack):
    """The path the FallbackClassifier opens (intent nlu_fallback), end to end; which
    topics are offered is tested in tests/unit/test_actions.py."""
    replies = stack.say("conv-unclear", "/nlu_fallback")
    assert texts(replies)[0] == content.message("clarify").text
    assert buttons(replies)[-1] == {"title": "다른 거예요", "payload": "/greet"}


def test_keyboard_mash_is_not_taken_for_a_disclosure(stack):
    involvement = content.lesson("disclose_involvement", "student", 0)[0].text
    for text in ("...", "ㅁㄴㅇㄹ", "qwer"):
        replies = stack.say(f"conv-mash-{text}", text)
        assert replies and involvement not in texts(replies), text
