"""Redaction (jikimi/redact.py) and the logging that uses it (jikimi/logs.py)."""

from __future__ import annotations

import io
import logging
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jikimi import logs
from jikimi.redact import (
    EMAIL_MASK,
    PHONE_MASK,
    RRN_MASK,
    SECRET_MASK,
    RedactingFilter,
    redact,
)

# --- examples --------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "010-1234-5678",
        "01012345678",
        "010 1234 5678",
        "010.1234.5678",
        "010 - 1234 - 5678",
        "011-234-5678",
        "+82 10-1234-5678",
        "+82-10-1234-5678",
        "+821012345678",
        "+82 (0)10 1234 5678",
        "0082-10-1234-5678",
        "82-10-1234-5678",
        "02-123-4567",
        "02-1234-5678",
        "(02) 123-4567",
        "031)123-4567",
        "(031) 1234-5678",
        "070-1234-5678",
        "0505-123-4567",
        "０１０－１２３４－５６７８",
        "010‐1234‐5678",  # U+2010 hyphen
        "010–1234–5678",  # en dash
        "공일공-일이삼사-오육칠팔",
        "공일공 일이삼사 오육칠팔",
        "영일영1234오육칠팔",
    ],
)
def test_phone_numbers_in_every_usual_spelling_are_masked(spelling):
    redacted = redact(f"제 번호는 {spelling} 이에요")
    assert redacted == f"제 번호는 {PHONE_MASK} 이에요"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("hong.gildong@naver.com 으로 보내", f"{EMAIL_MASK} 으로 보내"),
        ("메일 kim_99+x@school.go.kr", f"메일 {EMAIL_MASK}"),
        ("hong 골뱅이 naver 점 com", EMAIL_MASK),
        ("hong(at)gmail(dot)com", EMAIL_MASK),
        ("ｈｏｎｇ＠naver.com", "ｈｏｎｇ＠naver.com"),  # full-width letters: not an address
        ("주민번호 900101-1234567", f"주민번호 {RRN_MASK}"),
        ("9001011234567", RRN_MASK),
        ("900101 - 2234567", RRN_MASK),
        ("050315-4******", RRN_MASK),
        (
            "http://127.0.0.1:5005/status?token=abc-DEF_123&x=1",
            f"http://127.0.0.1:5005/status?token={SECRET_MASK}&x=1",
        ),
        (
            "GET /conversations/a/tracker?x=1&token=s3cr3t HTTP/1.1",
            f"GET /conversations/a/tracker?x=1&token={SECRET_MASK} HTTP/1.1",
        ),
        ("https://x.org/e?code=ABCD1234", f"https://x.org/e?code={SECRET_MASK}"),
        (
            "postgresql://jikimi:hunter2@db:5432/jikimi",
            f"postgresql://jikimi:{SECRET_MASK}@db:5432/jikimi",
        ),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x.y", f"Authorization: Bearer {SECRET_MASK}"),
    ],
)
def test_emails_resident_numbers_and_secrets_are_masked(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "112에 신고하고 1388이나 109에 전화해",
        "자살예방상담 109(24시간, 전화·문자 109)",
        "2024년 10월 16일부터 시행, 1년 이상 징역",
        "3만원 보내라고 했고 10시 30분에 만나재",
        "딥페이크 성범죄는 범죄예요. https://d4u.stop.or.kr",
        "학번 20231234, 3학년 2반 15번",
        "",
    ],
)
def test_ordinary_text_and_service_numbers_stay(text):
    assert redact(text) == text


# --- properties ------------------------------------------------------------------

DIGITS = "0123456789"
FULLWIDTH = str.maketrans(DIGITS, "０１２３４５６７８９")
SPELLED = str.maketrans(DIGITS, "공일이삼사오육칠팔구")
separators = st.sampled_from(["", "-", " ", ".", " - ", "‐", "－", "  "])
# Text around a number: Hangul, letters, punctuation, but no digits and nothing
# that would glue onto the number as part of it.
surroundings = st.text(
    alphabet=st.characters(
        whitelist_categories=("Lo", "Ll", "Lu", "Zs", "Po"),
        blacklist_characters="@＠.．-()",
    ),
    max_size=30,
).map(lambda s: s.translate(str.maketrans("", "", "공영일이삼사오육칠팔구")))


