"""The channel guard: what Rasa sees of a user's text."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bot.channels import clean_text


def test_decomposed_hangul_is_composed():
    nfd = unicodedata.normalize("NFD", "텔레그램에 합성 사진")
    assert nfd != "텔레그램에 합성 사진"
    assert clean_text(nfd) == "텔레그램에 합성 사진"


def test_controls_and_bidi_overrides_go_but_emoji_sequences_stay():
    family = "👩\u200d👩\u200d👧"
    assert clean_text("제\x00어\x07\u202e문자\u2066 " + family) == "제어문자 " + family
    assert clean_text("줄\n바꿈\t탭") == "줄\n바꿈\t탭"


@given(st.text())
def test_clean_text_is_idempotent_and_never_longer(text):
    once = clean_text(text)
    assert clean_text(once) == once
    assert unicodedata.is_normalized("NFC", once)
