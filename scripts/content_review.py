"""`make content-review`: every sentence Jikimi can say, in one Markdown file.

A school counsellor, a teacher or the school's review committee reads the whole
script in one sitting (README "Reviewing what Jikimi says"): domain responses
(every file in bot/domain), lessons for every role and depth, the evidence and
takedown advice for every role, stance and platform, the privacy answers and
those for the one involved, the quiz with its explanations, the report form's
questions, the flow messages, the SMS texts and the widget's and evidence log's
pages, grouped by flow. Beside each chat reply stand the facts it states with
their source; the appendix lists every fact with its full source.

    .venv/bin/python scripts/content_review.py [--out content-review.md]

`collect()` is also what tests/unit/test_wording.py checks, so the script a
school signs off and the one the tests hold to are the same.
"""

from __future__ import annotations

import argparse
import html.parser
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jikimi import content  # noqa: E402

DOMAIN = ROOT / "bot" / "domain"
OUT = ROOT / "content-review.md"

# Flows, in the order a reviewer reads them.
FLOWS = (
    "인사·메뉴·짧은 대답 (greeting, menu, small talk)",
    "위기·협박 (crisis and threats)",
    "피해 신고·증거·삭제 (report, evidence, takedown)",
    "배우기: 레슨 (lessons)",
    "퀴즈 (quiz)",
    "비밀 보장·기록 (privacy and records)",
    "만들거나 퍼뜨린 사람 (the one involved)",
    "상담 선생님 연결 (counsellor handoff)",
    "근거 보기 (sources)",
    "오류·제한 (safe failure and limits)",
    "문자·카카오톡 (SMS and KakaoTalk texts)",
    "웹 화면 (widget and evidence-log pages)",
)
(GREETING, CRISIS, REPORT, LESSONS, QUIZ, PRIVACY, INVOLVED, HANDOFF, SOURCES,
 FAILURE, SMS, PAGES) = FLOWS  # fmt: skip

ROLE_KO = {"student": "학생", "teacher": "교사", "parent": "보호자"}
STANCE_KO = {None: "입장 모름", "victim": "피해자", "bystander": "목격자", "involved": "연루"}
PLATFORMS = (None, "telegram", "instagram", "x", "kakaotalk")
PLATFORM_KO = {
    None: "플랫폼 모름", "telegram": "텔레그램", "instagram": "인스타그램", "x": "X(트위터)",
    "kakaotalk": "카카오톡",
}  # fmt: skip
# A realistic evidence-log link (public URL + "/evidence/" + a 140-character token).
SAMPLE_LINK = "https://jikimi.example.kr/evidence/" + "gAAAAABn" + "Q" * 132


@dataclass
class Entry:
    """One thing Jikimi says: one reply (its bubbles), an SMS or a page."""

    flow: str
    where: str
    bubbles: List[str]
    buttons: List[str] = field(default_factory=list)
    facts: List[str] = field(default_factory=list)
    kind: str = "chat"  # chat (a bubble on a phone), sms, page
    student: bool = True  # a student may read it (no article numbers, no jargon)
    own_words: bool = False  # written for the student to copy and send (a request)
    note: str = ""  # where the wording's facts come from, for text outside facts.yml


# --- domain responses ------------------------------------------------------------


def _comments(path: Path) -> Dict[str, str]:
    """The comment lines inside each response's block (its facts-ko.md sections)."""
    notes: Dict[str, List[str]] = {}
    current: Optional[str] = None
    pending: List[str] = []
    for line in path.read_text("utf-8").splitlines():
        key = re.match(r"^  (utter_\w+):\s*$", line)
        if key:
            current = key.group(1)
            notes[current] = list(pending)
            pending = []
            continue
        stripped = line.strip()
        if stripped.startswith("# ---"):  # a section divider, not a note
            pending = []
            continue
        if stripped.startswith("#"):
            if line.startswith("  #") and not line.startswith("    "):
                pending.append(stripped.lstrip("# "))
            elif current:
                notes[current].append(stripped.lstrip("# "))
        elif stripped:
            pending = []
    return {name: " ".join(lines) for name, lines in notes.items()}


def _response_flow(name: str) -> str:
    if re.search(r"crisis|safe|threat", name):
        return CRISIS
    if re.search(r"handoff|counsellor", name):
        return HANDOFF
    if re.search(r"delete|privacy", name):
        return PRIVACY
    if re.search(r"report|just_talk|resume|what_next", name):
        return REPORT
    if name.startswith("utter_sms"):
        return SMS
    return GREETING


