"""The evidence log: links that expire and cannot be forged, a page rendered from
a real case (0, 1 and 20 entries, hostile names escaped) on SQLite and
PostgreSQL, and the page and its error pages through the real desk server."""

from __future__ import annotations

import html
import os
import re
import time
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, List

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import select

from jikimi import content, evidence_log
from jikimi.db import Case, EvidenceItem, sender_hash
from jikimi.desk.evidence import headers
from jikimi.settings import Settings, load_settings
from tests.support.processes import free_port, serve
from tests.unit.test_db import Db

ROOT = Path(__file__).resolve().parents[2]
# A copy of ../shared/facts-ko.md (checked against it in test_wording.py).
FACTS_KO = ROOT / "tests" / "data" / "facts-ko.md"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
CAPTURED = datetime(2025, 3, 1, 12, 30, tzinfo=timezone.utc)  # 21:30 in Korea


def fernet_key() -> str:
    return Fernet.generate_key().decode()


def settings_with(db: Db, **env: str) -> Settings:
    return load_settings(
        environ={
            "JIKIMI_DATABASE_URL": db.url,
            "JIKIMI_SECRET_KEY": db.settings.secret_key,
            "RASA_TOKEN": "t",
            **env,
        },
        root=db.settings.root,
    )


def sha(n: int) -> str:
    return f"{n:064x}"


def new_case(db: Db, entries: int, **fields) -> str:
    """A case with `entries` evidence entries; returns its code."""
    with db.session() as session:
        case = Case(
            sender_hash=sender_hash(session, "web-evidence"),
            channel="socketio",
            platform="telegram",
            when_happened="지난주 금요일",
            still_online=True,
            perpetrator_relation="classmate",
            urls=["https://t.me/room_one/1", "https://t.me/room_two/2"],
            **fields,
        )
        for n in range(entries):
            case.evidence.append(
                EvidenceItem(
                    kind="screenshot",
                    sha256=sha(n + 1),
                    name=f"캡처-{n + 1:02d}.png",
                    captured_at=CAPTURED + timedelta(minutes=n),
                )
            )
        session.add(case)
        session.flush()
        return case.code


