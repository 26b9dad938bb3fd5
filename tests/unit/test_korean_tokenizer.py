"""The Korean tokenizer: exact offsets, merged overlapping morphemes, robustness."""

from __future__ import annotations

import concurrent.futures
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasa.shared.nlu.training_data.message import Message

from bot.components.korean_tokenizer import (
    MAX_EOJEOL_CHARS,
    KoreanMorphemeTokenizer,
    Morpheme,
    chunks,
    get_analyser,
    merge_spans,
    tokenize_text,
)

BACKENDS = ["kiwi", "konlpy"]


def spans(text, backend):
    return [(t.text, t.start, t.end) for t in tokenize_text(text, get_analyser(backend))]


def assert_exact(text, tokens):
    """Every token slices the original text, in order, without overlap, and
    together the tokens cover every non-space character."""
    previous_end = 0
    for token in tokens:
        assert text[token.start : token.end] == token.text
        assert token.text and not token.text[0].isspace() and not token.text[-1].isspace()
        assert token.start >= previous_end
        previous_end = token.end
    covered = "".join(t.text for t in tokens)
    assert covered == "".join(text.split())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "text",
    [
        "텔레그램에 내 사진이 합성돼서 돌아다녀ㅠㅠㅠ",
        "제얼굴로합성된사진이돌아다녀요",
        "  신고   하 고싶 어  ",
        "deepfake 영상 3개 봤는데 😭😭 어떡해",
        "ㅋㅋㅋㅋㅋㅋ ㅇㅇ ㄴㄴ ㅠㅠㅠ",
        "인스타DM으로 받음!!!???",
        "되나욬 했어요 만든",
        "\t줄\n바꿈\r\n있음",
        "a\u200bb 제로폭",
        "010-1234-5678 연락줘",
    ],
)
def test_offsets_index_the_original_text(backend, text):
    assert_exact(text, tokenize_text(text, get_analyser(backend)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_particle_is_split_from_platform_name(backend):
    tokens = spans("텔레그램에 올라왔어", backend)
    assert ("텔레그램", 0, 4) in tokens
    assert ("에", 4, 5) in tokens


def test_kiwi_overlapping_morphemes_become_one_surface_token():
    # Kiwi analyses 했 as 하 + 었 on the same character, and 만든 as 만들 + ᆫ.
    tokens = tokenize_text("했어요 만든", get_analyser("kiwi"))
    by_text = {t.text: t for t in tokens}
    assert by_text["했"].lemma == "하"
    assert by_text["했"].data["morphemes"] == ["하", "었"]
    assert by_text["만든"].lemma == "만들"
    assert by_text["만든"].data["pos"] == "VV+ETM"


def test_kiwi_tokens_carry_morpheme_ids_and_tags():
    # CongFeaturizer reads Kiwi's morpheme ids (CoNg similarities) from the tokens.
    from bot.components.korean_tokenizer import get_kiwi

    tokens = tokenize_text("사진이 합성됐어", get_analyser("kiwi"))
    by_text = {t.text: t for t in tokens}
    assert by_text["사진"].data["tags"] == ["NNG"]
    (photo_id,) = by_text["사진"].data["ids"]
    assert get_kiwi().morpheme(photo_id).form == "사진"
    assert len(by_text["됐"].data["ids"]) == len(by_text["됐"].data["morphemes"])


def test_okt_lemma_comes_from_the_stemmed_analysis():
    tokens = tokenize_text("돌아다녀", get_analyser("konlpy"))
    assert [(t.text, t.lemma) for t in tokens] == [("돌아다녀", "돌아다니다")]


def test_merge_spans_unions_overlaps_and_drops_empty_morphemes():
    text = "합성돼서"
    morphemes = [
        Morpheme(0, 2, "합성", "NNG"),
        Morpheme(2, 3, "되", "XSV"),
        Morpheme(2, 4, "어서", "EC"),
        Morpheme(4, 4, "", "ZERO"),
    ]
    tokens = merge_spans(text, morphemes)
    assert [(t.text, t.start, t.end, t.lemma) for t in tokens] == [
        ("합성", 0, 2, "합성"),
        ("돼서", 2, 4, "되"),
    ]


def test_text_no_morpheme_covers_still_becomes_tokens():
    tokens = merge_spans("가 ?!", [Morpheme(0, 1, "가", "NNG")])
    assert [(t.text, t.start, t.end) for t in tokens] == [("가", 0, 1), ("?!", 2, 4)]


def test_konlpy_tagger_that_normalises_is_aligned_by_eojeol():
    # Komoran rewrites 했어요 as 하 + 았 + 어요: none of it is a substring.
    analyser = get_analyser("konlpy", "Komoran")
    text = "합성했어요 텔레그램에서"
    tokens = tokenize_text(text, analyser)
    assert_exact(text, tokens)
    assert [(t.text, t.lemma) for t in tokens][:2] == [("합성", "합성"), ("했어요", "하")]
    assert ("텔레그램", 6, 10) in [(t.text, t.start, t.end) for t in tokens]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("text", ["", " ", "\n\t  \u3000"])
def test_empty_and_whitespace_give_no_tokens(backend, text):
    assert tokenize_text(text, get_analyser(backend)) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_very_long_messages(backend):
    for text in ("제얼굴로합성된사진이돌아다녀요" * 700, "신고하고 싶어요 " * 1300, "ㅋ" * 10_000):
        tokens = tokenize_text(text, get_analyser(backend))
        assert_exact(text, tokens)


def test_chunks_keep_whole_eojeol_and_cut_only_very_long_ones():
    text = "가나 " * 200 + "x" * (MAX_EOJEOL_CHARS * 2 + 5)
    pieces = list(chunks(text))
    for offset, chunk in pieces:
        assert text[offset : offset + len(chunk)] == chunk
    assert "".join(c for _, c in pieces).replace(" ", "") == text.replace(" ", "")
    assert max(len(c) for _, c in pieces) <= 200


@pytest.mark.parametrize("backend", BACKENDS)
def test_decomposed_hangul_keeps_offsets(backend):
    text = unicodedata.normalize("NFD", "텔레그램에 합성 사진")
    assert_exact(text, tokenize_text(text, get_analyser(backend)))


korean_ish = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),  # syllables
        st.characters(min_codepoint=0x3131, max_codepoint=0x318E),  # jamo, 초성
        st.sampled_from(list(" \t\n  ㅋㅠㅇㄴ?!.~^0123456789abcXYZ😭🙏❤️\u200b")),
        st.characters(),
    ),
    max_size=120,
)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=korean_ish)
def test_property_offsets_are_exact_on_arbitrary_strings(backend, text):
    assert_exact(text, tokenize_text(text, get_analyser(backend)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_analyser_is_built_once_per_process(backend):
    assert get_analyser(backend) is get_analyser(backend)
    config = {**KoreanMorphemeTokenizer.get_default_config(), "backend": backend}
    assert KoreanMorphemeTokenizer(config)._analyser is get_analyser(backend)


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="backend"):
        get_analyser("mecab")


@pytest.mark.parametrize("backend", BACKENDS)
def test_component_tokenizes_messages_from_many_threads(backend):
    config = {**KoreanMorphemeTokenizer.get_default_config(), "backend": backend}
    tokenizer = KoreanMorphemeTokenizer(config)
    texts = [f"{i}번째 [텔레]그램에 합성 사진이 올라왔어요ㅠ" for i in range(40)]

    def run(text):
        message = Message.build(text=text)
        tokenizer.process([message])
        return [(t.text, t.start, t.end) for t in message.get("text_tokens")]

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, texts))
    for text, tokens in zip(texts, results, strict=True):
        assert all(text[s:e] == t for t, s, e in tokens)
        assert ("합성", text.index("합성"), text.index("합성") + 2) in tokens


def test_process_exits_after_konlpy_ran_in_threads():
    """Threads attached to the JVM as non-daemons make the process hang at exit
    (seen: pytest finished, then waited forever in JPype's shutdown)."""
    import subprocess
    import sys

    from jikimi.settings import ROOT

    script = (
        "import concurrent.futures\n"
        "from bot.components.korean_tokenizer import get_analyser, tokenize_text\n"
        "a = get_analyser('konlpy')\n"
        "with concurrent.futures.ThreadPoolExecutor(4) as pool:\n"
        "    list(pool.map(lambda t: tokenize_text(t, a), ['텔레그램에 올라왔어'] * 20))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, timeout=120, capture_output=True
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
