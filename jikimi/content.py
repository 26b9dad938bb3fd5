"""Everything a user reads, loaded from content/ and rendered with jinja2.

Wording lives in data files so it can change without touching the actions, and every
number, article and date lives in exactly one place (facts.yml, resources.yml). Text
reaches those through the template helpers `fact()` and `hotline()`, which raise on an
unknown id, so a typo fails a test instead of showing a blank to a student.

Files are read on first use and cached for the life of the process; importing this
module does no work.

Layout of content/:
    facts.yml            statements with source and confidence (see its header)
    resources.yml        hotlines and services; each is also the fact `hotline.<id>`
    lessons/<topic>.yml  one file per intent: role -> levels -> turns (see below)
    quiz.yml             the quiz bank
    *.j2, partials/*.j2  templates for `render()` and for `{% include %}` in lessons

A lesson file maps a role (student, teacher, parent) to a list of levels; level 0 is the
first answer and each further level is one "더 알려줘". A level has `turns` (chat
messages, jinja2 text) and `buttons` (title: payload) shown under its last turn. A role
without its own version gets the student one.

Lesson and quiz text is tidied after rendering: a single line break in the source is
for the editor and becomes a space; a blank line starts a new paragraph; a line that
starts with "•" or "1." / "1)" stays a line of its own.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"

ROLES = ("student", "teacher", "parent")
# "더 알려줘" is an affirmation of the lesson just given: the bot's rules map
# affirm right after a lesson to its next level (intents are a fixed contract).
MORE_PAYLOAD = "/affirm"
_MORE_POLITE = "더 알려 주세요"
MORE_TITLE = {"student": "더 알려줘", "teacher": _MORE_POLITE, "parent": _MORE_POLITE}


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True)
class Question:
    id: str
    kind: str  # "ox" or "choice"
    prompt: str
    choices: tuple[str, ...]  # ("O", "X") for an ox question
    answer: int  # index into choices
    explanation: str
    facts: tuple[str, ...]


# --- data ----------------------------------------------------------------------


@functools.cache
def _read_yaml(relative: str) -> Any:
    """A content file, parsed once per process (callers copy before changing it)."""
    with open(CONTENT_DIR / relative, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@functools.cache
def _resources() -> dict[str, dict]:
    entries = _read_yaml("resources.yml")
    table = {str(entry["id"]): entry for entry in entries}
    if len(table) != len(entries):
        raise ValueError("resources.yml has a duplicate id")
    return table


@functools.cache
def _facts() -> dict[str, dict]:
    """facts.yml plus `hotline.<id>` per resource: quiz and lessons cite both alike."""
    facts = dict(_read_yaml("facts.yml"))
    for rid, entry in _resources().items():
        facts[f"hotline.{rid}"] = {
            "text": entry["short"],
            "source": entry["source"],
            "confidence": entry["confidence"],
        }
    return facts


def fact(fact_id: str, field: str = "text") -> str:
    """The Korean wording of a fact (or one named field of it, e.g. 'penalty')."""
    try:
        entry = _facts()[fact_id]
    except KeyError:
        raise KeyError(f"unknown fact id {fact_id!r} (content/facts.yml)") from None
    value = entry.get(field)
    if field in ("source", "confidence") or not isinstance(value, str):
        raise KeyError(f"fact {fact_id!r} has no text field {field!r}")
    return value


def hotline(resource_id: str, field: str = "short") -> str:
    """How a sentence names a service: "청소년상담 1388(24시간, 전화·문자 1388)"."""
    try:
        entry = _resources()[resource_id]
    except KeyError:
        raise KeyError(f"unknown resource id {resource_id!r} (resources.yml)") from None
    value = entry.get(field)
    if not isinstance(value, str):
        raise KeyError(f"resource {resource_id!r} has no text field {field!r}")
    return value


def resources(ids: list[str] | None = None) -> list[dict]:
    """Services in the order asked (all of them when ids is None), as copies."""
    table = _resources()
    if ids is None:
        ids = list(table)
    missing = [rid for rid in ids if rid not in table]
    if missing:
        raise KeyError(f"unknown resource ids {missing} (content/resources.yml)")
    return [copy.deepcopy(table[rid]) for rid in ids]


def topics() -> dict[str, str]:
    """intent -> a short Korean label for it, for "did you mean" buttons."""
    return dict(_read_yaml("topics.yml"))


# --- rendering -----------------------------------------------------------------


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(CONTENT_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # chat text, never HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.globals.update(fact=fact, hotline=hotline, resources=resources)
    return env


def render(template: str, **context: Any) -> str:
    """A template under content/, e.g. render("resources_list.j2", ids=["1388"])."""
    return _env().get_template(template).render(**context).strip()


_OWN_LINE = re.compile(r"(•|\d+[.)]\s)")


def _tidy(text: str) -> str:
    lines: list[str] = []
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line:
            if lines and lines[-1]:
                lines.append("")
        elif lines and lines[-1] and not _OWN_LINE.match(line):
            lines[-1] += " " + line
        else:
            lines.append(line)
    return "\n".join(lines).strip()


def _text(source: str) -> str:
    return _tidy(_env().from_string(source).render())


def message(name: str, **context: Any) -> Reply:
    """A short flow message from messages.yml (quiz, lesson end, clarify)."""
    entry = _read_yaml("messages.yml")[name]
    return Reply(
        _tidy(_env().from_string(entry["text"]).render(**context)),
        tuple(Button(title, to) for title, to in (entry.get("buttons") or {}).items()),
    )


# --- lessons -------------------------------------------------------------------


@functools.cache
def lesson_topics() -> tuple[str, ...]:
    """Intents that have a lesson (one file each under content/lessons/)."""
    return tuple(sorted(p.stem for p in (CONTENT_DIR / "lessons").glob("*.yml")))


@functools.cache
def _lesson_file(topic: str) -> dict:
    if topic not in lesson_topics():
        raise KeyError(f"no lesson for {topic!r}")
    return _read_yaml(f"lessons/{topic}.yml")


def _levels(topic: str, role: str) -> list[dict]:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")
    data = _lesson_file(topic)
    return data.get(role) or data["student"]


def lesson_depths(topic: str, role: str = "student") -> int:
    """How many levels the lesson has: depth 0 .. lesson_depths() - 1."""
    return len(_levels(topic, role))


@functools.cache
def _lesson(topic: str, role: str, depth: int) -> tuple[Reply, ...]:
    levels = _levels(topic, role)
    if not 0 <= depth < len(levels):
        raise IndexError(f"{topic} has {len(levels)} levels for {role}, not {depth}")
    level = levels[depth]
    texts = [_text(turn) for turn in level["turns"]]
    buttons = [Button(_text(title), to) for title, to in level["buttons"].items()]
    if depth + 1 < len(levels):
        buttons.insert(0, Button(MORE_TITLE[role], MORE_PAYLOAD))
    replies = [Reply(text) for text in texts[:-1]]
    replies.append(Reply(texts[-1], tuple(buttons)))
    return tuple(replies)


def lesson(topic: str, role: str = "student", depth: int = 0) -> list[Reply]:
    """The chat turns of one lesson level; the last one carries the what-next buttons.

    Raises KeyError for a topic without a lesson, ValueError for an unknown role and
    IndexError for a depth past the last level (check lesson_depths()).
    """
    return list(_lesson(topic, role, depth))


# --- quiz ----------------------------------------------------------------------


@functools.cache
def _quiz() -> tuple[Question, ...]:
    questions = []
    for item in _read_yaml("quiz.yml"):
        kind = item["kind"]
        if kind == "ox":
            choices = ("O", "X")
            answer = choices.index(item["answer"])
        elif kind == "choice":
            choices = tuple(_text(choice) for choice in item["choices"])
            # In the file the answer is 1-based, as the student sees it (①, "1번").
            answer = int(item["answer"]) - 1
            if not 0 <= answer < len(choices):
                raise ValueError(f"quiz {item['id']}: answer out of range")
        else:
            raise ValueError(f"quiz {item['id']}: unknown kind {kind!r}")
        for fact_id in item["facts"]:
            fact(fact_id)  # an unknown id fails here, loudly
        questions.append(
            Question(
                id=item["id"],
                kind=kind,
                prompt=_text(item["prompt"]),
                choices=choices,
                answer=answer,
                explanation=_text(item["explanation"]),
                facts=tuple(item["facts"]),
            )
        )
    if len({q.id for q in questions}) != len(questions):
        raise ValueError("quiz.yml has a duplicate id")
    return tuple(questions)


def quiz_questions() -> list[Question]:
    return list(_quiz())


# --- free-text answers --------------------------------------------------------

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
