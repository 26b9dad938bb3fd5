"""Content layer: every lesson, template and quiz question renders; every statement
cites a sourced fact; lessons read as chat (short turns, buttons to contract intents);
the quiz and quiz_answers.parse_answer understand how students actually answer."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from jikimi import content, quiz_answers
from jikimi.content import Button, Question, Reply

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content"
# Copies of ../shared/facts-ko.md and nlu-contract.md, so these tests never skip;
# tests/unit/test_wording.py checks the copies against ../shared while it exists.
FACTS_KO = ROOT / "tests" / "data" / "facts-ko.md"
NLU_CONTRACT = ROOT / "tests" / "data" / "nlu-contract.md"

# tests/data/nlu-contract.md (checked against the file below).
CONTRACT_INTENTS = {
    "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "out_of_scope",
    "ask_what_is_deepfake", "ask_harm", "ask_law", "ask_spot_fake", "ask_prevention",
    "start_quiz", "disclose_involvement", "ask_bystander_help", "report_incident",
    "ask_evidence", "ask_takedown", "request_counsellor", "express_distress", "crisis",
    "ask_privacy", "delete_my_data",
}  # fmt: skip
LESSON_TOPICS = {
    "ask_what_is_deepfake", "ask_harm", "ask_law", "ask_spot_fake", "ask_prevention",
    "ask_bystander_help", "disclose_involvement",
}  # fmt: skip
# Button payloads: contract intents, the form's payload-only start, "더 알려줘", and
# "근거 보기" (checked by shape in is_allowed_payload).
ALLOWED_PAYLOADS = {f"/{i}" for i in CONTRACT_INTENTS} | {"/start_report"} | {content.MORE_PAYLOAD}
SOURCES_PAYLOAD = re.compile(r'/show_sources\{"source_ids":"[a-z0-9_. ]+"\}')


def is_allowed_payload(payload: str) -> bool:
    return payload in ALLOWED_PAYLOADS or bool(SOURCES_PAYLOAD.fullmatch(payload))


ARTICLE = re.compile(r"제\s?\d+조|\d{4}도\d+")
JARGON = ("유기징역", "반포", "시정요구", "SHA-256")
HEDGES = ("수 있어요", "보여요", "확인하지 못했어요", "기준", "바뀌었을 수")
FORBIDDEN = [
    re.compile(r"#1388"),  # the channel is '청소년상담1388'; '#1388' is 2007 notation
    re.compile(r"#0117"),  # only in 2016-17 sources
    re.compile(r"e-?채증"),  # no such police service was found (unconfirmed)
    re.compile(r"15\.9\s*%"),  # does not match 104 of 682
    re.compile(r"8894(?<!735-8994)"),  # YTN's misprint of 02-735-8994
    re.compile(r"1393"),  # retired into 109
    re.compile(r"abuse@telegram"),  # current address unconfirmed
    re.compile(r"딥페(?!이크)"),  # the abbreviation is unconfirmed
    # 대법원 2024도17801: never automatic
    re.compile(r"(무조건|자동으로|반드시|당연히)\s*(아동·)?청소년성착취물"),
]
SENTENCE_END = re.compile(r"(?<![0-9])[.?!]+(?=\s|$)")


def sentences(text: str) -> int:
    """Sentence ends outside dates ("2024.10.16."); a list line without one is one."""
    lines = [line for line in text.splitlines() if line.strip()]
    return sum(max(1, len(SENTENCE_END.findall(line))) for line in lines)


def levels() -> list[tuple[str, str, int]]:
    return [
        (topic, role, depth)
        for topic in sorted(LESSON_TOPICS)
        for role in content.ROLES
        for depth in range(content.lesson_depths(topic, role))
    ]


def lesson_text(topic: str, role: str = "student") -> str:
    depths = range(content.lesson_depths(topic, role))
    return "\n".join(r.text for d in depths for r in content.lesson(topic, role, d))


def topic_replies() -> list[Reply]:
    """Every privacy and involved answer, for every role."""
    return [
        reply
        for loader, topics in (
            (content.privacy, content.privacy_topics()),
            (content.involved, content.involved_topics()),
        )
        for topic in topics
        for role in content.ROLES
        for reply in loader(topic, role)
    ]


def all_user_text() -> list[str]:
    replies = [reply for t, r, d in levels() for reply in content.lesson(t, r, d)]
    replies += topic_replies()
    texts = [reply.text for reply in replies]
    texts += [button.title for reply in replies for button in reply.buttons]
    for q in content.quiz_questions():
        texts += [q.prompt, q.explanation, *q.choices]
        texts.append(content.render("quiz_question.j2", question=q))
        for index in range(len(q.choices)):
            texts.append(content.render("quiz_feedback.j2", question=q, given=index))
    texts.append(content.render("resources_list.j2"))
    for template in ("evidence_checklist.j2", "takedown.j2"):
        texts += [content.render(template, **c) for c in TEMPLATE_CONTEXTS[template]()]
    texts += [entry["text"] for entry in content.all_facts().values()]
    for entry in content.resources():
        shown = {k: v for k, v in entry.items() if k not in ("source", "confidence")}
        texts += [str(value) for value in shown.values() if value]
    return texts


def content_sources() -> str:
    files = sorted(p for p in CONTENT.rglob("*") if p.is_file())
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


# --- lessons ---------------------------------------------------------------------


def test_every_lesson_intent_has_a_lesson():
    assert set(content.lesson_topics()) == LESSON_TOPICS


def check_reads_as_chat(replies: list[Reply]) -> None:
    """Phone-sized bubbles, buttons under the last, "근거 보기" last when there."""
    assert replies and all(isinstance(r, Reply) for r in replies)
    assert len(replies) <= content.BUBBLES_MAX
    for reply in replies:
        assert 1 <= sentences(reply.text) <= 6, reply.text
        assert len(reply.text) <= content.BUBBLE_MAX, reply.text
        assert "{" not in reply.text and "}" not in reply.text, reply.text
        assert "None" not in reply.text and "  " not in reply.text, reply.text
        assert "---" not in reply.text, reply.text
    assert all(not reply.buttons for reply in replies[:-1]), "buttons go last"
    buttons = replies[-1].buttons
    assert buttons and all(isinstance(b, Button) for b in buttons)
    assert all(is_allowed_payload(b.payload) for b in buttons), buttons
    assert len({b.payload for b in buttons}) == len(buttons)
    assert all(0 < len(b.title) <= 20 for b in buttons)
    topical = [b for b in buttons if b.payload not in (content.MORE_PAYLOAD,)]
    sources = [b for b in buttons if b.title == content.SOURCES_TITLE]
    assert len(topical) - len(sources) <= 3 and len(buttons) <= 5
    if sources:
        assert buttons[-1] == sources[0]
        ids = json.loads(sources[0].payload.removeprefix("/show_sources"))["source_ids"]
        assert set(ids.split()) == set(content.facts_of(replies))


@pytest.mark.parametrize("topic,role,depth", levels())
def test_lesson_level_reads_as_chat(topic, role, depth):
    replies = content.lesson(topic, role, depth)
    check_reads_as_chat(replies)
    buttons = replies[-1].buttons
    has_more = any(b.payload == content.MORE_PAYLOAD for b in buttons)
    assert has_more == (depth + 1 < content.lesson_depths(topic, role))
    assert any(b.title == content.SOURCES_TITLE for b in buttons), "lessons state facts"
    if role == "student":
        for reply in replies:
            assert not ARTICLE.search(reply.text), reply.text
            assert not any(word in reply.text for word in JARGON), reply.text


def test_lessons_have_a_deeper_level():
    for topic in LESSON_TOPICS:
        assert content.lesson_depths(topic) >= 2, topic


def test_lesson_errors_are_loud():
    with pytest.raises(KeyError):
        content.lesson("ask_weather")
    with pytest.raises(KeyError):
        content.lesson("../facts")
    with pytest.raises(KeyError):
        content.lesson_depths("greet")
    with pytest.raises(ValueError):
        content.lesson("ask_law", role="principal")
    with pytest.raises(IndexError):
        content.lesson("ask_law", depth=content.lesson_depths("ask_law"))
    with pytest.raises(IndexError):
        content.lesson("ask_law", depth=-1)


def test_lesson_returns_a_fresh_list():
    content.lesson("ask_law").clear()
    assert content.lesson("ask_law")


def test_law_lesson_covers_what_the_product_requires():
    text = lesson_text("ask_law")
    for needle in (
        "편집·합성", "퍼뜨리", "돈을 벌려고", "협박", "아청법", "학교폭력예방법",
        "2024.10.16.", "3년 이상의 징역", "대법원", "더 무겁게 처벌될 수 있어요",
        "2025.8.1.", "원하지 않았는데",
    ):  # fmt: skip
        assert needle in text, needle
    # Students get the articles and the case number behind "근거 보기"; teachers read them.
    teacher = lesson_text("ask_law", "teacher")
    for needle in ("제14조의3", "제14조의2제4항", "2024도17801", "제34조②"):
        assert needle not in text and needle in teacher, needle


def test_bystander_lesson_covers_what_the_product_requires():
    text = lesson_text("ask_bystander_help")
    for needle in (
        "보내지도 마세요", "저장", "방 이름", "네 잘못이 아니야", "어른",
        "112", "117", "1366",
    ):  # fmt: skip
        assert needle in text, needle


def test_disclosure_lesson_is_plain_and_points_to_help():
    first = "\n".join(r.text for r in content.lesson("disclose_involvement"))
    for needle in (
        "범죄", "방 이름과 링크", "나오세요", "보내지 마세요", "없던 일로",
        "도움을 구하는 건 옳은", "1388",
    ):  # fmt: skip
        assert needle in first, needle
    for role in content.ROLES:
        text = lesson_text("disclose_involvement", role)
        for insult in ("한심", "최악", "쓰레기", "부끄러운 줄"):
            assert insult not in text
        # One line for every role (issue 13 item 5): nothing is deleted or forwarded.
        assert "잘못이 아니" not in text and "지우세요" not in text, role
        assert "방 이름과 링크" in text and "보내지 않" in text or "보내지 마" in text, role


ADAPTED = ["ask_law", "ask_bystander_help", "disclose_involvement"]


@pytest.mark.parametrize("topic", ADAPTED)
@pytest.mark.parametrize("role", ["teacher", "parent"])
def test_teachers_and_parents_get_their_own_version(topic, role):
    assert lesson_text(topic, role) != lesson_text(topic, "student")


def test_teacher_version_names_the_school_duties():
    text = lesson_text("ask_law", "teacher")
    text += lesson_text("ask_bystander_help", "teacher")
    for article in ("제20조", "제16조", "제17조", "제34조②"):
        assert article in text, article


def test_parent_version_supports_without_blame_and_explains_deletion():
    text = lesson_text("ask_bystander_help", "parent")
    for needle in (
        "네 잘못이 아니야", "탓하는 말은 하지 말아", "삭제", "1366", "02-735-8994",
    ):  # fmt: skip
        assert needle in text, needle


def test_unadapted_role_falls_back_to_the_student_lesson():
    teacher = content.lesson("ask_harm", "teacher")
    student = content.lesson("ask_harm", "student")
    assert [r.text for r in teacher] == [r.text for r in student]
    assert teacher[-1].buttons[0] == Button("더 알려 주세요", content.MORE_PAYLOAD)


# --- facts and resources ---------------------------------------------------------


def facts_ko_words() -> str:
    """facts-ko.md as running text: no line breaks or bold marks, for quoted refs."""
    return " ".join(FACTS_KO.read_text("utf-8").replace("**", "").split())


def test_every_fact_has_a_source_and_confidence():
    facts = content.all_facts()
    assert len(facts) > 30
    words = facts_ko_words()
    for fact_id, entry in facts.items():
        assert isinstance(entry.get("text"), str) and entry["text"].strip(), fact_id
        source = entry.get("source") or {}
        assert str(source.get("section", "")).startswith("facts-ko.md §"), fact_id
        assert str(source.get("title", "")).strip(), f"{fact_id}: no title for 근거 보기"
        urls = source.get("urls") or []
        assert all(re.match(r"https?://\S+$", url) for url in urls), fact_id
        refs = source.get("refs") or []
        assert all(" ".join(ref.split()) in words for ref in refs), f"{fact_id}: {refs}"
        assert urls or source.get("law") or refs, f"{fact_id}: needs a URL, law or ref"
        assert entry.get("confidence") in ("confirmed", "partly"), fact_id


def test_named_fact_fields_appear_in_the_fact_text():
    declared = yaml.safe_load((CONTENT / "facts.yml").read_text("utf-8"))
    for fact_id, entry in declared.items():
        for field, value in entry.items():
            if field not in ("text", "source", "confidence", "article"):
                assert str(value) in entry["text"], f"{fact_id}.{field}"


def test_articles_are_ones_facts_ko_names_and_stay_out_of_fact_texts():
    """`article` holds the article ("근거 보기", teachers); the text a student reads has none."""
    facts_ko = FACTS_KO.read_text("utf-8")
    for fact_id, entry in content.all_facts().items():
        assert not ARTICLE.search(entry["text"]), fact_id
        for article in re.findall(r"제\d+조(?:의\d+)?", entry.get("article", "")):
            assert article in facts_ko, f"{fact_id}: {article}"


def test_partly_facts_and_services_are_worded_cautiously():
    for fact_id, entry in content.all_facts().items():
        if entry["confidence"] == "partly" and not fact_id.startswith("hotline."):
            assert any(h in entry["text"] for h in HEDGES), fact_id
    for entry in content.resources():
        if entry["confidence"] == "partly":
            fields = ("short", "hours", "does", "cannot")
            shown = " ".join(str(entry[k]) for k in fields)
            assert any(h in shown for h in HEDGES), entry["id"]


def test_minor_rule_is_never_stated_as_automatic():
    assert "더 무겁게 처벌될 수 있어요" in content.fact("law.minor_csam")
    assert content.all_facts()["law.minor_csam"]["confidence"] == "partly"


def test_1377_after_the_rename_is_cautious():
    entry = content.resources(["1377"])[0]
    assert "2024년 기준" in entry["short"] and "확인하지 못했어요" in entry["cannot"]


def test_every_source_url_is_one_facts_ko_gives():
    facts_ko = FACTS_KO.read_text("utf-8")
    for fact_id, entry in content.all_facts().items():
        for url in entry["source"].get("urls", []):
            assert url in facts_ko, f"{fact_id}: {url}"


def test_every_number_shown_appears_in_facts_ko():
    """Dates, phone numbers and counts are copied from facts-ko.md, not from memory."""
    facts_ko = FACTS_KO.read_text("utf-8")
    for text in all_user_text():
        for number in re.findall(r"\d+(?:[.,\-]\d+)*", text):
            assert number in facts_ko, f"{number!r} in {text[:80]!r}"


def test_resources():
    everything = content.resources()
    ids = [entry["id"] for entry in everything]
    for required in ("109", "112", "119", "1388", "117", "1366", "d4u", "1377", "ecrm"):
        assert required in ids
    for entry in everything:
        for field in ("name", "short", "does"):
            assert entry[field], (entry["id"], field)
        assert entry["channels"] and entry["confidence"] in ("confirmed", "partly")
        assert entry["source"]["urls"], entry["id"]
    picked = content.resources(["1388", "1366"])
    assert [e["number"] for e in picked] == ["1388", "1366"]
    assert "카카오톡 채널 '청소년상담1388'" in picked[0]["channels"]
    assert content.resources(["d4u"])[0]["number"] == "02-735-8994"
    picked[0]["number"] = "0000"
    assert content.resources(["1388"])[0]["number"] == "1388", "callers get copies"
    with pytest.raises(KeyError):
        content.resources(["1234"])


# --- templates -------------------------------------------------------------------


def quiz_contexts() -> list[dict]:
    qs = content.quiz_questions()
    numbered = {"question": qs[0], "number": 1, "total": len(qs)}
    return [{"question": q} for q in qs] + [numbered]


def feedback_contexts() -> list[dict]:
    return [
        {"question": q, "given": index}
        for q in content.quiz_questions()
        for index in [None, *range(len(q.choices))]
    ]


def case_view(**changes):
    from datetime import datetime, timezone

    from jikimi.cases import CaseView

    fields = dict(
        code="JK-ABC234", created_at=datetime(2026, 1, 2, tzinfo=timezone.utc),
        platform="telegram", minor=True, anonymous=True, when_happened="지난주",
        still_online=True, urls=["https://t.me/room/1", "https://t.me/room/2"],
        evidence_count=2,
    )  # fmt: skip
    fields.update(changes)
    return CaseView(**fields)


PLATFORM_CHOICES = [None, "telegram", "instagram", "facebook", "x", "kakaotalk", "other"]
# Who is asking, as actions/evidence.py passes it (role, stance) and as older callers did
# (bystander only).
WHO = [
    {"role": role, "stance": stance}
    for role in content.ROLES
    for stance in (None, *content.STANCES)
] + [{"bystander": True}, {"bystander": False}]

TEMPLATE_CONTEXTS = {
    "report_summary.j2": lambda: [
        {"items": [("익명 여부", "건너뜀"), ("링크", "  - https://t.me/room/1")]}
    ],
    "evidence_checklist.j2": lambda: [
        {"platform": p, "platform_name": "텔레그램" if p else None, **who}
        for p in PLATFORM_CHOICES
        for who in WHO
    ],
    "takedown.j2": lambda: [
        {"platform": p, "platform_name": None, **who} for p in PLATFORM_CHOICES for who in WHO
    ],
    "takedown_request.j2": lambda: [
        {"case": case, "platform_name": name, **who}
        for case, name in (
            (None, None),
            (case_view(), "텔레그램"),
            (case_view(urls=[], when_happened=None, evidence_count=0), None),
            (case_view(urls=[f"https://t.me/room/{n}" for n in range(9)]), "텔레그램"),
        )
        for who in WHO
    ],
    "resources_list.j2": lambda: [{}, {"ids": ["1388", "1366"], "title": "연락할 곳"}],
    "quiz_question.j2": quiz_contexts,
    "quiz_feedback.j2": feedback_contexts,
    "partials/penalties.j2": lambda: [{}],
    "partials/school_duties.j2": lambda: [{}],
    "partials/report_police.j2": lambda: [{}],
}


def test_every_template_has_test_data():
    found = {p.relative_to(CONTENT).as_posix() for p in CONTENT.rglob("*.j2")}
    assert found == set(TEMPLATE_CONTEXTS)


@pytest.mark.parametrize("template", sorted(TEMPLATE_CONTEXTS))
def test_every_template_renders(template):
    for context in TEMPLATE_CONTEXTS[template]():
        text = content.render(template, **context)
        assert text and "{" not in text and "None" not in text, (template, context)


def test_resources_list_shows_what_was_asked():
    text = content.render("resources_list.j2", ids=["1388", "1366"], title="연락할 곳")
    assert text.startswith("연락할 곳\n• 청소년상담 1388")
    assert "• 디지털성범죄 피해상담 1366" in text and "• 학교폭력 신고 117" not in text
    everything = content.render("resources_list.j2")
    assert all(e["name"] in everything for e in content.resources())


def test_unknown_ids_and_variables_fail_loudly():
    env = content.environment("chat")
    for source in (
        "{{ fact('law.no_such_thing') }}",
        "{{ fact('law.make', 'no_such_field') }}",
        "{{ fact('law.make', 'source') }}",
        "{{ hotline('1234') }}",
        "{{ undefined_variable }}",
    ):
        with pytest.raises((KeyError, jinja2.UndefinedError)):
            env.from_string(source).render()


def test_every_id_used_in_content_exists_and_every_fact_is_used():
    sources = content_sources()
    fact_ids = set(re.findall(r"(?:fact|cited)\('([^']+)'", sources))
    quiz_ids = {f for q in content.quiz_questions() for f in q.facts}
    hotline_ids = set(re.findall(r"hotline\('([^']+)'", sources))
    known = set(content.all_facts())
    assert fact_ids | quiz_ids <= known, (fact_ids | quiz_ids) - known
    assert {f"hotline.{h}" for h in hotline_ids} <= known
    declared = set(yaml.safe_load((CONTENT / "facts.yml").read_text("utf-8")))
    assert declared <= fact_ids | quiz_ids, f"unused: {declared - fact_ids - quiz_ids}"


def test_no_text_states_what_facts_ko_rules_out():
    for text in all_user_text():
        for pattern in FORBIDDEN:
            assert not pattern.search(text), f"{pattern.pattern!r} in {text[:120]!r}"


def test_forbidden_patterns_catch_what_they_should():
    """The guard above is only worth something if it fires."""
    for bad in (
        "카톡 #1388", "e-채증 앱", "딥페방",
        "피해자가 청소년이면 자동으로 청소년성착취물이에요",
    ):  # fmt: skip
        assert any(p.search(bad) for p in FORBIDDEN), bad
    assert not any(p.search("02-735-8994, 딥페이크") for p in FORBIDDEN)


def test_contract_intents_match_the_contract():
    table = re.findall(r"^\| ([a-z_]+) \|", NLU_CONTRACT.read_text("utf-8"), re.M)
    assert set(table) - {"intent"} == CONTRACT_INTENTS


def test_import_does_no_work():
    code = (
        "import builtins, sys\n"
        "opened, real = [], builtins.open\n"
        "def spy(f, *a, **k):\n"
        "    opened.append(str(f))\n"
        "    return real(f, *a, **k)\n"
        "builtins.open = spy\n"
        "import jikimi.content\n"
        "sys.exit(1 if [f for f in opened if 'content' in f] else 0)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


# --- quiz ------------------------------------------------------------------------


def test_quiz_bank():
    questions = content.quiz_questions()
    assert len(questions) >= 16
    assert len({q.id for q in questions}) == len(questions)
    kinds = [q.kind for q in questions]
    assert kinds.count("ox") >= 5 and kinds.count("choice") >= 5
    for q in questions:
        assert isinstance(q, Question) and q.prompt and q.explanation
        if q.kind == "ox":
            assert q.choices == ("O", "X")
        else:
            assert 3 <= len(q.choices) <= 4 and len(set(q.choices)) == len(q.choices)
        assert 0 <= q.answer < len(q.choices)
        assert q.facts and all(f in content.all_facts() for f in q.facts), q.id


def test_quiz_answers_are_not_all_the_same():
    answers = [q.answer for q in content.quiz_questions() if q.kind == "choice"]
    assert len(set(answers)) >= 3


@pytest.mark.parametrize("question", content.quiz_questions(), ids=lambda q: q.id)
def test_wrong_answers_get_the_explanation_not_a_scolding(question):
    for answer in [None, *range(len(question.choices))]:
        text = content.render("quiz_feedback.j2", question=question, given=answer)
        assert question.explanation in text and "정답" in text
        assert ("맞아요!" in text) == (answer == question.answer)
        for scold in ("틀렸", "땡", "바보", "오답", "왜 몰라", "한심"):
            assert scold not in text


CHOICE = Question(
    id="t-choice",
    kind="choice",
    prompt="?",
    choices=(
        "처벌받지 않아요", "3년 이하 징역 또는 3천만원 이하 벌금",
        "학교 봉사활동만 해요", "경고만 받아요",
    ),
    answer=1,
    explanation=".",
    facts=(),
)  # fmt: skip
OX = Question("t-ox", "ox", "?", ("O", "X"), answer=1, explanation=".", facts=())

CHOICE_ANSWERS = {
    0: ["1", "1번", "①", "첫번째", "첫 번째", "1번이요", "하나", "처벌받지않아요"],
    1: [
        "2번!", "②", " 2 ", "２", "두번째요", "정답은 2번", "답: 2",
        "3년 이하 징역 또는 3천만원 이하 벌금", "3년이하징역또는3천만원이하벌금",
        "3년 이하 징역, 또는 3천만원 이하 벌금!", '/start_quiz{"answer": 2}',
    ],
    2: ["3번인 것 같아요", "세 번째", "셋", "학교 봉사활동"],
    3: [
        "4", "네번째", "④번", "경고만 받아요.", "경고만", '/start_quiz{"answer": "4"}',
        "마지막꺼", "모르겠어요 찍을게요 마지막꺼", "음 네번째꺼요",
    ],
    None: [
        "5", "0", "5번", "다섯번째", "", "   ", "몰라", "ㅋㅋㅋ", "응", "네", "1번 2번",
        "/affirm", '/start_quiz{"answer": 9}', "/start_quiz{", "2024", "이하",
    ],
}  # fmt: skip
OX_ANSWERS = {
    0: [
        "O", "o", "오", "Ｏ", "⭕", "동그라미", "맞아", "맞아요", "맞는 것 같아요",
        "응", "ㅇㅇ", "네", "예", "1", "1번", "O요", "/affirm", "yes",
    ],
    1: [
        "X", "x", "엑스", "❌", "×", "아니", "아니요", "아뇨", "틀려", "틀렸어",
        "ㄴㄴ", "2", "2번", "/deny", "no",
    ],
    None: [
        "", "모르겠어", "맞는지 아닌지 모르겠어", "아니 맞아", "O X", "3", "ㅋㅋ",
        "/start_quiz", "?!",
    ],
}  # fmt: skip


def cases(table: dict) -> list[tuple[str, int | None]]:
    return [(text, expected) for expected, texts in table.items() for text in texts]


@pytest.mark.parametrize("text,expected", cases(CHOICE_ANSWERS))
def test_parse_choice_answers(text, expected):
    assert quiz_answers.parse_answer(CHOICE, text) == expected


@pytest.mark.parametrize("text,expected", cases(OX_ANSWERS))
def test_parse_ox_answers(text, expected):
    assert quiz_answers.parse_answer(OX, text) == expected


ALL_QUESTIONS = [CHOICE, OX, *content.quiz_questions()]


@settings(max_examples=300, deadline=None)
@given(text=st.text(), question=st.sampled_from(ALL_QUESTIONS))
def test_parse_answer_never_raises(text, question):
    result = quiz_answers.parse_answer(question, text)
    assert result is None or 0 <= result < len(question.choices)


ANSWER_LIKE = '0123456789①②③④번째첫두세네하나둘셋넷ㅇㄴoOxX맞아니틀요 /{}":answer,.!?'


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(
        st.text(alphabet=ANSWER_LIKE),
        st.builds(lambda body: "/start_quiz" + body, st.text()),
    ),
    question=st.sampled_from([CHOICE, OX]),
)
def test_parse_answer_never_raises_on_answer_like_text(text, question):
    result = quiz_answers.parse_answer(question, text)
    assert result is None or 0 <= result < len(question.choices)


def test_parse_answer_on_every_bank_question_accepts_its_own_choices():
    for q in content.quiz_questions():
        for index, choice in enumerate(q.choices):
            assert quiz_answers.parse_answer(q, choice) == index, (q.id, choice)
            assert quiz_answers.parse_answer(q, f"{index + 1}번") == index, q.id
