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
    privacy.yml          answers to privacy questions: topic -> role -> {turns, buttons}
    involved.yml         answers for the one who made or shared: topic -> role -> ...
    quiz.yml             the quiz bank
    messages.yml         short flow messages (messages(), message())
    *.j2, partials/*.j2  templates for `bubbles()` and for `{% include %}` in lessons;
                         evidence and takedown take `role` and `stance`

A lesson file maps a role (student, teacher, parent) to a list of levels; level 0 is the
first answer and each further level is one "더 알려줘". A level has `turns` (chat
messages, jinja2 text) and `buttons` (title: payload) shown under its last turn. A role
without its own version gets the student one.

Lesson and quiz text is tidied after rendering: a single line break in the source is
for the editor and becomes a space; a blank line starts a new paragraph; a line that
starts with "•" or "1." / "1)" stays a line of its own.

Everything a student reads arrives as chat bubbles of at most BUBBLE_MAX characters
(a phone screen): a lesson turn is one bubble, and in templates and messages a line
holding only `---` starts the next bubble (`bubbles()`, `messages()`).

Every fact() and hotline() a reply uses is recorded on the Reply (`Reply.facts`), so
the reply can carry a "근거 보기" button (`sources_button`) whose payload names those
facts, and `source_notes()` can show their sources (law articles, source titles)
without putting article numbers in a student's text.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import importlib.resources
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jinja2
import yaml

CONTENT_PACKAGE = "jikimi_content"

ROLES = ("student", "teacher", "parent")
# "더 알려줘" is an affirmation of the lesson just given: the bot's rules map
# affirm right after a lesson to its next level (intents are a fixed contract).
MORE_PAYLOAD = "/affirm"
_MORE_POLITE = "더 알려 주세요"
MORE_TITLE = {"student": "더 알려줘", "teacher": _MORE_POLITE, "parent": _MORE_POLITE}
STANCES = ("victim", "bystander", "involved")

# A chat bubble on a phone: at most this many characters (every character counts,
# a Hangul syllable as one), and at most BUBBLES_MAX bubbles in one reply.
BUBBLE_MAX = 300
BUBBLES_MAX = 4
_BUBBLE_BREAK = re.compile(r"^[ \t]*---[ \t]*$", re.M)

# "근거 보기": a payload-only intent (bot/domain/sources.yml) whose entity lists the
# fact ids of the reply it sits under; actions/sources.py shows their sources.
SOURCES_TITLE = "근거 보기"
SOURCES_INTENT = "show_sources"
SOURCES_ENTITY = "source_ids"


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()
    # Ids of the facts (facts.yml, `hotline.<id>`) this bubble states.
    facts: tuple[str, ...] = ()


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
def content_dir() -> Path:
    """content/: the package `jikimi_content` (the folder in a checkout or an
    editable install, package data in any other install). Every module finds
    content/ through this."""
    return Path(str(importlib.resources.files(CONTENT_PACKAGE)))


@functools.cache
def read_yaml(relative: str) -> Any:
    """A content file, parsed once per process (callers copy before changing it)."""
    with open(content_dir() / relative, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@functools.cache
def _resources() -> dict[str, dict]:
    entries = read_yaml("resources.yml")
    table = {str(entry["id"]): entry for entry in entries}
    if len(table) != len(entries):
        raise ValueError("resources.yml has a duplicate id")
    return table


@functools.cache
def all_facts() -> dict[str, dict]:
    """facts.yml plus `hotline.<id>` per resource: quiz and lessons cite both alike."""
    facts = dict(read_yaml("facts.yml"))
    for rid, entry in _resources().items():
        facts[f"hotline.{rid}"] = {
            "text": entry["short"],
            "source": entry["source"],
            "confidence": entry["confidence"],
        }
    return facts


# The facts used while one piece of content renders (see _recording).
_USED: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "jikimi_content_used", default=None
)


def _note(fact_id: str) -> None:
    used = _USED.get()
    if used is not None and fact_id not in used:
        used.append(fact_id)


@contextlib.contextmanager
def _recording() -> Iterator[list[str]]:
    """Collects the ids of the facts fact()/hotline()/resources() give inside it."""
    token = _USED.set([])
    try:
        yield _USED.get()  # type: ignore[misc]
    finally:
        _USED.reset(token)


def fact(fact_id: str, field: str = "text") -> str:
    """The Korean wording of a fact (or one named field of it, e.g. 'penalty')."""
    try:
        entry = all_facts()[fact_id]
    except KeyError:
        raise KeyError(f"unknown fact id {fact_id!r} (content/facts.yml)") from None
    value = entry.get(field)
    if field in ("source", "confidence") or not isinstance(value, str):
        raise KeyError(f"fact {fact_id!r} has no text field {field!r}")
    _note(fact_id)
    return value


def cited(fact_id: str) -> str:
    """A fact's text with its article before the last full stop, for teachers and
    parents: "...신고해야 해요(아청법 제34조②)." (students get "근거 보기" instead)."""
    text = fact(fact_id)
    article = all_facts()[fact_id].get("article")
    if not article:
        return text
    if text.endswith("."):
        return f"{text[:-1]}({article})."
    return f"{text}({article})"


def hotline(resource_id: str, field: str = "short") -> str:
    """How a sentence names a service: "청소년상담 1388(24시간, 전화·문자 1388)"."""
    try:
        entry = _resources()[resource_id]
    except KeyError:
        raise KeyError(f"unknown resource id {resource_id!r} (resources.yml)") from None
    value = entry.get(field)
    if not isinstance(value, str):
        raise KeyError(f"resource {resource_id!r} has no text field {field!r}")
    _note(f"hotline.{resource_id}")
    return value


def resources(ids: list[str] | None = None) -> list[dict]:
    """Services in the order asked (all of them when ids is None), as copies."""
    table = _resources()
    if ids is None:
        ids = list(table)
    missing = [rid for rid in ids if rid not in table]
    if missing:
        raise KeyError(f"unknown resource ids {missing} (content/resources.yml)")
    for rid in ids:
        _note(f"hotline.{rid}")
    return [copy.deepcopy(table[rid]) for rid in ids]


def labels(group: str) -> dict[str, str]:
    """A group of content/labels.yml as it is written (name -> text)."""
    return dict(read_yaml("labels.yml")[group])


def label(group: str, name: str, /, **context: Any) -> str:
    """One short text of content/labels.yml (a button title, a note for the
    counsellor, a line of the evidence log), rendered with `context`."""
    source = read_yaml("labels.yml")[group][name]
    return environment("chat").from_string(source).render(**context)


def topics() -> dict[str, str]:
    """intent -> a short Korean label for it, for "did you mean" buttons."""
    return dict(read_yaml("topics.yml"))


# --- rendering -----------------------------------------------------------------


# Where the web widget's page and embed script live (the desk serves them).
WIDGET_TEMPLATES_DIR = Path(__file__).resolve().parent / "desk" / "templates"
KST = timezone(timedelta(hours=9))


def kst(moment: datetime | None) -> str:
    """`2025년 3월 1일 21:05` in Korean time ("" for None)."""
    if moment is None:
        return ""
    try:
        local = moment.astimezone(KST)
    except (OverflowError, ValueError):  # a time at the edge of the calendar
        return moment.isoformat()
    return f"{local.year}년 {local.month}월 {local.day}일 {local.hour:02d}:{local.minute:02d}"


ENVIRONMENT_KINDS = ("chat", "sms", "html", "widget")


@functools.cache
def environment(kind: str) -> jinja2.Environment:
    """The one jinja2 environment of each kind of text a person reads:

    - "chat": templates under content/ and strings of its data files, as chat
      bubbles: plain text, never HTML; blocks trimmed; `fact`, `cited`,
      `hotline`, `resources` available;
    - "sms": the strings of content/sms.yml and content/kakao.yml: plain text,
      as written;
    - "html": HTML pages under content/ (the evidence log): every value
      escaped; `fact`, `hotline`, `resources` and the `kst` filter available;
    - "widget": the widget's page and embed script (jikimi/desk/templates):
      `.html` escaped, the script not.
    Every kind fails on an undefined name rather than print a blank.
    """
    strict = jinja2.StrictUndefined
    if kind == "chat":
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(content_dir())),
            undefined=strict,
            autoescape=False,  # chat text, never HTML
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        env.globals.update(fact=fact, cited=cited, hotline=hotline, resources=resources)
    elif kind == "sms":
        env = jinja2.Environment(undefined=strict, autoescape=False)
    elif kind == "html":
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(content_dir())),
            autoescape=True,  # HTML: every case value is escaped
            undefined=strict,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.globals.update(fact=fact, hotline=hotline, resources=resources)
        env.filters["kst"] = kst
    elif kind == "widget":
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(WIDGET_TEMPLATES_DIR)),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=strict,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    else:
        raise ValueError(f"No jinja2 environment of kind {kind!r} (one of {ENVIRONMENT_KINDS}).")
    return env


def render(template: str, **context: Any) -> str:
    """A template under content/ as one text, e.g. render("resources_list.j2", ids=["1388"]).

    Bubble breaks (`---` lines) stay in; a reply for a student goes through bubbles().
    """
    return environment("chat").get_template(template).render(**context).strip()


_OWN_LINE = re.compile(r"(•|\d+[.)]\s)")


def tidy(text: str) -> str:
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


def render_text(source: str, **context: Any) -> str:
    """A jinja2 string from a content data file, rendered and tidied like lessons."""
    return tidy(environment("chat").from_string(source).render(**context))


def _text(source: str) -> str:
    return tidy(environment("chat").from_string(source).render())


def _split(text: str) -> list[str]:
    """Bubbles of a rendered text: a line holding only `---` starts the next one."""
    return [part.strip() for part in _BUBBLE_BREAK.split(text) if part.strip()]


def _wordings(fact_id: str) -> list[str]:
    """Every text a template can take from a fact (its text and named fields)."""
    if fact_id.startswith("hotline."):
        # Not its number or hours alone: "112" or "24시간" appear in many bubbles.
        resource = _resources()[fact_id.removeprefix("hotline.")]
        entry: dict = {k: resource.get(k) for k in ("short", "name", "does", "cannot")}
    else:
        entry = all_facts()[fact_id]
    skip = ("source", "confidence", "id")
    values = [" ".join(v.split()) for k, v in entry.items() if k not in skip and isinstance(v, str)]
    # cited() puts the article before a fact's last full stop.
    return [v.removesuffix(".") for v in values if v.strip()]


def _attribute(texts: list[str], used: list[str]) -> list[tuple[str, ...]]:
    """Which bubble states which fact: the first whose text holds one of its wordings;
    a fact that cannot be placed (a helper that reworded it) goes to the last bubble."""
    per: list[list[str]] = [[] for _ in texts]
    flat = [" ".join(t.split()) for t in texts]
    for fact_id in used:
        wordings = _wordings(fact_id)
        index = next(
            (i for i, t in enumerate(flat) if any(w in t for w in wordings)), len(texts) - 1
        )
        per[index].append(fact_id)
    return [tuple(p) for p in per]


def _replies(
    texts: list[str], used: Sequence[str], buttons: Sequence[Button] = (), sources: bool = False
) -> list[Reply]:
    """Bubbles as Replies: facts on the bubble that states them, buttons under the last
    (with "근거 보기" for the facts of the whole reply when `sources`)."""
    if not texts:
        raise ValueError("content rendered to nothing")
    facts = _attribute(texts, list(used))
    last_buttons = list(buttons)
    if sources:
        button = sources_button(used)
        if button is not None:
            last_buttons.append(button)
    replies = [Reply(text, (), f) for text, f in zip(texts[:-1], facts[:-1], strict=True)]
    replies.append(Reply(texts[-1], tuple(last_buttons), facts[-1]))
    return replies


def bubbles(
    template: str, buttons: Sequence[Button] = (), *, sources: bool = True, **context: Any
) -> list[Reply]:
    """A template as chat bubbles (`---` lines split them), `buttons` under the last one.

    With `sources`, a "근거 보기" button naming the facts the template used is added.
    """
    with _recording() as used:
        text = render(template, **context)
    return _replies(_split(text), used, buttons, sources)


def messages(name: str, **context: Any) -> list[Reply]:
    """A flow message from messages.yml as bubbles: `text` is one jinja2 text (a `---`
    line between bubbles, in a `|` block) or a list of them, one per bubble."""
    entry = read_yaml("messages.yml")[name]
    sources = entry["text"] if isinstance(entry["text"], list) else [entry["text"]]
    with _recording() as used:
        raw = [environment("chat").from_string(source).render(**context) for source in sources]
    texts = [tidy(part) for text in raw for part in _split(text)]
    buttons = tuple(Button(title, to) for title, to in (entry.get("buttons") or {}).items())
    return _replies(texts, used, buttons)


def message(name: str, **context: Any) -> Reply:
    """A short flow message from messages.yml as one Reply (quiz, lesson end, clarify).

    A message of several bubbles comes back joined by a blank line: send messages()
    instead, so each bubble stays short on a phone.
    """
    replies = messages(name, **context)
    return Reply(
        "\n\n".join(r.text for r in replies),
        replies[-1].buttons,
        tuple(f for r in replies for f in r.facts),
    )


def facts_of(replies: Iterable[Reply]) -> list[str]:
    """The fact ids a reply's bubbles state, in order, once each."""
    return list(dict.fromkeys(f for reply in replies for f in reply.facts))


# --- sources ("근거 보기") -------------------------------------------------------


def sources_button(fact_ids: Iterable[str]) -> Button | None:
    """The "근거 보기" button for these facts (None when there are none)."""
    known = all_facts()
    ids = [f for f in dict.fromkeys(fact_ids) if f in known]
    if not ids:
        return None
    entities = json.dumps({SOURCES_ENTITY: " ".join(ids)}, separators=(",", ":"))
    return Button(SOURCES_TITLE, f"/{SOURCES_INTENT}{entities}")


def fact_source(fact_id: str) -> dict:
    """A fact's source (title, section, law, urls, refs) and confidence, as a copy."""
    try:
        entry = all_facts()[fact_id]
    except KeyError:
        raise KeyError(f"unknown fact id {fact_id!r} (content/facts.yml)") from None
    source = copy.deepcopy(entry["source"])
    source["confidence"] = entry["confidence"]
    if "article" in entry:
        source["article"] = entry["article"]
    return source


def _pack(lines: list[str], head: str, tail: str) -> list[str]:
    """Lines into bubbles of at most BUBBLE_MAX characters, head first, tail last."""
    out: list[str] = []
    current = head
    for line in [*lines, tail]:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= BUBBLE_MAX:
            current = candidate
        else:
            out.append(current)
            current = line
    out.append(current)
    return out


def _articles(articles: list[str]) -> str:
    """ "성폭력처벌법 제14조의2제1항·제14조의2제4항": one law named once."""
    by_law: dict[str, list[str]] = {}
    for article in articles:
        law, _, rest = article.partition(" ")
        by_law.setdefault(law, []).append(rest)
    return ", ".join(
        law + (" " + "·".join(r for r in rests if r) if any(rests) else "")
        for law, rests in by_law.items()
    )


def source_notes(fact_ids: Iterable[str]) -> list[Reply]:
    """What "근거 보기" shows: per source, the law articles it backs and its title.

    Unknown ids are left out (a button from an older version of the content); with
    nothing left, a short message says so.
    """
    known = all_facts()
    ids = [f for f in dict.fromkeys(fact_ids) if f in known]
    if not ids:
        return messages("sources_none")
    groups: dict[str, list[str]] = {}
    cautious: set[str] = set()
    for fact_id in ids:
        entry = known[fact_id]
        title = entry["source"]["title"]
        articles = groups.setdefault(title, [])
        article = entry.get("article")
        if article and article not in articles:
            articles.append(article)
        if entry["confidence"] == "partly":
            cautious.add(title)
    lines = [
        "• "
        + (_articles(articles) + " — " if articles else "")
        + title
        + (" ※" if title in cautious else "")
        for title, articles in groups.items()
    ]
    head = messages("sources_intro")[0].text
    tail = messages("sources_outro", cautious=bool(cautious))[0].text
    texts = _pack(lines, head, tail)
    if len(texts) > BUBBLES_MAX:
        raise ValueError(f"sources of {ids} need {len(texts)} bubbles")
    return [Reply(text) for text in texts]


# --- lessons -------------------------------------------------------------------


@functools.cache
def lesson_topics() -> tuple[str, ...]:
    """Intents that have a lesson (one file each under content/lessons/)."""
    return tuple(sorted(p.stem for p in (content_dir() / "lessons").glob("*.yml")))


@functools.cache
def _lesson_file(topic: str) -> dict:
    if topic not in lesson_topics():
        raise KeyError(f"no lesson for {topic!r}")
    return read_yaml(f"lessons/{topic}.yml")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {ROLES}")


def _levels(topic: str, role: str) -> list[dict]:
    _check_role(role)
    data = _lesson_file(topic)
    return data.get(role) or data["student"]


def lesson_depths(topic: str, role: str = "student") -> int:
    """How many levels the lesson has: depth 0 .. lesson_depths() - 1."""
    return len(_levels(topic, role))


def _turns(entry: dict, more: Button | None = None) -> tuple[Reply, ...]:
    """A level or topic ({turns, buttons}) as bubbles with "근거 보기" under the last."""
    with _recording() as used:
        rendered = [environment("chat").from_string(turn).render() for turn in entry["turns"]]
    # A turn is a bubble; an included partial may split it further (a `---` line).
    texts = [tidy(part) for text in rendered for part in _split(text)]
    buttons = [Button(_text(title), to) for title, to in (entry.get("buttons") or {}).items()]
    if more is not None:
        buttons.insert(0, more)
    return tuple(_replies(texts, used, buttons, sources=True))


@functools.cache
def _lesson(topic: str, role: str, depth: int) -> tuple[Reply, ...]:
    levels = _levels(topic, role)
    if not 0 <= depth < len(levels):
        raise IndexError(f"{topic} has {len(levels)} levels for {role}, not {depth}")
    more = Button(MORE_TITLE[role], MORE_PAYLOAD) if depth + 1 < len(levels) else None
    return _turns(levels[depth], more)


def lesson(topic: str, role: str = "student", depth: int = 0) -> list[Reply]:
    """The chat turns of one lesson level; the last one carries the what-next buttons.

    Raises KeyError for a topic without a lesson, ValueError for an unknown role and
    IndexError for a depth past the last level (check lesson_depths()).
    """
    return list(_lesson(topic, role, depth))


# --- answers by topic: privacy, the one who made or shared ---------------------
# content/privacy.yml and content/involved.yml map a topic to a role to
# {turns, buttons}, like one lesson level; a role without its own version gets
# the student one.


@functools.cache
def _topic(file: str, topic: str, role: str) -> tuple[Reply, ...]:
    _check_role(role)
    data = read_yaml(file)
    if topic not in data:
        raise KeyError(f"no topic {topic!r} in content/{file}")
    return _turns(data[topic].get(role) or data[topic]["student"])


def privacy_topics() -> tuple[str, ...]:
    return tuple(read_yaml("privacy.yml"))


def privacy(topic: str, role: str = "student") -> list[Reply]:
    """The answer to a privacy question (topics: privacy_topics()), for the role.

    Raises KeyError for an unknown topic and ValueError for an unknown role.
    """
    return list(_topic("privacy.yml", topic, role))


def involved_topics() -> tuple[str, ...]:
    return tuple(read_yaml("involved.yml"))


def involved(topic: str, role: str = "student") -> list[Reply]:
    """The answer for the one who made, shared, bought or watched (or a teacher or
    parent about them), by topic (involved_topics()). Errors as privacy()."""
    return list(_topic("involved.yml", topic, role))


# --- quiz ----------------------------------------------------------------------


@functools.cache
def _quiz() -> tuple[Question, ...]:
    questions = []
    for item in read_yaml("quiz.yml"):
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
        with _recording() as used:
            prompt, explanation = _text(item["prompt"]), _text(item["explanation"])
        questions.append(
            Question(
                id=item["id"],
                kind=kind,
                prompt=prompt,
                choices=choices,
                answer=answer,
                explanation=explanation,
                facts=tuple(dict.fromkeys([*item["facts"], *used])),
            )
        )
    if len({q.id for q in questions}) != len(questions):
        raise ValueError("quiz.yml has a duplicate id")
    return tuple(questions)


def quiz_questions() -> list[Question]:
    return list(_quiz())


def quiz_feedback(question: Question, given: int | None) -> list[Reply]:
    """What the student reads after answering: bubbles of quiz_feedback.j2, and a
    "근거 보기" button for the facts the question relies on."""
    replies = bubbles("quiz_feedback.j2", question=question, given=given, sources=False)
    button = sources_button(question.facts)
    last = replies[-1]
    replies[-1] = Reply(
        last.text,
        last.buttons + ((button,) if button else ()),
        tuple(dict.fromkeys([*last.facts, *question.facts])),
    )
    return replies
