"""Wording rules for everything Jikimi can say (issue 13), checked on what
`make content-review` collects (scripts/content_review.py): every domain response
in bot/domain, every lesson, template, privacy and involved answer for every
role, stance, platform and depth, the quiz, the flow messages, the report form,
SMS texts and the widget's and evidence log's pages.

- no "당신" (Korean leaves the pronoun out), in any text or source file;
- a chat bubble is at most 300 characters (every character counts, a Hangul
  syllable as one) and a reply at most 4 bubbles;
- no speed or certainty promise about deletion ("24시간 안에", "모두 삭제",
  "100%", "반드시 삭제");
- what a student reads: no humble forms aimed at them (여쭤봐요, 드려요), no
  article numbers and no unexplained legal jargon (유기징역, 반포, 시정요구,
  SHA-256): those are behind "근거 보기";
- every fact stated has a source; every hotline or phone number is one
  ../shared/facts-ko.md gives (tests/data/facts-ko.md is its copy, checked here
  while ../shared exists, so these tests never skip).

Each rule is a function returning the problems of one text, and
test_rules_catch_what_they_should shows each one fires on a bad string.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
from pathlib import Path
from typing import List

import pytest
import yaml

from jikimi import content

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SHARED = ROOT.parent / "shared"
FACTS_KO = DATA / "facts-ko.md"

BUBBLE_MAX = 300
BUBBLES_MAX = 4


@functools.cache
def review():
    """scripts/content_review.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "content_review", ROOT / "scripts" / "content_review.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@functools.cache
def entries():
    return tuple(review().collect())


def texts_of(entry) -> List[str]:
    return [*entry.bubbles, *entry.buttons]


# --- the rules ---------------------------------------------------------------------

PRONOUN = re.compile(r"당신")
# About the material: "모두 지울까요?" (Jikimi erasing its own records) is no promise.
PROMISE = re.compile(
    r"24\s*시간\s*(안에|안으로|내에|내로|이내|만에)"
    r"|(모두|전부|다|완전히|영원히|반드시|꼭|확실히|즉시|바로)\s*"
    r"(삭제(돼|되|됩|될|해\s*줘|해\s*드|합니다)|지워져|지워지|지워질|사라져|사라지|사라질|없어져|없어질)"
    r"|100\s*%|백\s*퍼센트"
)
HUMBLE = re.compile(r"여쭤|여쭙|드려요|드릴게요|드릴까요|드렸어요|드립니다")
ARTICLE = re.compile(r"제\s?\d+\s?조|\d{4}도\d+")
JARGON = ("유기징역", "반포", "시정요구")
# A hotline or phone number: 02-735-8994, 1544-9112, 112, 1388, #0117; not a count
# ("104명", "1,202건"), a date or part of a longer number.
PHONE = re.compile(
    r"(?<![\d.,~:/\-])(#?0\d{1,2}-\d{3,4}-\d{4}|1\d{3}-\d{4}|#?01\d{2}|1\d{2,3})"
    r"(?![\d.,~:%\-]|[년월일명건세개분시호차번자초쪽점회위])"
)


def pronoun_problems(text: str) -> List[str]:
    return [f"'당신' in {text[:60]!r}"] if PRONOUN.search(text) else []


def bubble_problems(bubbles: List[str]) -> List[str]:
    problems = [f"{len(b)} characters: {b[:60]!r}" for b in bubbles if len(b) > BUBBLE_MAX]
    if len(bubbles) > BUBBLES_MAX:
        problems.append(f"{len(bubbles)} bubbles from {bubbles[0][:40]!r}")
    return problems


def promise_problems(text: str) -> List[str]:
    return [f"promise {m.group(0)!r} in {text[:60]!r}" for m in PROMISE.finditer(text)]


