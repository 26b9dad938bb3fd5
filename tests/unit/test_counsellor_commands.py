"""The counsellor's SMS command grammar (jikimi/counsellor_commands.py), read
without a database; tests/unit/test_handoff.py runs the same SMS through the
handoff state machine."""

from __future__ import annotations

import pytest

from jikimi.counsellor_commands import (
    ACCEPT,
    CLOSE,
    DECLINE,
    HELP,
    PLAIN,
    RELAY,
    Command,
    parse,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("수락 JK-7F3Q2M", Command(ACCEPT, "JK-7F3Q2M", "")),
        ("수락 jk7f3q2m 안녕하세요", Command(ACCEPT, "JK-7F3Q2M", "안녕하세요")),
        ("수락: JK-7F3Q2M!", Command(ACCEPT, "JK-7F3Q2M", "")),
        ("거절 JK-7F3Q2M 바빠요", Command(DECLINE, "JK-7F3Q2M", "바빠요")),
        ("종료 JK-7F3Q2M", Command(CLOSE, "JK-7F3Q2M", "")),
        ("종료 JK-7F3Q2M 잘 지내", Command(HELP)),
        ("[JK-7F3Q2M] 괜찮아요?", Command(RELAY, "JK-7F3Q2M", "괜찮아요?")),
        ("JK-7F3Q2M", Command(HELP)),
        ("수락", Command(HELP)),
        ("   ", Command(HELP)),
        ("지금 어디에 있어요?", Command(PLAIN, text="지금 어디에 있어요?")),
        ("수락하는 법을 모르겠어요", Command(PLAIN, text="수락하는 법을 모르겠어요")),
    ],
)  # fmt: skip
def test_what_an_sms_asks(text, expected):
    assert parse(text) == expected
