"""The rule-based crisis detector: lexicon, normalisation, component, eval set."""

from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasa.core.channels.channel import UserMessage
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.data import TrainingType
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from bot.components.crisis_detector import (
    DEFAULT_LEXICON_PATH,
    MEDICAL,
    PROJECT_ROOT,
    SELF_HARM,
    THREAT,
    CrisisDetector,
    Lexicon,
    normalise,
    resolve_lexicon_path,
)

LEXICON_FILE = PROJECT_ROOT / DEFAULT_LEXICON_PATH
EVAL_FILE = PROJECT_ROOT / "tests" / "data" / "crisis_eval.yml"
COMPONENT = "bot.components.crisis_detector.CrisisDetector"


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.from_file(LEXICON_FILE)


def make_detector(tmp_path: Path, **config) -> CrisisDetector:
    return CrisisDetector.create(
        {**CrisisDetector.get_default_config(), **config},
        LocalModelStorage(tmp_path),
        Resource("crisis_detector"),
        ExecutionContext(GraphSchema({}), "test"),
    )


@pytest.fixture(scope="module")
def detector(tmp_path_factory) -> CrisisDetector:
    return make_detector(tmp_path_factory.mktemp("storage"))


def category(lexicon: Lexicon, text: str):
    found = lexicon.detect(text)
    return found.category if found else None


# --- the lexicon file -------------------------------------------------------


def lexicon_examples():
    data = yaml.safe_load(LEXICON_FILE.read_text(encoding="utf-8"))
    return [
        pytest.param(str(example), group["category"], id=f"{group['name']}-{example}")
        for group in data["groups"]
        for example in group["examples"]
    ]


@pytest.mark.parametrize("text, expected", lexicon_examples())
def test_every_lexicon_group_catches_its_examples(lexicon, text, expected):
    assert category(lexicon, text) == expected


def test_every_group_documents_why():
    data = yaml.safe_load(LEXICON_FILE.read_text(encoding="utf-8"))
    for group in data["groups"]:
        assert len(group.get("why", "")) > 40, group["name"]
        assert group.get("examples"), group["name"]


# --- beyond the eval set ----------------------------------------------------
# Written after the eval set, before tuning on them; kept out of it on purpose.

SELF_HARM_TEXTS = [
    # A blade in hand and the wish to cut; a wish to be gone with oneself in it.
    "면도칼 계속 쥐고 있어 팔 그어버리고 싶음",
    "커터칼 아직 손에 있어요",
    "저 같은 인간은 그냥 없어지는 게 맞아요",
    "학교도 사진도 다 사라졌으면 좋겠어 나까지",
    "죽고싶다는 말밖에 안 나와",
    "하루에도 몇 번씩 죽고 싶어져",
    "요즘 자꾸 극단적인 생각이 들어",
    "손목에 자국 생길 때까지 그었어",
    "칼로 팔 긋는 거 멈출 수가 없어",
    "매일 밤 자살 생각해",
    "차라리 죽는게 편하겠다",
    "나 없어지면 엄마 아빠 덜 힘들겠지",
    "이제 그만하고 싶다 다 그만 살래",
    "ㅈㄱㅅㄷ 진짜",
    "그냥 목숨 끊어버릴까",
    "옥상 난간에 앉아 있어",
    "지금 다리 위인데 무서워",
    "약 한꺼번에 다 털어 넣을까",
    "영영 깨어나지 않았으면",
    "세상에서 사라져버리고 싶어",
    "친구가 죽고 싶다고 카톡 보냈어",
    "아이가 자해를 하는 것 같아요",
    "딥페 때문에 학교에서 소문 다 나서 죽고 싶어요",
    "이 상태로는 더는 못 살겠어",
    "자살할래",
    "죽을 거야 오늘 밤에",
    "유언장 쓰는 중",
    "뛰어내릴 용기가 없어서 아직 살아있어",
    "나 진짜 죽을까봐 무서워 내가 뭘 할지",
    # decided: asking for the suicide hotline gets the crisis reply (it has 109)
    "자살예방 상담전화 번호 알려줘",
    # decided: negation is not handled
    "죽고 싶진 않은데 너무 힘들어",
]

THREAT_TEXTS = [
    "사진 안 보내면 인스타에 다 올린다고 협박함",
    "걔가 내 사진 가지고 협박해",
    "영상 유포한다고 돈 요구해요",
    "학교 애들한테 다 뿌린다고 했어",
    "나체 사진 더 보내라고 협박 와요",
    "디엠으로 돈 보내라고 안 그러면 가족한테 보낸대",
    "가해자가 집 앞에서 기다리고 있대요",
    "주소 알아냈다고 찾아온대요",
    "그 사람이 나 때릴 거래",
]