class Text(HTMLParser):
    """The text a reader sees (no markup, no style or script)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: List[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = Text()
    parser.feed(page)
    return " ".join(" ".join(parser.parts).split())


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


# --- links -----------------------------------------------------------------------------------


def test_a_link_opens_its_case_until_it_expires(tmp_path):
    settings = load_settings(
        environ={
            "JIKIMI_SECRET_KEY": fernet_key(),
            "JIKIMI_PUBLIC_URL": "https://desk.example.kr/",
        },
        root=tmp_path,
    )
    now = 1_800_000_000
    link = evidence_log.make_link(settings, "JK-ABC234", ttl_s=3600, now=now)
    assert link.startswith("https://desk.example.kr/evidence/")
    token = token_of(link)
    assert "JK-ABC234" not in token and "ABC234" not in link  # the code is encrypted
    assert re.fullmatch(r"[A-Za-z0-9_-]{100,}", token)
    target = evidence_log.verify(settings, token, now=now + 3599)
    assert target.case_code == "JK-ABC234"
    assert target.expires_at == datetime.fromtimestamp(now + 3600, timezone.utc)
    with pytest.raises(evidence_log.LinkExpired):
        evidence_log.verify(settings, token, now=now + 3600)
    # Two links to the same case share nothing guessable.
    assert token_of(evidence_log.make_link(settings, "JK-ABC234", now=now)) != token


def test_forged_altered_and_foreign_links_do_not_open(tmp_path):
    key = fernet_key()
    settings = load_settings(environ={"JIKIMI_SECRET_KEY": key}, root=tmp_path)
    token = token_of(evidence_log.make_link(settings, "JK-ABC234"))
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    other_key = load_settings(environ={"JIKIMI_SECRET_KEY": fernet_key()}, root=tmp_path)
    # A value encrypted for the database, under the very same key, is no link.
    from jikimi.db import Keyring

    database_value = Keyring(key).encrypt('{"c":"JK-ABC234","exp":9999999999}')
    for bad in (
        flipped,
        token[:-4],
        token + "AAAA",
        "",
        "x" * 1000,
        "한글토큰",
        token_of(evidence_log.make_link(other_key, "JK-ABC234")),
        database_value.rstrip("="),
    ):
        with pytest.raises(evidence_log.LinkInvalid):
            evidence_log.verify(settings, bad)


def test_links_survive_a_key_rotation(tmp_path):
    old, new = fernet_key(), fernet_key()
    before = load_settings(environ={"JIKIMI_SECRET_KEY": old}, root=tmp_path)
    after = load_settings(environ={"JIKIMI_SECRET_KEY": f"{new},{old}"}, root=tmp_path)
    token = token_of(evidence_log.make_link(before, "JK-ABC234"))
    assert evidence_log.verify(after, token).case_code == "JK-ABC234"


@pytest.mark.parametrize(
    "code,ttl_s",
    [
        ("JK-abc234", 60),
        ("<script>", 60),
        ("JK-ABC234", 0),
        ("JK-ABC234", evidence_log.MAX_TTL_S + 1),
    ],
)
def test_make_link_refuses_what_it_cannot_keep(tmp_path, code, ttl_s):
    settings = load_settings(environ={"JIKIMI_SECRET_KEY": fernet_key()}, root=tmp_path)
    with pytest.raises(ValueError):
        evidence_log.make_link(settings, code, ttl_s=ttl_s)


# --- the page --------------------------------------------------------------------------------


@pytest.mark.parametrize("entries", [0, 1, 20])
def test_the_page_shows_the_case_and_every_entry(db, entries):
    code = new_case(db, entries)
    expires = datetime(2030, 1, 2, 3, 4, tzinfo=timezone.utc)
    page = evidence_log.render(db.settings, code, expires_at=expires)
    text = visible_text(page)
    assert f"지킴이 증거 기록지 {code}" in page  # the title
    assert code in text and "텔레그램" in text and "같은 학교 친구" in text
    assert "지난주 금요일" in text and "아직 남아 있어요" in text
    assert "https://t.me/room_one/1" in text and "https://t.me/room_two/2" in text
    assert f"증거 목록 ({entries}개)" in text
    assert "2030년 1월 2일 12:04까지만 열려요" in text  # Korean time
    rows = re.findall(r"<td class=\"hash\">([0-9a-f]{64})</td>", page)
    assert rows == [sha(n + 1) for n in range(entries)]
    for n in range(entries):
        assert f"캡처-{n + 1:02d}.png" in text
    if entries == 0:
        assert "아직 기록한 증거가 없어요" in text
    else:
        assert "2025년 3월 1일 21:30" in text  # captured, in Korean time
        assert "아직 기록한 증거가 없어요" not in text
    # The timeline is in time order.
    stamps = re.findall(r"<tr><td>(\d{4})년 (\d+)월 (\d+)일 (\d\d):(\d\d)</td>", page)
    moments = [tuple(int(part) for part in stamp) for stamp in stamps]
    assert moments == sorted(moments) and len(moments) == 1 + entries
    # What to bring and whom to call, from the sourced facts.
    for needle in (
        content.fact("help.d4u_what_to_bring"),
        content.fact("help.police_no_evidence"),
        content.fact("guide.keep_what_you_have"),
        content.hotline("1366"),
        content.hotline("d4u"),
        content.hotline("112"),
        "ecrm.police.go.kr",
    ):
        assert needle in text, needle


def test_hostile_names_are_shown_as_text_never_run(db):
    with db.session() as session:
        case = Case(
            sender_hash=sender_hash(session, "web-hostile"),
            channel="socketio",
            platform="<script>alert(1)</script>",  # String(32)
            when_happened=HOSTILE,
            urls=[f"https://t.me/x?{HOSTILE}"],
        )
        case.evidence.append(
            EvidenceItem(kind="note", name=HOSTILE, url=HOSTILE, description=HOSTILE)
        )
        session.add(case)
        session.flush()
        code = case.code
    page = evidence_log.render(db.settings, code)
    assert page.count("<script") == 1  # the print button's, and only that
    assert "<img" not in page
    assert html.escape(HOSTILE).replace("&quot;", "&#34;").replace("&#x27;", "&#39;") in page
    assert visible_text(page).count(HOSTILE) >= 5
    assert "<script>alert(1)</script>" in visible_text(page)


def test_a_deleted_case_has_no_page(db):
    code = new_case(db, 1)
    with db.session() as session:
        session.delete(session.execute(select(Case).where(Case.code == code)).scalar_one())
    with pytest.raises(evidence_log.CaseNotFound):
        evidence_log.render(db.settings, code)


def test_every_number_the_page_states_is_in_facts_ko(sqlite_db):
    """As tests/unit/test_content.py checks for chat text: numbers come from facts-ko.md.
    The case's own values (code, times) and the algorithm's name are not facts."""
    code = new_case(sqlite_db, 1)
    page = evidence_log.render(sqlite_db.settings, code, expires_at=CAPTURED)
    pages = [page] + [evidence_log.render_error(kind) for kind in evidence_log_errors()]
    facts_ko = FACTS_KO.read_text("utf-8")
    for text in map(visible_text, pages):
        text = re.sub(r"\d{4}년 \d+월 \d+일 \d\d:\d\d", "", text)
        text = text.replace(code, "").replace(sha(1), "").replace("SHA-256", "")
        text = re.sub(r"https://t\.me/room_\w+/\d|캡처-\d+\.png", "", text)
        for number in re.findall(r"\d+(?:[.,\-]\d+)*", text):
            assert number in facts_ko, f"{number!r} in {text[:80]!r}"


def evidence_log_errors() -> List[str]:
    return ["invalid", "expired", "gone", "unavailable"]


def test_error_pages_are_kind_and_plain():
    for kind in evidence_log_errors():
        page = evidence_log.render_error(kind)
        text = visible_text(page)
        assert "<script" not in page and content.hotline("1388") in text
        for word in ("Traceback", "Error", "token", "Exception"):
            assert word not in text
    with pytest.raises(ValueError):
        evidence_log.render_error("teapot")


# --- through the desk server ---------------------------------------------------------------


@pytest.fixture
def desk(db, tmp_path):
    """`jikimi serve desk` on a free port, over the `db` database."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "JIKIMI_DATABASE_URL": db.url,
        "JIKIMI_SECRET_KEY": db.settings.secret_key,
        "JIKIMI_DESK_PORT": str(port),
        "JIKIMI_PUBLIC_URL": url,
        "RASA_TOKEN": "t",
    }
    with serve("desk", env, tmp_path) as served:
        yield url, settings_with(db, JIKIMI_PUBLIC_URL=url), served.log