def _condition(variant: Dict[str, Any]) -> str:
    parts = [f"{c.get('name')}={c.get('value')}" for c in variant.get("condition") or []]
    return f" (조건: {', '.join(parts)})" if parts else ""


def domain_entries() -> List[Entry]:
    entries = []
    for path in sorted(DOMAIN.glob("*.yml")):
        data = yaml.safe_load(path.read_text("utf-8")) or {}
        notes = _comments(path)
        for name, variants in (data.get("responses") or {}).items():
            for variant in variants:
                adult = any(
                    c.get("name") == "user_role" and c.get("value") in ("teacher", "parent")
                    for c in variant.get("condition") or []
                )
                entries.append(
                    Entry(
                        flow=_response_flow(name),
                        where=f"{name}{_condition(variant)} — bot/domain/{path.name}",
                        bubbles=[" ".join(str(variant.get("text", "")).split())],
                        buttons=[b["title"] for b in variant.get("buttons") or []],
                        student=not adult,
                        note=notes.get(name, ""),
                    )
                )
    return entries


# --- content replies -----------------------------------------------------------------


def _entry(flow: str, where: str, replies: List[content.Reply], **extra: Any) -> Entry:
    return Entry(
        flow=flow,
        where=where,
        bubbles=[r.text for r in replies],
        buttons=[b.title for r in replies for b in r.buttons],
        facts=content.facts_of(replies),
        **extra,
    )


def lesson_entries() -> List[Entry]:
    labels = content.topics()
    entries = []
    for topic in content.lesson_topics():
        seen: Dict[Tuple[str, ...], Entry] = {}
        for role in content.ROLES:
            for depth in range(content.lesson_depths(topic, role)):
                replies = content.lesson(topic, role, depth)
                key = tuple(r.text for r in replies)
                label = f"{ROLE_KO[role]}, {depth + 1}단계"
                if key in seen:  # a role without its own version
                    seen[key].where += f" = {label}"
                    continue
                seen[key] = _entry(
                    LESSONS,
                    f"{labels.get(topic, topic)} ({topic}) — {label}",
                    replies,
                    student=role == "student",
                )
                entries.append(seen[key])
    return entries


def _grouped(
    flow: str,
    title: str,
    renders: Iterable[Tuple[str, List[content.Reply], bool]],
    **extra: Any,
) -> List[Entry]:
    """Identical renders once, with every context that produces them."""
    seen: Dict[Tuple[str, ...], Entry] = {}
    entries = []
    for label, replies, student in renders:
        key = tuple(r.text for r in replies)
        if key in seen:
            seen[key].where += f"; {label}"
            continue
        seen[key] = _entry(flow, f"{title} — {label}", replies, student=student, **extra)
        entries.append(seen[key])
    return entries


def _who() -> List[Tuple[str, Dict[str, Any]]]:
    return [
        (f"{ROLE_KO[role]}·{STANCE_KO[stance]}", {"role": role, "stance": stance})
        for role in content.ROLES
        for stance in (None, *content.STANCES)
    ]


def sample_case(**changes: Any):
    from jikimi.cases import CaseView

    fields = dict(
        code="JK-7F3Q2M", created_at=datetime(2026, 1, 2, tzinfo=timezone.utc),
        platform="telegram", minor=True, anonymous=True, when_happened="지난주",
        still_online=True, urls=["https://t.me/example_room/12"], evidence_count=2,
    )  # fmt: skip
    fields.update(changes)
    return CaseView(**fields)


def template_entries() -> List[Entry]:
    entries = []
    for template, title in (("evidence_checklist.j2", "증거 남기기"), ("takedown.j2", "삭제 요청")):
        entries += _grouped(
            REPORT,
            f"{title} ({template})",
            (
                (
                    f"{who}, {PLATFORM_KO[platform]}",
                    content.bubbles(
                        template,
                        platform=platform,
                        platform_name=PLATFORM_KO[platform] if platform else None,
                        **context,
                    ),
                    context["role"] == "student",
                )
                for who, context in _who()
                for platform in PLATFORMS
            ),
        )
    entries += _grouped(
        REPORT,
        "복사해서 쓰는 삭제 요청 글 (takedown_request.j2)",
        (
            (
                f"{who}, {case_label}",
                content.bubbles(
                    "takedown_request.j2", case=case, platform_name=name, sources=False, **context
                ),
                context["role"] == "student",
            )
            for who, context in _who()
            for case_label, case, name in (
                ("기록 없음", None, None),
                ("신고 기록 있음", sample_case(), "텔레그램"),
            )
        ),
        own_words=True,
    )
    return entries


