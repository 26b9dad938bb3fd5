"""The NLU components of issue 14: platform names, character n-grams, the
calibrated linear classifier and the Hangul-keeping whitespace baseline."""

from __future__ import annotations

import numpy as np
import pytest

from bot.components.char_featurizer import CharNgramFeaturizer, normalise, to_jamo
from bot.components.linear_classifier import fit_temperature, softmax
from bot.components.platforms import (
    KINDS,
    SPELLINGS,
    VALUES,
    PlatformMatcher,
    all_spellings,
    spelling_kind,
)

MATCHER = PlatformMatcher()


def sentence_with(spelling):
    if spelling.kind == "generic":
        return f"해외 {spelling.text}에 내 합성 사진이 올라왔어"
    return f"{spelling.text}에 내 합성 사진이 올라왔어"


# --- platforms -------------------------------------------------------------------


def test_every_contract_platform_has_korean_latin_and_short_or_slang_names():
    assert set(SPELLINGS) == set(VALUES)
    for value, kinds in SPELLINGS.items():
        assert set(kinds) <= set(KINDS), value
        assert kinds["korean"] and kinds["latin"], value
        assert kinds.get("abbreviated") or kinds.get("slang"), value


@pytest.mark.parametrize("spelling", all_spellings(), ids=lambda s: f"{s.value}:{s.kind}:{s.text}")
def test_each_spelling_is_found_before_a_particle(spelling):
    text = sentence_with(spelling)
    mentions = MATCHER.find(text)
    assert mentions and mentions[0].value == spelling.value, (text, mentions)
    assert spelling_kind(text[mentions[0].start : mentions[0].end]) == spelling.kind or (
        spelling.kind == "generic"
    )


@pytest.mark.parametrize(
    "text, values",
    [
        ("텔레그램에서 봤어", ["telegram"]),
        ("텔레에 올라옴", ["telegram"]),
        ("TG 채널에 있대", ["telegram"]),
        ("insta에 올라왔어", ["instagram"]),
        ("IG 부계정", ["instagram"]),
        ("카톡 단톡방에 돌고 있대", ["kakaotalk"]),
        ("오픈채팅방에서 받았어", ["kakaotalk"]),
        ("디코서 누가 뿌렸대", ["discord"]),
        ("X에 올라왔어", ["x"]),
        ("트위터랑 텔레그램에 같이 퍼졌어", ["x", "telegram"]),
        ("tiktok 라이브", ["tiktok"]),
        ("유튜브 쇼츠에 떴어", ["youtube"]),
        ("페메로 받음", ["facebook"]),
        ("LINE으로 보내줌", ["line"]),
        ("밴드에 올라왔어요", ["naver"]),
        ("네이버카페에 글 있어", ["naver"]),
        ("해외 사이트라서 못 지운대", ["other"]),
        ("학교 홈피랑 학원 단톡에", ["other", "kakaotalk"]),
        ("에타에 올라왔대", ["other"]),
        ("디시 갤에 있어", ["other"]),
        ("에펨코리아에 올라간 글", ["other"]),
        ("텔레 펨코 트위터 다 퍼짐", ["telegram", "other", "x"]),
        # A part of the platform just named, not a second place.
        ("유튜브 커뮤니티에 썸네일로 올라옴", ["youtube"]),
        ("인스타 커뮤에 돈대", ["instagram"]),
    ],
)
def test_names_in_sentences(text, values):
    assert MATCHER.values(text) == values