def get(url: str) -> requests.Response:
    return requests.get(url, timeout=10, allow_redirects=False)


def assert_private(answer: requests.Response) -> None:
    expected: Dict[str, str] = headers()
    for name in ("Cache-Control", "Referrer-Policy", "X-Robots-Tag", "Content-Security-Policy"):
        assert answer.headers.get(name) == expected[name], name
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in answer.headers["X-Robots-Tag"]
    assert answer.headers["Content-Type"].startswith("text/html")


def test_the_desk_serves_the_page_and_kind_errors(db, desk):
    url, settings, log = desk
    code = new_case(db, 20)
    link = evidence_log.make_link(settings, code)
    assert link.startswith(url + "/evidence/")

    page = get(link)
    assert page.status_code == 200, page.text[:500]
    assert_private(page)
    assert code in page.text and "증거 목록 (20개)" in visible_text(page.text)
    assert "script-src 'sha256-" in page.headers["Content-Security-Policy"]

    expired = get(evidence_log.make_link(settings, code, ttl_s=60, now=time.time() - 3600))
    assert expired.status_code == 410
    assert "시간이 지났어요" in expired.text
    token = token_of(link)
    for forged in (token[:-6] + "AAAAAA", "nothing-here", token + "/extra"):
        answer = get(f"{url}/evidence/{forged}")
        assert answer.status_code == 404, forged
        assert "링크를 열 수 없어요" in answer.text
        assert_private(answer)

    with db.session() as session:
        session.delete(session.execute(select(Case).where(Case.code == code)).scalar_one())
    gone = get(link)
    assert gone.status_code == 410 and "더 이상 없어요" in gone.text
    assert_private(gone)

    for answer in (expired, gone):
        assert code not in answer.text
        assert "Traceback" not in answer.text and "Error" not in visible_text(answer.text)
    assert token not in log.read_text() and code not in log.read_text()