def topic_entries() -> List[Entry]:
    entries = []
    for flow, topics, loader, title in (
        (PRIVACY, content.privacy_topics(), content.privacy, "비밀 보장 (privacy.yml)"),
        (INVOLVED, content.involved_topics(), content.involved, "연루 (involved.yml)"),
    ):
        for topic in topics:
            entries += _grouped(
                flow,
                f"{title}: {topic}",
                ((ROLE_KO[role], loader(topic, role), role == "student") for role in content.ROLES),
            )
    return entries


def quiz_entries() -> List[Entry]:
    entries = []
    questions = content.quiz_questions()
    for number, question in enumerate(questions, start=1):
        asked = content.render(
            "quiz_question.j2", question=question, number=number, total=len(questions)
        )
        entries.append(Entry(QUIZ, f"{question.id} — 질문", [asked], facts=list(question.facts)))
        wrong = next(i for i in range(len(question.choices)) if i != question.answer)
        for label, given in (("맞혔을 때", question.answer), ("틀렸을 때", wrong)):
            entries.append(
                _entry(QUIZ, f"{question.id} — {label}", content.quiz_feedback(question, given))
            )
    return entries


# Sample values for every variable a message or an SMS uses.
SAMPLE: Dict[str, Any] = {
    "total": 5, "score": 3, "limit": 1000, "code": "JK-7F3Q2M", "count": 2, "cases": 1,
    "evidence": 2, "handoffs": 1, "outbox": 0, "minutes": 5, "minor": True,
    "link": SAMPLE_LINK, "cautious": True, "items": [("나이", "미성년자")],
}  # fmt: skip


def _message_flow(name: str) -> str:
    for prefix, flow in (
        ("quiz", QUIZ), ("lesson", LESSONS), ("clarify", GREETING), ("report", REPORT),
        ("evidence", REPORT), ("what_next", REPORT), ("delete", PRIVACY),
        ("handoff", HANDOFF), ("crisis_handoff", HANDOFF), ("counsellor", HANDOFF),
        ("sources", SOURCES),
    ):  # fmt: skip
        if name.startswith(prefix):
            return flow
    return FAILURE


def message_entries() -> List[Entry]:
    entries = []
    data = content.read_yaml("messages.yml")
    for name, entry in data.items():
        text = entry["text"]
        uses_role = "role" in (text if isinstance(text, str) else " ".join(text))
        for role in content.ROLES if uses_role else ("student",):
            for minor in (True, False) if name == "report_saved" else (True,):
                sample = {**SAMPLE, "role": role, "minor": minor}
                # quiz_why: the explanation of the question just answered.
                sample["explanation"] = content.quiz_questions()[0].explanation
                replies = content.messages(name, **sample)
                where = f"{name} — content/messages.yml"
                if uses_role:
                    where += f" ({ROLE_KO[role]})"
                if name == "report_saved":
                    where += " (미성년)" if minor else " (성인)"
                entries.append(
                    _entry(_message_flow(name), where, replies, student=role == "student")
                )
    return entries


def report_question_entries() -> List[Entry]:
    data = content.read_yaml("report.yml")
    entries = []
    for slot, question in data["questions"].items():
        for key in ("ask", "ask_more", "not_a_link"):
            text = question.get(key)
            if not text or str(text).startswith("unused"):
                continue
            rendered = content.tidy(content.environment("chat").from_string(text).render(count=2))
            buttons = list((question.get("buttons") or {}).keys())
            if key == "ask_more":
                buttons = list((question.get("buttons_more") or {}).keys())
            entries.append(
                Entry(
                    REPORT,
                    f"신고 기록 질문 {slot}.{key} — content/report.yml",
                    [rendered],
                    buttons=buttons,
                )
            )
    return entries


def source_entries() -> List[Entry]:
    """What 근거 보기 shows, for one lesson level (the rest work the same way)."""
    replies = content.lesson("ask_law", "student", 1)
    return [
        _entry(
            SOURCES,
            "근거 보기 — 예: 법은 어떻게 돼요? 2단계의 근거",
            content.source_notes(content.facts_of(replies)),
        )
    ]