NEGATIVE_TEXTS = [
    # A blade and a line that are not self-harm; the pictures wished gone.
    "걔랑은 이제 확실하게 선 긋고 싶어",
    "엄마 도와서 칼 들고 양파 써는 중",
    "커터칼로 택배 박스 뜯었어",
    "그 합성 사진들 싹 다 없어졌으면 좋겠다",
    "아 배불러 죽겠다",
    "이 떡볶이 맛 죽인다",
    "너무 행복해서 죽을 것 같아",
    "엄마가 알면 나 진짜 죽어 ㅋㅋ",
    "운동하다 죽을 뻔",
    "식물이 다 죽었어 ㅠ",
    "숙제 다 끝내고 놀자",
    "빨리 방학 왔으면 좋겠다",
    "나도 그 신발 살래",
    "약속 다 취소했어",
    "감기약 먹고 잤어",
    "오늘 옥상에서 점심 먹었어",
    "선 긋기 숙제",
    "딥페이크 협박범 잡혔대",
    "퍼뜨린 애 처벌돼?",
    "친구가 내 사진 유포했어요",
    "유포된 거 삭제할 수 있어?",
    "시험 망해서 인생 끝났다",
    "게임 끝내고 싶다",
    "ㅈㅅ 늦었어 ㅠ",
    "선물 주고 싶어",
    "그놈 진짜 죽여버리고 싶어",
    "자해 사진 올리는 계정 신고하고 싶어",
    "자해공갈단 뉴스 봤어",
    "몸캠피싱 예방법 알려줘",
    "딥페이크 유포하면 처벌돼?",
    # 정신없다 is "hectic", not unconscious.
    "아까는 정신없어서 말도 못 했는데 알려줘서 고마워",
    "시험 기간이라 정신이 없어",
    "숨쉬기 힘들 만큼 뛰었어",
    "학원 그만두고 싶어",
    "넘어져서 무릎에 상처 났어",
    # 자해 across two words, or glued to an everyday word ending in 자.
    "혼자 해결하려고 했어",
    "혼자해결하려고했는데",
    "ㅇㅋ 문자해볼게 고마워",
    "1388에 문자 해도 돼?",
    "여자 해외 계정이 올렸대",
    "남자 해명 들어볼래",
    "과자 살래?",
    "과자살래",
    "여자 살 빠졌다",
    "왕자 결혼식 봤어",
    "죽자살자 공부함",
]


@pytest.mark.parametrize("text", SELF_HARM_TEXTS)
def test_self_harm_language_is_detected(lexicon, text):
    assert category(lexicon, text) == SELF_HARM


# Medical emergencies (issue 15 item 11): written for this, not in the eval
# set; 119 comes first, so the category wins over self_harm.
MEDICAL_TEXTS = [
    "수면제 잔뜩 먹었어",
    "또 그었는데 피가 계속 나 안 멈춰",
    "타이레놀 한 통 다 삼켰어 어지러워",
    "친구가 약을 한꺼번에 먹었는데 깨워도 안 일어나",
    "손목에서 피가 너무 많이 나",
    "동생이 숨을 안 쉬어",
]


@pytest.mark.parametrize("text", MEDICAL_TEXTS)
def test_medical_emergencies_come_first(lexicon, text):
    assert category(lexicon, text) == MEDICAL


@pytest.mark.parametrize("text", ["코피가 계속 나", "약 먹을 시간이야", "손가락 베여서 피 났어"])
def test_everyday_blood_and_pills_are_not_emergencies(lexicon, text):
    assert category(lexicon, text) != MEDICAL


@pytest.mark.parametrize("text", THREAT_TEXTS)
def test_threats_are_detected_as_threat(lexicon, text):
    assert category(lexicon, text) == THREAT


@pytest.mark.parametrize("text", NEGATIVE_TEXTS)
def test_hard_negatives_are_not_detected(lexicon, text):
    assert lexicon.detect_all(text) == []


def test_self_harm_wins_over_threat_and_vetoes_stay_local(lexicon):
    assert category(lexicon, "돈 안 주면 뿌린대 그냥 죽고 싶어") == SELF_HARM
    # one idiom earlier in the story does not veto the real sentence after it
    assert category(lexicon, "창피해 죽겠어 ㅋㅋ 아니 사실 진짜 죽고 싶어") == SELF_HARM
    assert category(lexicon, "자살골 넣어서 졌는데 자살하고 싶어") == SELF_HARM


