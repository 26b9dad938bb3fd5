"""The trained model on data it never saw, and single-turn replies in Korean."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from jikimi.settings import ROOT

pytestmark = pytest.mark.slow


def load_data(path):
    from rasa.shared.nlu.training_data.loading import load_data as rasa_load

    return rasa_load(path)


def parse(agent, text):
    return asyncio.run(agent.parse_message(text))


@pytest.fixture(scope="module")
def heldout():
    return load_data(str(ROOT / "tests" / "data" / "nlu_heldout.yml"))


@pytest.fixture(scope="module")
def fresh():
    return load_data(str(ROOT / "tests" / "data" / "nlu_heldout_fresh.yml"))


def classify(agent, text):
    """The intent classifier's own answer (ranking included), before the
    fallback and the crisis detector change it: what the NLU understood."""
    from rasa.core.channels.channel import UserMessage

    from bot.components.linear_classifier import LinearIntentClassifier

    processor = agent.processor
    nodes = processor.model_metadata.predict_schema.nodes
    target = next(name for name, node in nodes.items() if node.uses is LinearIntentClassifier)
    out = processor.graph_runner.run(inputs={"__message__": [UserMessage(text)]}, targets=[target])
    (parsed,) = out[target]
    return parsed.get("intent"), parsed.get("intent_ranking")


def test_heldout_intent_accuracy(agent, heldout):
    wrong = Counter()
    total = 0
    for example in heldout.intent_examples:
        predicted = parse(agent, example.get("text"))["intent"]["name"]
        total += 1
        if predicted != example.get("intent"):
            wrong[example.get("intent")] += 1
    accuracy = 1 - sum(wrong.values()) / total
    print(f"held-out accuracy {accuracy:.3f}; errors by intent {dict(wrong)}")
    assert accuracy >= 0.80, dict(wrong)


def test_fresh_heldout_accuracy_and_calibration(agent, fresh):
    """The fresh held-out set (written before the issue-14 data, never trained
    on): accuracy, and confidence that means something. Wrong answers at or
    above the fallback threshold (0.5) are answered instead of asked again."""
    import numpy as np

    gold, predicted, confidence = [], [], []
    for example in fresh.intent_examples:
        intent, _ = classify(agent, example.get("text"))
        gold.append(example.get("intent"))
        predicted.append(intent["name"])
        confidence.append(intent["confidence"])
    right = np.array(gold) == np.array(predicted)
    confidence = np.array(confidence)
    accuracy = right.mean()
    bins = np.minimum((confidence * 10).astype(int), 9)
    ece = sum(
        (bins == b).mean() * abs(right[bins == b].mean() - confidence[bins == b].mean())
        for b in range(10)
        if (bins == b).any()
    )
    confident_wrong = ((~right) & (confidence >= 0.5)).mean()
    print(f"fresh accuracy {accuracy:.3f}, ECE {ece:.3f}, wrong at >= 0.5 {confident_wrong:.3f}")
    assert accuracy >= 0.88
    assert ece <= 0.08
    assert confident_wrong <= 0.08
    # sure when right, unsure when wrong
    assert confidence[right].mean() - confidence[~right].mean() >= 0.2


def test_heldout_platform_values(agent, heldout):
    training = load_data(str(ROOT / "data" / "nlu_ko"))
    # The held-out file annotates surface forms (텔레); the model must map them
    # to canonical values with the training synonyms, looked up lowercased.
    synonyms = {k.lower(): v for k, v in training.entity_synonyms.items()}
    found = expected = 0
    for example in heldout.entity_examples:
        want = sorted(
            synonyms.get(e["value"].lower(), e["value"].lower()) for e in example.get("entities")
        )
        got = sorted(
            e["value"].lower()
            for e in parse(agent, example.get("text"))["entities"]
            if e["entity"] == "platform"
        )
        expected += len(want)
        found += len(set(want) & set(got))
    assert expected >= 10
    assert found / expected >= 0.8


def platform_values(agent, text):
    return [e["value"] for e in parse(agent, text)["entities"] if e["entity"] == "platform"]


def _spellings():
    from bot.components.platforms import all_spellings

    return all_spellings()


@pytest.mark.parametrize("spelling", _spellings(), ids=lambda s: f"{s.value}:{s.kind}:{s.text}")
def test_every_platform_spelling_is_understood(agent, spelling):
    """Each contract platform by its Korean, Latin, abbreviated and slang
    names (bot/components/platforms.py), glued to a particle as typed."""
    prefix = "해외 " if spelling.kind == "generic" else ""
    text = f"{prefix}{spelling.text}에 내 합성 사진이 올라왔어"
    assert platform_values(agent, text) == [spelling.value]


@pytest.mark.parametrize(
    "text, value",
    [
        ("텔레그램에 내 사진 올라왔어", "telegram"),
        ("인스타에서 합성사진 봤어요", "instagram"),
        ("카톡 단톡방에 돌고 있대", "kakaotalk"),
        ("디코서 누가 뿌렸대", "discord"),
        ("insta에 올라왔대", "instagram"),
        ("telegram 방에 있대요", "telegram"),
        ("tiktok에서 봤어", "tiktok"),
        ("LINE으로 받았어요", "line"),
        ("밴드에 올라왔어요", "naver"),
        ("단톡방에 돌아", "kakaotalk"),
        ("해외 사이트라서 못 지운대", "other"),
    ],
)
def test_platform_with_particle_is_normalised(agent, text, value):
    assert platform_values(agent, text) == [value]


@pytest.mark.parametrize("text", ["온라인 수업 듣기 싫어", "ox 퀴즈 풀래", "헤어밴드 샀어", "x"])
def test_no_platform_in_false_friends(agent, text):
    assert platform_values(agent, text) == []


# Answers to the bot's own questions (docs/conversation.md): the classifier
# must not be sure of a wrong intent for them.
@pytest.mark.parametrize(
    "text, intents",
    [
        ("어제 밤", {"report_incident"}),
        ("밤에요", {"report_incident"}),
        ("새벽쯤", {"report_incident"}),
        ("3일 전", {"report_incident"}),
        ("어제 저녁", {"report_incident"}),
        ("같은반 애들 같음", {"report_incident"}),
        ("모르는 계정", {"report_incident"}),
        ("응 안전한 곳이야", {"affirm"}),
        ("네 지워 주세요", {"affirm"}),
        ("아니 지우지 마", {"deny"}),
        ("ㄴㄴ 안전하지 않아", {"deny"}),
        ("아니 그런 생각 안 해", {"deny"}),
        ("죽고 싶다는 게 아니라 그냥 물어본 거야", {"deny", "ask_law"}),
    ],
)
def test_short_answers_to_the_bots_questions(agent, text, intents):
    intent, ranking = classify(agent, text)
    assert intent["name"] in intents, ranking[:3]


# Replies that are domain responses (no action server needed): greeting, safety,
# and the flows not yet rendered from content/. Lessons: tests/e2e. The first
# reply is checked (the crisis reply is followed by a safety question), against
# any version of the response (versions depend on who is speaking). Privacy is
# answered by an action now (docs/conversation.md).
@pytest.mark.parametrize(
    "text, response",
    [
        ("안녕하세요", "utter_greet"),
        ("너 사람이야?", "utter_iamabot"),
        ("제 얼굴로 합성된 사진이 돌아다녀요", "utter_report_incident"),
        ("너무 무서워", "utter_distress"),
        ("죽고 싶어", "utter_crisis"),
        ("사진 안 보내면 단톡에 뿌린다고 협박해요", "utter_threat"),
        ("내 기록 다 지워줘", "utter_delete_confirm"),
        ("오늘 날씨 어때", "utter_out_of_scope"),
    ],
)
def test_single_turn_reply(agent, text, response):
    replies = asyncio.run(agent.handle_text(text, sender_id=f"model-{response}"))
    expected = {r.get("text") for r in agent.domain.responses[response]}
    assert replies and replies[0]["text"] in expected, [r.get("text") for r in replies]


def button_labels():
    """(label, intent) of every button of the domain and of content/ whose payload
    is an intent of the NLU contract (others are payload-only)."""
    import re

    import yaml

    from tests.test_nlu_data import contract_intents

    found = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("title"), str) and isinstance(node.get("payload"), str):
                found.add((node["title"], node["payload"]))
            for key, value in node.items():
                if key == "payload":
                    continue
                if isinstance(value, str) and re.fullmatch(r"/[a-z_]+", value):
                    found.add((key, value))  # content's "label: /intent" maps
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in [*(ROOT / "bot" / "domain").glob("*.yml"), *(ROOT / "content").glob("*.yml")]:
        walk(yaml.safe_load(path.read_text()))
    topics = yaml.safe_load((ROOT / "content" / "topics.yml").read_text())
    found.update((label, f"/{intent}") for intent, label in topics.items())
    intents = set(contract_intents())
    return sorted((label, payload[1:]) for label, payload in found if payload[1:] in intents)


# Typed instead of tapped, this label reads as delete_my_data, which the
# delete confirmation takes as a yes too (bot/rules/report.yml).
# "연결해 주세요" answers the counsellor offer (payload affirm); typed, it reads
# as asking for a counsellor, which that offer leads to as well.
ALSO_RIGHT = {"네, 모두 지워 주세요": {"delete_my_data"}, "연결해 주세요": {"request_counsellor"}}


def test_typed_button_labels_are_understood(agent):
    labels = button_labels()
    assert len(labels) >= 20
    wrong = {
        label: (intent, parse(agent, label)["intent"]["name"])
        for label, intent in labels
        if parse(agent, label)["intent"]["name"] not in {intent, *ALSO_RIGHT.get(label, ())}
    }
    assert not wrong, wrong