# --- SMS and pages -------------------------------------------------------------------

SMS_SAMPLE = {
    "code": "JK-7F3Q2M", "urgent": True, "escalated": False, "channel": "문자", "age": "미성년",
    "platform": "텔레그램", "case_code": "JK-ABC234", "context": "학생이 상담 선생님을 찾았어요.",
    "note": "안전하다고 답함", "codes": "JK-7F3Q2M, JK-ABC234", "text": "(메시지)",
}  # fmt: skip


# Variables whose value changes the wording: every value is shown.
SMS_VARIANTS = {"danger": ("self_harm", "threat", "medical"), "urgent": (True, False)}


def _sms_contexts(source: str) -> List[Dict[str, Any]]:
    """One context per wording of an SMS template (unknown variables get a placeholder)."""
    import itertools

    import jinja2.meta

    names = jinja2.meta.find_undeclared_variables(content.environment("sms").parse(source))
    base = {name: SMS_SAMPLE.get(name, f"({name})") for name in names}
    varied = [name for name in sorted(names) if name in SMS_VARIANTS]
    return [
        {**base, **dict(zip(varied, values, strict=True))}
        for values in itertools.product(*(SMS_VARIANTS[name] for name in varied))
    ]


def sms_entries() -> List[Entry]:
    from jikimi import sms

    entries = []
    raw = yaml.safe_load((content.content_dir() / "sms.yml").read_text("utf-8"))
    for name, value in raw.items():
        if isinstance(value, str):
            for context in _sms_contexts(value):
                varied = {k: v for k, v in context.items() if k in SMS_VARIANTS}
                label = f" ({', '.join(f'{k}={v}' for k, v in varied.items())})" if varied else ""
                entries.append(
                    Entry(
                        SMS,
                        f"{name}{label} — content/sms.yml",
                        [sms.text(name, **context)],
                        kind="sms",
                    )
                )
        elif isinstance(value, dict):
            shown = [f"{key}: {label}" for key, label in value.items()]
            entries.append(
                Entry(SMS, f"{name} (목록) — content/sms.yml", ["\n".join(shown)], kind="sms")
            )
    return entries


def kakao_entries() -> List[Entry]:
    """content/kakao.yml, the KakaoTalk channel's own texts (the rest are the SMS ones)."""

    path = content.content_dir() / "kakao.yml"
    if not path.exists():
        return []
    entries = []
    for name, value in (yaml.safe_load(path.read_text("utf-8")) or {}).items():
        if isinstance(value, str):
            for context in _sms_contexts(value):
                text = content.environment("sms").from_string(value).render(**context).strip()
                entries.append(Entry(SMS, f"{name} — content/kakao.yml (카카오톡)", [text]))
    return entries


