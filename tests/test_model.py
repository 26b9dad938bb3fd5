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


def test_heldout_platform_values(agent, heldout):
    training = load_data(str(ROOT / "data" / "nlu_ko"))
    # The held-out file annotates surface forms (텔레); the model must map them
    # to canonical values with the training synonyms, looked up lowercased.
    synonyms = {k.lower(): v for k, v in training.entity_synonyms.items()}
    found = expected = 0
    for example in heldout.entity_examples:
        want = sorted(
            synonyms.get(e["value"].lower(), e["value"].lower())
            for e in example.get("entities")
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


@pytest.mark.parametrize(
    "text, value",
    [
        ("텔레그램에 내 사진 올라왔어", "telegram"),
        ("인스타에서 합성사진 봤어요", "instagram"),
        ("카톡 단톡방에 돌고 있대", "kakaotalk"),
        ("디코서 누가 뿌렸대", "discord"),
    ],
)
def test_platform_with_particle_is_normalised(agent, text, value):
    values = [e["value"] for e in parse(agent, text)["entities"] if e["entity"] == "platform"]
    assert values == [value]


# Replies that are domain responses (no action server needed): greeting, safety,
# and the flows not yet rendered from content/. Lessons: tests/e2e.
@pytest.mark.parametrize(
    "text, response",
    [
        ("안녕하세요", "utter_greet"),
        ("너 사람이야?", "utter_iamabot"),
        ("제 얼굴로 합성된 사진이 돌아다녀요", "utter_report_incident"),
        ("너무 무서워", "utter_distress"),
        ("죽고 싶어", "utter_crisis"),
        ("사진 안 보내면 단톡에 뿌린다고 협박해요", "utter_threat"),
        ("익명으로 할 수 있어?", "utter_privacy"),
        ("내 기록 다 지워줘", "utter_delete_confirm"),
        ("오늘 날씨 어때", "utter_out_of_scope"),
    ],
)
def test_single_turn_reply(agent, text, response):
    replies = asyncio.run(agent.handle_text(text, sender_id=f"model-{response}"))
    expected = agent.domain.responses[response][0]["text"]
    assert [r["text"] for r in replies] == [expected]


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
ALSO_RIGHT = {"네, 모두 지워 주세요": {"delete_my_data"}}


def test_typed_button_labels_are_understood(agent):
    labels = button_labels()
    assert len(labels) >= 20
    wrong = {
        label: (intent, parse(agent, label)["intent"]["name"])
        for label, intent in labels
        if parse(agent, label)["intent"]["name"] not in {intent, *ALSO_RIGHT.get(label, ())}
    }
    assert not wrong, wrong