# --- normalisation ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "죽 고 싶 어",
        "죽\t고\n싶\r\n어",
        "죽\u200b고\u200c싶\u200d어\ufeff",
        "죽\u00ad고\u2060싶어",
        "죽고\x00싶\x1f어",
        "죽.고.싶.어",
        "죽고😭😭싶어",
        "죽고싶어어어어어어어",
        "죽죽죽고싶어",
        unicodedata.normalize("NFD", "죽고 싶어"),
        "자\u0301살",  # a stray combining mark (Zalgo-style)
        "진짜 ｋｍｓ ㅠㅠ",
        "SUICIDE",
        "Ｓｕｉｃｉｄａｌ",
        "ㅈ ㅅ 하고 싶다",
    ],
)
def test_normalisation_tricks_still_match(lexicon, text):
    assert category(lexicon, text) == SELF_HARM


def test_normalise_keeps_letters_and_maps_back_to_the_source():
    text = "  죽 고\u200b싶어어어어!! 😭"
    normalised, spans = normalise(text)
    assert normalised == "죽고싶어"
    assert len(spans) == len(normalised)
    assert [text[s:e][0] for s, e in spans] == list("죽고싶어")
    assert spans[-1] == (text.index("어"), text.rindex("어") + 1)


def test_normalise_recomposes_decomposed_hangul_with_exact_spans():
    text = unicodedata.normalize("NFD", "나 죽고")
    normalised, spans = normalise(text)
    assert normalised == "나죽고"
    assert unicodedata.normalize("NFC", text[spans[1][0] : spans[2][1]]) == "죽고"


@pytest.mark.parametrize(
    "text, matched",
    [
        ("학교 가기 싫고 그냥 죽 고 싶 어", "죽 고 싶"),
        ("사진 더 안 보내면 뿌린대요", "안 보내면 뿌린대"),
        (unicodedata.normalize("NFD", "자살"), unicodedata.normalize("NFD", "자살")),
    ],
)
def test_detection_offsets_index_the_original_text(lexicon, text, matched):
    found = lexicon.detect(text)
    assert found is not None
    assert text[found.start : found.end] == matched


# --- robustness -------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_detector_never_raises_and_spans_stay_in_the_text(lexicon, text):
    for found in lexicon.detect_all(text):
        assert 0 <= found.start < found.end <= len(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(
        alphabet=st.sampled_from(list("죽고싶어자살해ㅈㅅ 싶다\u200b.😭죽́뿌린대안면")),
        max_size=60,
    )
)
def test_detector_never_raises_on_crisis_like_noise(lexicon, text):
    lexicon.detect_all(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_process_never_raises_on_arbitrary_text(detector, text):
    message = Message(data={"text": text})
    detector.process([message])
    intent = message.get("intent")
    assert intent is None or intent["name"] == "crisis"


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\x00\x01\x02\x1b[31m",
        "😭" * 3000,
        "가" * 10_000,
        "ㅋ" * 10_000 + " 죽고 싶어",
        "\ud800",  # a lone surrogate
        "a\u0301" * 2000,
    ],
)
def test_process_handles_extreme_messages(detector, text):
    message = Message(data={"text": text})
    detector.process([message])


def test_process_is_fast_enough_on_a_long_story(detector):
    import time

    story = "텔레그램 방에 내 사진이 올라왔대 너무 무섭고 창피해 죽겠어 " * 200
    story += "살기 싫어"
    message = Message(data={"text": story})
    started = time.perf_counter()
    detector.process([message])
    assert time.perf_counter() - started < 1.0
    assert message.get("intent")["name"] == "crisis"


def test_messages_without_text_or_intent_are_left_alone(detector):
    for message in [Message(data={}), Message(data={"text": None})]:
        before = dict(message.data)
        detector.process([message])
        assert message.data == before


# --- the component on real messages ----------------------------------------


def classified(text, ranking, entities=()):
    return Message(
        data={
            "text": text,
            "intent": dict(ranking[0]),
            "intent_ranking": [dict(r) for r in ranking],
            "entities": list(entities),
        }
    )