class _Text(html.parser.HTMLParser):
    """The text a person reads on a page: no script, style or tags."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: List[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name.startswith("data-") or name in ("aria-label", "placeholder", "title"):
                if value and re.search(r"[가-힣]", value):
                    self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(" ".join(data.split()))


def page_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    return "\n".join(parser.parts)


def page_entries() -> List[Entry]:
    import tempfile

    from markupsafe import Markup

    from jikimi import evidence_log
    from jikimi.desk.widget import render_embed, render_page
    from jikimi.settings import load_settings

    settings = load_settings(environ={}, root=Path(tempfile.mkdtemp(prefix="jikimi-review-")))
    entries = [
        Entry(
            PAGES,
            "채팅 화면 — jikimi/desk/templates/widget.html",
            [page_text(render_page(settings))],
            kind="page",
        ),
        Entry(
            PAGES,
            "학교 사이트에 넣는 버튼 — jikimi/desk/templates/embed.js",
            ["\n".join(re.findall(r'"([^"\n]*[가-힣][^"\n]*)"', render_embed(settings)))],
            kind="page",
        ),
    ]
    moment = datetime(2026, 1, 2, 12, 0, tzinfo=timezone.utc)
    case = {
        "code": "JK-7F3Q2M", "created_at": moment, "updated_at": moment, "platform": "텔레그램",
        "when_happened": "지난주", "still_online": True, "relation": "같은 학교 친구",
        "urls": ["https://t.me/example_room/12"], "evidence": [],
        "timeline": [{"at": moment, "what": "지킴이에 신고 기록을 만들었어요"}],
    }  # fmt: skip
    page = (
        content.environment("html")
        .get_template(evidence_log.TEMPLATE)
        .render(
            case=case,
            generated_at=moment,
            expires_at=moment,
            print_script=Markup(evidence_log.PRINT_SCRIPT),
        )
    )
    entries.append(
        Entry(PAGES, "증거 기록 페이지 — content/evidence_log.html", [page_text(page)], kind="page")
    )
    for kind in ("invalid", "expired", "gone", "unavailable"):
        where = f"증거 기록 링크 오류 ({kind}) — content/evidence_log_error.html"
        text = page_text(evidence_log.render_error(kind))
        entries.append(Entry(PAGES, where, [text], kind="page"))
    return entries


def collect() -> List[Entry]:
    """Everything Jikimi can say, in reading order."""
    entries = (
        domain_entries() + lesson_entries() + template_entries() + topic_entries()
        + quiz_entries() + message_entries() + report_question_entries() + source_entries()
        + sms_entries() + kakao_entries() + page_entries()
    )  # fmt: skip
    order = {flow: i for i, flow in enumerate(FLOWS)}
    return sorted(entries, key=lambda e: order[e.flow])  # stable: order within a flow kept


# --- Markdown ------------------------------------------------------------------------


def _commit() -> str:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "HEAD") or "(git 없음)"
    dirty = git("status", "--porcelain", "--", "content", "bot/domain", "jikimi/desk/templates")
    return commit + (" + 커밋하지 않은 변경" if dirty else "")


def _fact_line(fact_id: str) -> str:
    source = content.fact_source(fact_id)
    article = f"{source['article']} — " if source.get("article") else ""
    mark = " ※조심스럽게" if source["confidence"] == "partly" else ""
    return f"`{fact_id}`: {article}{source['title']}{mark}"


def render_markdown(entries: List[Entry], commit: str) -> str:
    out = [
        "# 지킴이가 하는 모든 말 (content review)",
        "",
        f"- 커밋: `{commit}`",
        f"- 만든 때: {datetime.now(timezone.utc).astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        "- 만든 방법: `make content-review` (scripts/content_review.py)",
        '- 검토와 승인 방법: README의 "Reviewing what Jikimi says"',
        "",
        "각 말풍선은 휴대폰 한 화면에 보이는 메시지 하나예요(300자 이하).",
        "'근거'는 그 답이 말하는 사실과 출처예요. ※는 자료가 하나뿐이거나 날짜를",
        "계산한 것이라 조심스럽게 말하는 사실이에요. 모든 사실의 전체 출처(주소 포함)는",
        "맨 끝 '부록: 사실과 출처'에 있어요.",
        "",
        "## 차례",
        "",
    ]
    out += [f"{i}. {flow}" for i, flow in enumerate(FLOWS, start=1)]
    out += ["부록: 사실과 출처", ""]
    for flow in FLOWS:
        out += [f"## {flow}", ""]
        for entry in (e for e in entries if e.flow == flow):
            out += [f"### {entry.where}", ""]
            for bubble in entry.bubbles:
                out += ["> " + line if line else ">" for line in bubble.splitlines()]
                out.append("")
            if entry.buttons:
                out += ["버튼: " + " · ".join(f"[{b}]" for b in entry.buttons), ""]
            if entry.facts:
                out += ["근거:"] + [f"- {_fact_line(f)}" for f in entry.facts] + [""]
            if entry.note:
                out += [f"근거(주석): {entry.note}", ""]
    out += ["## 부록: 사실과 출처", ""]
    facts = content.all_facts()
    for fact_id in sorted(facts):
        source = content.fact_source(fact_id)
        out += [f"### `{fact_id}` ({source['confidence']})", "", f"> {facts[fact_id]['text']}", ""]
        out.append(f"- 출처: {source['title']}")
        out.append(f"- facts-ko.md: {source['section']}")
        for key, label in (("article", "조문"), ("law", "법령")):
            if source.get(key):
                out.append(f"- {label}: {source[key]}")
        out += [f"- {url}" for url in source.get("urls") or []]
        out += [f'- 인용: "{ref}"' for ref in source.get("refs") or []]
        out.append("")
    return "\n".join(out)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="Markdown file to write")
    args = parser.parse_args(argv)
    entries = collect()
    args.out.write_text(render_markdown(entries, _commit()), encoding="utf-8")
    bubbles = sum(len(e.bubbles) for e in entries)
    print(f"{args.out} ({len(entries)} replies, {bubbles} bubbles or texts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