@pytest.mark.parametrize(
    "text",
    [
        "온라인 수업 듣기 싫어",
        "가이드라인 읽어봐",
        "라인업 대박",
        "헤어밴드 샀어",
        "밴드부 공연 보러 와",
        "텔레비전 보는 중",
        "엑스레이 찍었어",
        "ox 퀴즈 풀래",
        "x",
        "정답은 x야",
        "버스에타고 가는 중",
        "갤러리에 저장했어",
        "카카오페이로 보냈어",
        "딥페이크 감지해주는 사이트 있나",
        "신고 사이트에서 하면 돼?",
        "경찰청 홈페이지에 신고해",
        "템플릿 사이트 추천해줘",
        "deadline이 내일이야",
        "online class",
        "커뮤니케이션 수업",
        "손목에 밴드 붙이고 다녀",
        "밴드를 감아놨어",
        "무릎에 밴드 했어",
    ],
)
def test_false_friends_are_not_platforms(text):
    assert MATCHER.values(text) == []


def test_longest_spelling_wins_and_spans_index_the_text():
    text = "인스타그램이랑 네이버 블로그에"
    mentions = MATCHER.find(text)
    assert [(m.value, text[m.start : m.end]) for m in mentions] == [
        ("instagram", "인스타그램"),
        ("naver", "네이버 블로그"),
    ]


def test_kind_of_an_unlisted_spelling():
    assert spelling_kind("Telegram") == "latin"
    assert spelling_kind("텔그") == "abbreviated"
    assert spelling_kind("학교 홈피") == "generic"
    assert spelling_kind("somesite") == "latin"


# --- character n-grams -----------------------------------------------------------


def featurizer(**config):
    return CharNgramFeaturizer.__new__(CharNgramFeaturizer), {
        **CharNgramFeaturizer.get_default_config(),
        **config,
    }


def grams(text, **config):
    component, full = featurizer(**config)
    component._config = full
    return component.message_grams(text)


def test_eojeol_ngrams_cross_morpheme_boundaries_but_not_spaces():
    found = set(grams("신고하고 싶어", unit="eojeol", min_ngram=2, max_ngram=3))
    assert {"고하", "하고", "신고하"} <= found  # 신고|하|고 are morphemes
    assert "고 싶" not in found and "고싶" not in found
    assert " 신" in found and "어 " in found  # word starts and ends


def test_message_ngrams_ignore_spacing():
    spaced = set(grams("신고 하고 싶어", unit="message", min_ngram=3, max_ngram=3))
    glued = set(grams("신고하고싶어", unit="message", min_ngram=3, max_ngram=3))
    assert spaced == glued


def test_jamo_and_normalisation():
    assert to_jamo("했어") == "ㅎㅐㅆㅇㅓ"
    assert to_jamo("ㅈㄱ abc") == "ㅈㄱ abc"
    assert normalise("ㅋㅋㅋㅋㅋ ABC") == "ㅋㅋ abc"
    # one letter of difference shares most letter n-grams
    a = set(grams("싶어", jamo=True))
    b = set(grams("시퍼", jamo=True))
    assert len(a & b) >= 3


# --- calibration -----------------------------------------------------------------


def test_softmax_rows_sum_to_one():
    p = softmax(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), 0.5)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert p[1].tolist() == pytest.approx([1 / 3] * 3)


def test_temperature_is_fitted_to_how_often_the_scores_are_right():
    rng = np.random.default_rng(0)
    n, k, true_t = 4000, 5, 2.0
    scores = rng.normal(size=(n, k)) * 3
    labels = np.array([rng.choice(k, p=softmax(s[None], true_t)[0]) for s in scores])
    assert fit_temperature(scores, labels) == pytest.approx(true_t, rel=0.15)


# --- whitespace baseline ---------------------------------------------------------


def test_hangul_whitespace_tokenizer_keeps_hangul_and_drops_only_emoji():
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.message import Message

    from bot.components.whitespace_tokenizer import HangulWhitespaceTokenizer

    text = "텔레그램에 사진 올라옴 😭"
    stock = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    ours = HangulWhitespaceTokenizer(HangulWhitespaceTokenizer.get_default_config())
    assert len(stock.tokenize(Message.build(text=text), "text")) == 1  # Rasa 3.6's bug
    assert [t.text for t in ours.tokenize(Message.build(text=text), "text")] == [
        "텔레그램에",
        "사진",
        "올라옴",
    ]