@st.composite
def phone_numbers(draw):
    """(as written, the subscriber digits that must not survive)."""
    area = draw(st.sampled_from(["010", "011", "016", "019", "02", "031", "051", "064", "070"]))
    middle = draw(st.text(DIGITS, min_size=3, max_size=4))
    last = draw(st.text(DIGITS, min_size=4, max_size=4))
    sep1, sep2 = draw(separators), draw(separators)
    form = draw(st.sampled_from(["domestic", "international", "bracketed"]))
    if form == "international":
        prefix = draw(st.sampled_from(["+82", "+82 ", "+82-", "0082-", "+82 (0)"]))
        written = f"{prefix}{area[1:]}{sep1}{middle}{sep2}{last}"
    elif form == "bracketed":
        written = f"({area}) {middle}{sep2}{last}"
    else:
        written = f"{area}{sep1}{middle}{sep2}{last}"
    style = draw(st.sampled_from(["ascii", "fullwidth", "spelled"]))
    if style == "fullwidth":
        written = written.translate(FULLWIDTH)
    elif style == "spelled" and form == "domestic" and area.startswith("01"):
        written = written.translate(SPELLED)
    return written, middle + last


@given(before=surroundings, number=phone_numbers(), after=surroundings)
def test_no_phone_number_survives_whatever_surrounds_it(before, number, after):
    written, subscriber = number
    redacted = redact(f"{before} {written} {after}")
    assert PHONE_MASK in redacted
    digits_left = re.sub(r"\D", "", redacted.translate({ord(c): None for c in "[]"}))
    assert subscriber not in digits_left
    assert written not in redacted


@given(
    user=st.from_regex(r"[a-z][a-z0-9._]{0,15}", fullmatch=True),
    domain=st.from_regex(r"[a-z][a-z0-9-]{0,10}\.(com|net|kr|co\.kr|go\.kr)", fullmatch=True),
    before=surroundings,
)
def test_no_email_survives(user, domain, before):
    redacted = redact(f"{before} {user}@{domain} 로 연락")
    assert f"{user}@{domain}" not in redacted and EMAIL_MASK in redacted


@given(
    birth=st.dates().map(lambda d: d.strftime("%y%m%d")),
    gender=st.sampled_from("12345678"),
    rest=st.text(DIGITS, min_size=6, max_size=6),
    sep=st.sampled_from(["-", "", " - "]),
)
def test_no_resident_number_survives(birth, gender, rest, sep):
    redacted = redact(f"내 주민번호 {birth}{sep}{gender}{rest} 야")
    assert redacted == f"내 주민번호 {RRN_MASK} 야"


@given(st.text(max_size=200))
def test_redact_is_idempotent_and_keeps_text_without_digits_or_at_signs(text):
    once = redact(text)
    assert redact(once) == once
    if not re.search(r"[\d@＠]|골뱅이|\(at\)|\[at\]|://|bearer|basic|공|영", text, re.I):
        assert once == text


# --- logging ---------------------------------------------------------------------


def test_filter_masks_arguments_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("jikimi.test_redact.filter")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("SMS to %s failed", "010-9876-5432")
        try:
            raise ValueError("bad url http://x/y?token=abcdef")
        except ValueError:
            logger.exception("while calling %s", "kim@example.com")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "9876" not in output and "abcdef" not in output and "kim@example.com" not in output
    assert f"SMS to {PHONE_MASK} failed" in output
    assert f"token={SECRET_MASK}" in output and "ValueError" in output


def test_install_redacts_records_of_every_logger_and_handler():
    """As the processes use it: handlers added later (as Rasa and Sanic do) and
    loggers that do not propagate still get masked records."""
    previous = logging.getLogRecordFactory()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("sanic.test_redact.install")
    logger.propagate = False
    try:
        logs.install()
        logs.install()  # idempotent: one wrapper only
        logger.addHandler(handler)
        logger.error("GET /status?token=%s from %s", "very-secret-token", "+82 10 2222 3333")
    finally:
        logger.removeHandler(handler)
        logging.setLogRecordFactory(previous)
    output = stream.getvalue()
    assert "very-secret-token" not in output and "3333" not in output
    assert f"token={SECRET_MASK}" in output and PHONE_MASK in output
