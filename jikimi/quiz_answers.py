"""Reading a student's free-text answer to a quiz question (actions/quiz.py, and
jikimi/reading.py for the context policy): which choice "2번", "두번째", "응",
"ㄴㄴ", "틀려" or the choice's own words mean. The questions themselves come from
content/quiz.yml (`jikimi.content.quiz_questions`); this module holds no wording,
only the words students answer with.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata

from jikimi.content import Question

_SYMBOLS = dict(zip("⭕○◯❌✖✕✗×", "oooxxxxx", strict=True))
_ORDINALS = {
    word: number
    for number, words in enumerate(("첫 한 하나", "두 둘", "세 셋", "네 넷"), start=1)
    for word in words.split()
}
_COUNTING_WORDS = {"하나", "둘", "셋", "넷"}  # stand alone; 첫/두/세/네 need 번째
# O/X: whole answers, then pieces that decide wherever they are ("맞는 것 같아요").
_O_WORDS = "o 오 응 웅 어 ㅇ ㅇㅇ ㅇㅇㅇ 네 넵 넹 예 yes y true ok 오케이 동그라미 그래"
_X_WORDS = "x 엑스 엑스표 가위표 ㄴ ㄴㄴ ㄴㄴㄴ 노 no n false 땡 아뇨"
_O_PARTS = "맞아 맞다 맞음"
_X_PARTS = "틀 아니 아닌"
_FILLER_HEAD = re.compile(r"^(음+|흠+|저는|나는|난|제생각엔|정답은|정답|답은|답)")
_FILLER_TAIL = re.compile(
    r"(이요|요|이에요|예요|에요|입니다|이야|야|임|인듯|인것|인거"
    r"|같아|같아요|같은데|인가|이지|지|죠)$"
)
_NUMBER = re.compile(r"([0-9]{1,2})(번째|번|째)?")
_ORDINAL = re.compile(r"(첫|한|하나|두|둘|세|셋|네|넷)(번째|째|번)?")
# At the end of a longer answer ("모르겠어요 찍을게요 마지막꺼", "음 두번째꺼요").
_LAST_END = re.compile(r"(맨마지막|마지막|맨끝|맨밑|맨아래)(꺼|거|것|번|번째|답)?(요|이요|임)?$")
_ORDINAL_END = re.compile(r"(첫|두|세|네)(번째|째)(꺼|거|것|답)?(요|이요|임)?$")
_NUMBER_END = re.compile(r"([1-9])번(꺼|거|답)?(요|이요|임)?$")


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()  # ① -> 1, Ｏ -> o
    text = "".join(_SYMBOLS.get(ch, ch) for ch in text)
    return "".join(ch for ch in text if ch.isalnum())


@functools.cache
def _ox_vocabulary() -> tuple[frozenset[str], ...]:
    """O/X words as _normalise() leaves them (NFKC turns ㅇ into another jamo)."""
    return tuple(
        frozenset(_normalise(word) for word in words.split())
        for words in (_O_WORDS, _X_WORDS, _O_PARTS, _X_PARTS)
    )


def _ox(core: str, bare: str) -> int | None:
    o_words, x_words, o_parts, x_parts = _ox_vocabulary()
    says_o = bare in o_words or core.startswith("맞") or any(w in core for w in o_parts)
    says_x = bare in x_words or any(w in core for w in x_parts)
    if says_o == says_x:
        return None  # neither, or both ("아니 맞아")
    return 0 if says_o else 1


def _strip_fillers(core: str) -> str:
    for _ in range(3):
        stripped = _FILLER_TAIL.sub("", _FILLER_HEAD.sub("", core))
        if stripped == core or not stripped:
            break
        core = stripped
    return core


def _from_payload(question: Question, text: str) -> int | None:
    """A payload: "/affirm" or "/deny" for O/X, or any intent with {"answer": n}."""
    intent, _, entities = text[1:].partition("{")
    if not entities:
        if question.kind == "ox":
            return {"affirm": 0, "deny": 1}.get(intent.strip())
        return None
    try:
        value = json.loads("{" + entities)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    number = str(value.get("answer", value.get("choice"))).strip()
    if not re.fullmatch(r"[0-9]{1,2}", number):
        return None
    index = int(number) - 1  # 1-based, as the student sees it
    return index if 0 <= index < len(question.choices) else None


def _number(bare: str) -> int | None:
    """1-based number in "2", "2번", "두번째", "셋"; a bare "네" is yes, not 4."""
    match = _NUMBER.fullmatch(bare)
    if match:
        return int(match.group(1))
    match = _ORDINAL.fullmatch(bare)
    if match and (match.group(2) or match.group(1) in _COUNTING_WORDS):
        return _ORDINALS[match.group(1)]
    return None


def parse_answer(question: Question, text: str) -> int | None:
    """The choice a free-text answer means, or None when it cannot tell. Never raises.

    Understands numbers ("2번", "②", "두번째"), O/X words ("응", "ㄴㄴ", "틀려"), the
    choice text itself (spaces and punctuation ignored) and button payloads ("/affirm").
    """
    if not isinstance(text, str):
        return None
    stripped = text.strip()
    if stripped.startswith("/"):
        return _from_payload(question, stripped)
    core = _normalise(stripped)
    if not core:
        return None
    normalised_choices = [_normalise(choice) for choice in question.choices]
    if core in normalised_choices:
        return normalised_choices.index(core)
    bare = _strip_fillers(core)
    if bare in normalised_choices:
        return normalised_choices.index(bare)

    number = _number(bare)
    if number is not None:
        return number - 1 if 1 <= number <= len(question.choices) else None

    # The choice named at the end of a longer answer: "찍을게요 마지막꺼", "음 두번째꺼요";
    # not when two are named ("1번 2번").
    if len(re.findall(r"([0-9]번|번째|마지막|맨끝)", core)) > 1:
        return None
    if _LAST_END.search(core):
        return len(question.choices) - 1
    for pattern, value in ((_ORDINAL_END, lambda m: _ORDINALS[m.group(1)]),
                           (_NUMBER_END, lambda m: int(m.group(1)))):  # fmt: skip
        match = pattern.search(core)
        if match:
            number = value(match)
            return number - 1 if 1 <= number <= len(question.choices) else None

    if question.kind == "ox":
        return _ox(core, bare)

    # Loosely: the answer is part of exactly one choice, or one choice is in the answer.
    if len(bare) >= 3:
        hits = {i for i, choice in enumerate(normalised_choices) if bare in choice}
        if len(hits) == 1:
            return hits.pop()
    hits = {i for i, c in enumerate(normalised_choices) if len(c) >= 2 and c in core}
    if len(hits) == 1:
        return hits.pop()
    return None