def student_problems(text: str, own_words: bool = False) -> List[str]:
    """What a student must not read: humble forms aimed at them, articles, jargon.
    In the student's own words (a request they copy and send) humble forms are right."""
    humble = [] if own_words else HUMBLE.findall(text)
    problems = [f"{word!r} in {text[:60]!r}" for word in humble]
    problems += [f"article {m.group(0)!r} in {text[:60]!r}" for m in ARTICLE.finditer(text)]
    problems += [f"{word!r} in {text[:60]!r}" for word in JARGON if word in text]
    if "SHA-256" in text and "지문" not in text:  # explained in a few words, or not at all
        problems.append(f"unexplained SHA-256 in {text[:60]!r}")
    return problems


@functools.cache
def _facts_ko() -> str:
    return FACTS_KO.read_text("utf-8")


def number_problems(text: str) -> List[str]:
    return [
        f"{number!r} is not in facts-ko.md: {text[:60]!r}"
        for number in (m.group(1).lstrip("#") for m in PHONE.finditer(text))
        if number not in _facts_ko()
    ]


# --- the rules fire ----------------------------------------------------------------


def test_rules_catch_what_they_should():
    assert pronoun_problems("이건 당신 잘못이 아니에요.")
    assert not pronoun_problems("이건 잘못이 아니에요.")
    assert bubble_problems(["가" * 301]) and not bubble_problems(["가" * 300])
    assert bubble_problems(["짧아요."] * 5) and not bubble_problems(["짧아요."] * 4)
    for bad in (
        "24시간 안에 지워져요", "24 시간 내에 처리돼요", "합성물이 모두 삭제돼요",
        "100% 삭제", "반드시 삭제돼요", "텔레그램은 요청한 영상을 100% 지웠어요",
        "신고하면 완전히 사라져요", "모두 삭제해 드려요",
    ):  # fmt: skip
        assert promise_problems(bad), bad
    for good in (
        "24시간 동안 열려요", "365일 24시간 상담해요", "처리가 늦어질 수 있어요",
        "기록을 모두 지울까요?", "네, 모두 지워 주세요",
    ):  # fmt: skip
        assert not promise_problems(good), good
    for bad in (
        "나이를 여쭤봐요", "안내해 드려요", "성폭력처벌법 제14조의2에 따라", "2024도17801 판결",
        "3년 이상의 유기징역", "반포하면", "시정요구를 해요", "SHA-256 값만 저장해요",
    ):  # fmt: skip
        assert student_problems(bad), bad
    assert not student_problems("'지문'(SHA-256 값)만 저장했어요")
    assert not student_problems("삭제를 부탁드립니다.", own_words=True)
    assert student_problems("제14조의2에 따라 부탁드립니다.", own_words=True)
    for bad in ("1234로 전화하세요", "02-123-4567", "1577-1234", "#0118"):
        assert number_problems(bad), bad
    for good in (
        "112나 117에", "1388(24시간)", "02-735-8994", "1544-9112", "104명", "1,202건",
        "2024.10.16.", "1000자까지", "100%",
    ):  # fmt: skip
        assert not number_problems(good), good


# --- the copies of ../shared -------------------------------------------------------


@pytest.mark.parametrize("name", ["facts-ko.md", "nlu-contract.md"])
def test_the_copies_match_shared(name):
    shared = SHARED / name
    if not shared.exists():
        pytest.skip(f"no ../shared/{name} here; the copy in tests/data is used")
    assert (DATA / name).read_text("utf-8") == shared.read_text("utf-8"), (
        f"tests/data/{name} is out of date: cp ../shared/{name} tests/data/"
    )


# --- everything Jikimi says ----------------------------------------------------------


def test_the_review_covers_every_flow_and_source():
    flows = {e.flow for e in entries()}
    assert flows == set(review().FLOWS)
    wheres = " ".join(e.where for e in entries())
    for path in sorted((ROOT / "bot" / "domain").glob("*.yml")):
        responses = (yaml.safe_load(path.read_text("utf-8")) or {}).get("responses") or {}
        for name in responses:
            assert name in wheres, name
    for name in content.read_yaml("messages.yml"):
        assert f"{name} — content/messages.yml" in wheres, name
    for topic in content.lesson_topics():
        assert f"({topic})" in wheres, topic