def test_process_sets_crisis_intent_ranking_and_category(detector):
    message = classified(
        "요즘 그냥 사라지고 싶어요",
        [
            {"name": "express_distress", "confidence": 0.61},
            {"name": "crisis", "confidence": 0.3},
            {"name": "greet", "confidence": 0.09},
        ],
    )
    detector.process([message])
    assert message.get("intent") == {"name": "crisis", "confidence": 1.0}
    assert message.get("intent_ranking") == [
        {"name": "crisis", "confidence": 1.0},
        {"name": "express_distress", "confidence": 0.61},
        {"name": "greet", "confidence": 0.09},
    ]
    [danger] = message.get("entities")
    assert danger["entity"] == "danger" and danger["value"] == SELF_HARM
    assert danger["extractor"] == "CrisisDetector"
    assert message.get("text")[danger["start"] : danger["end"]] == "사라지고 싶"
    # in the parse output (/model/parse, tracker.latest_message)
    output = message.as_dict(only_output_properties=True)
    assert output["intent"]["name"] == "crisis"
    assert output["entities"] == [danger]


def test_process_records_threat_and_keeps_other_entities(detector):
    platform = {
        "entity": "platform",
        "value": "instagram",
        "start": 19,
        "end": 21,
        "extractor": "DIETClassifier",
    }
    message = classified(
        "돈 안 주면 학교에 퍼뜨린다고 했어 인스타로",
        [{"name": "report_incident", "confidence": 0.9}],
        [platform],
    )
    detector.process([message])
    assert message.get("intent")["name"] == "crisis"
    assert message.get("entities")[0] == platform
    assert message.get("entities")[1]["value"] == THREAT


def test_process_overrides_nlu_fallback(detector):
    message = classified(
        "ㅈㅅ할까",
        [
            {"name": "nlu_fallback", "confidence": 0.4},
            {"name": "out_of_scope", "confidence": 0.35},
        ],
    )
    detector.process([message])
    assert message.get("intent") == {"name": "crisis", "confidence": 1.0}
    assert [r["name"] for r in message.get("intent_ranking")] == [
        "crisis",
        "nlu_fallback",
        "out_of_scope",
    ]


def test_process_on_a_message_already_crisis_keeps_one_crisis_entry(detector):
    message = classified(
        "죽고 싶어",
        [
            {"name": "crisis", "confidence": 0.97},
            {"name": "express_distress", "confidence": 0.02},
        ],
    )
    detector.process([message])
    detector.process([message])  # idempotent
    ranking = [r["name"] for r in message.get("intent_ranking")]
    assert ranking == ["crisis", "express_distress"]
    assert message.get("intent") == {"name": "crisis", "confidence": 1.0}
    assert [e["entity"] for e in message.get("entities")] == ["danger"]


def test_classifier_crisis_without_a_match_is_left_as_it_is(detector):
    message = classified("살려주세요", [{"name": "crisis", "confidence": 0.8}])
    detector.process([message])
    assert message.get("intent") == {"name": "crisis", "confidence": 0.8}
    assert message.get("entities") == []


def test_non_crisis_message_is_unchanged(detector):
    message = classified("배고파 죽겠다 ㅋㅋ", [{"name": "express_distress", "confidence": 0.7}])
    before = {k: v for k, v in message.data.items()}
    detector.process([message])
    assert message.data == before


@pytest.mark.parametrize(
    "payload", ["/ask_law", "/crisis", ' /inform{"text": "죽고싶어"}', "/greet@0.9"]
)
def test_button_payloads_are_not_touched(detector, payload):
    message = Message(data={"text": payload})
    detector.process([message])
    assert message.get("intent") is None


def test_slash_text_that_is_no_payload_is_still_checked(detector):
    message = Message(data={"text": "/죽고싶어"})
    detector.process([message])
    assert message.get("intent")["name"] == "crisis"


def test_internal_error_leaves_message_unchanged_and_logs_no_text(tmp_path, caplog, monkeypatch):
    detector = make_detector(tmp_path)

    def broken(text):
        raise ValueError(f"bad input {text}")

    monkeypatch.setattr(detector.lexicon, "detect", broken)
    message = classified("비밀인데 죽고 싶어", [{"name": "greet", "confidence": 0.5}])
    before = {k: v for k, v in message.data.items()}
    with caplog.at_level(logging.DEBUG):
        assert detector.process([message]) == [message]
    assert message.data == before
    assert "ValueError" in caplog.text
    assert "비밀" not in caplog.text and "죽고" not in caplog.text


def test_matches_are_logged_without_text(detector, caplog):
    with caplog.at_level(logging.DEBUG, logger="bot.components.crisis_detector"):
        detector.process([Message(data={"text": "비밀인데 자살하고 싶어"})])
    assert "self_harm" in caplog.text
    assert "비밀" not in caplog.text and "자살하고" not in caplog.text


# --- loading the lexicon ----------------------------------------------------