def test_no_dangsin_anywhere():
    problems = [p for e in entries() for t in texts_of(e) for p in pronoun_problems(t)]
    # And in the source files themselves: every string value of the YAML (comments
    # may name the rule) and the widget's templates.
    files = [
        *(ROOT / "bot" / "domain").glob("*.yml"),
        *(ROOT / "content").rglob("*.yml"),
    ]
    for path in files:
        problems += [
            f"{path.name}: {p}"
            for value in _strings(yaml.safe_load(path.read_text("utf-8")))
            for p in pronoun_problems(value)
        ]
    for path in [*(ROOT / "content").rglob("*.j2"), *(ROOT / "content").glob("*.html"),
                 *(ROOT / "jikimi" / "desk" / "templates").iterdir()]:  # fmt: skip
        text = re.sub(r"\{#.*?#\}", "", path.read_text("utf-8"), flags=re.S)
        problems += [f"{path.name}: {p}" for p in pronoun_problems(text)]
    assert problems == []


def _strings(value) -> List[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_every_chat_bubble_fits_a_phone():
    problems = [
        f"{e.where}: {p}" for e in entries() if e.kind == "chat" for p in bubble_problems(e.bubbles)
    ]
    assert problems == []


def test_no_speed_or_certainty_promises():
    problems = [f"{e.where}: {p}" for e in entries() for t in texts_of(e)
                for p in promise_problems(t)]  # fmt: skip
    assert problems == []


def test_what_a_student_reads_is_plain_and_not_humble():
    sources = review().SOURCES  # "근거 보기" shows the articles on purpose
    problems = [
        f"{e.where}: {p}"
        for e in entries()
        if e.kind == "chat" and e.student and e.flow != sources
        for t in texts_of(e)
        for p in student_problems(t, own_words=e.own_words)
    ]
    assert problems == []


def test_every_hotline_and_phone_number_is_in_facts_ko():
    problems = [f"{e.where}: {p}" for e in entries() for t in texts_of(e)
                for p in number_problems(t)]  # fmt: skip
    assert problems == []


def test_every_fact_stated_has_a_source():
    facts = content.all_facts()
    words = " ".join(_facts_ko().replace("**", "").split())
    for fact_id in {f for e in entries() for f in e.facts}:
        source = facts[fact_id]["source"]
        assert source.get("title") and str(source.get("section", "")).startswith("facts-ko.md §"), (
            fact_id
        )
        refs = [" ".join(r.split()) for r in source.get("refs") or []]
        assert source.get("urls") or source.get("law") or refs, fact_id
        assert all(url in _facts_ko() for url in source.get("urls") or []), fact_id
        assert all(ref in words for ref in refs), fact_id
    # Replies that state facts offer their sources.
    for e in entries():
        if e.facts and e.flow in (review().LESSONS, review().PRIVACY, review().INVOLVED):
            assert content.SOURCES_TITLE in e.buttons, e.where


def test_the_one_involved_never_hears_it_is_not_their_fault():
    for e in entries():
        if e.flow == review().INVOLVED or "involved" in e.where or "연루" in e.where:
            for text in e.bubbles:
                assert "잘못이 아니" not in text, e.where


def test_content_review_writes_one_markdown_file(tmp_path, capsys):
    out = tmp_path / "review.md"
    assert review().main(["--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    text = out.read_text("utf-8")
    assert text.startswith("# 지킴이가 하는 모든 말")
    for flow in review().FLOWS:
        assert f"## {flow}" in text, flow
    assert "## 부록: 사실과 출처" in text and "https://www.law.go.kr/" in text
    assert "`law.make`: 성폭력처벌법 제14조의2제1항 — " in text