def test_relative_lexicon_path_resolves_from_another_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_lexicon_path(DEFAULT_LEXICON_PATH) == LEXICON_FILE
    assert make_detector(tmp_path).lexicon.groups


def test_missing_lexicon_fails_loudly(tmp_path):
    with pytest.raises(FileNotFoundError, match="lexicon_path"):
        make_detector(tmp_path, lexicon_path="data/safety/nope.yml")


@pytest.mark.parametrize(
    "content, message",
    [
        ("groups: []", "no groups"),
        ("groups:\n- name: x\n  category: self_harm\n  patterns: ['(']", "bad pattern"),
        ("groups:\n- name: x\n  category: sadness\n  patterns: [a]", "category"),
        ("groups:\n- name: x\n  category: threat\n  patterns: []", "patterns"),
        ("[unclosed", "Cannot read"),
    ],
)
def test_broken_lexicon_fails_loudly(tmp_path, content, message):
    path = tmp_path / "lexicon.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        make_detector(tmp_path, lexicon_path=str(path))


# --- in Rasa's own prediction graph ------------------------------------------


def test_in_the_nlu_graph_payloads_still_win_and_the_category_is_output(tmp_path):
    config = {
        "recipe": "default.v1",
        "language": "ko",
        "assistant_id": "test",
        "pipeline": [{"name": COMPONENT}],
        "policies": [],
    }
    graph = DefaultV1Recipe().graph_config_for_recipe(config, {}, training_type=TrainingType.NLU)
    schema = graph.predict_schema
    runner = DaskGraphRunner.create(
        graph_schema=schema,
        model_storage=LocalModelStorage(tmp_path),
        execution_context=ExecutionContext(schema, "test"),
    )

    def parse(text):
        result = runner.run(inputs={"__message__": [UserMessage(text)]}, targets=[graph.nlu_target])
        return result[graph.nlu_target][0].as_dict(only_output_properties=True)

    parsed = parse("만나주지 않으면 인스타에 올린대")
    assert parsed["intent"]["name"] == "crisis"
    entities = [(e["entity"], e["value"]) for e in parsed["entities"]]
    assert entities == [("danger", THREAT)]
    # RegexMessageHandler runs after the pipeline and has the last word.
    assert parse("/ask_law")["intent"]["name"] == "ask_law"
    assert parse("/ask_law")["entities"] == []


# --- the evaluation set ------------------------------------------------------


def squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text)).casefold()


@pytest.fixture(scope="module")
def eval_set():
    data = yaml.safe_load(EVAL_FILE.read_text(encoding="utf-8"))
    positives = [(t, c) for c, texts in data["crisis"].items() for t in texts]
    negatives = [t for texts in data["hard_negatives"].values() for t in texts]
    return positives, negatives


def test_eval_set_is_big_enough(eval_set):
    positives, negatives = eval_set
    assert len(positives) >= 80
    assert sum(c == THREAT for _, c in positives) >= 15
    assert len(negatives) >= 50
    assert {c for _, c in positives} == {MEDICAL, SELF_HARM, THREAT}


def test_eval_set_does_not_overlap_training_data(eval_set):
    positives, negatives = eval_set
    training = {
        squash(e.get("text"))
        for e in load_data(str(PROJECT_ROOT / "data" / "nlu_ko")).training_examples
    }
    texts = [t for t, _ in positives] + negatives
    assert len(training) > 500
    assert [t for t in texts if squash(t) in training] == []
    assert len({squash(t) for t in texts}) == len(texts), "duplicates in the eval set"


def test_unit_test_texts_are_not_in_the_eval_set(eval_set):
    positives, negatives = eval_set
    in_eval = {squash(t) for t, _ in positives} | {squash(t) for t in negatives}
    here = SELF_HARM_TEXTS + THREAT_TEXTS + NEGATIVE_TEXTS
    assert [t for t in here if squash(t) in in_eval] == []


def test_detector_alone_reaches_recall_and_false_positive_targets(lexicon, eval_set):
    positives, negatives = eval_set
    missed = [t for t, _ in positives if lexicon.detect(t) is None]
    wrong_category = [
        t for t, c in positives if lexicon.detect(t) and lexicon.detect(t).category != c
    ]
    false_positives = [t for t in negatives if lexicon.detect(t) is not None]
    recall = 1 - len(missed) / len(positives)
    false_positive_rate = len(false_positives) / len(negatives)
    assert recall >= 0.95, missed
    assert false_positive_rate <= 0.05, false_positives
    assert len(wrong_category) <= 0.05 * len(positives), wrong_category
