"""Training data against the NLU contract (../shared/nlu-contract.md)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import yaml

from bot.components.korean_tokenizer import get_analyser, tokenize_text
from jikimi.settings import ROOT

SHARED = ROOT.parent / "shared"

CANONICAL_PLATFORMS = {
    "telegram", "instagram", "kakaotalk", "discord", "x", "tiktok",
    "youtube", "facebook", "line", "naver", "other",
}
CONFUSABLE = {
    "report_incident", "ask_bystander_help", "ask_law", "disclose_involvement",
    "ask_takedown", "delete_my_data", "express_distress", "crisis",
}


def contract_intents():
    text = (SHARED / "nlu-contract.md").read_text()
    names = re.findall(r"^\| ([a-z_]+) \|", text, flags=re.M)
    return [name for name in names if name != "intent"]  # the table's header


def load_nlu(path):
    from rasa.shared.nlu.training_data.loading import load_data

    return load_data(str(path))


@pytest.fixture(scope="module")
def training():
    return load_nlu(ROOT / "data" / "nlu_ko")


@pytest.fixture(scope="module")
def kiwi_config():
    config = yaml.safe_load((ROOT / "bot" / "config.yml").read_text())
    return next(s for s in config["pipeline"] if s["name"].endswith("KoreanMorphemeTokenizer"))


def test_contract_is_readable():
    assert len(contract_intents()) == 23


def test_every_contract_intent_is_trained_and_in_the_domain(training):
    intents = set(contract_intents())
    assert set(training.intents) == intents
    domain = yaml.safe_load((ROOT / "bot" / "domain" / "core.yml").read_text())
    assert set(domain["intents"]) == intents


def test_enough_distinct_examples(training):
    counts = Counter(e.get("intent") for e in training.intent_examples)
    for intent in contract_intents():
        assert counts[intent] >= 40, intent
        if intent in CONFUSABLE:
            assert counts[intent] >= 60, intent
    texts = [e.get("text") for e in training.intent_examples]
    assert len(texts) == len(set(texts)), "an example is listed twice"


def test_heldout_set_is_separate(training):
    heldout = load_nlu(ROOT / "tests" / "data" / "nlu_heldout.yml")
    seen = {e.get("text") for e in training.intent_examples}
    assert not seen & {e.get("text") for e in heldout.intent_examples}
    assert set(heldout.intents) == set(contract_intents())


def test_platform_values_are_canonical(training):
    for example in training.entity_examples:
        for entity in example.get("entities"):
            assert entity["entity"] == "platform"
            # Rasa's EntitySynonymMapper looks values up lowercased.
            synonyms = {k.lower(): v for k, v in training.entity_synonyms.items()}
            value = synonyms.get(entity["value"].lower(), entity["value"].lower())
            assert value in CANONICAL_PLATFORMS, entity
    assert set(training.entity_synonyms.values()) <= CANONICAL_PLATFORMS


def test_every_entity_aligns_with_the_tokenizer(training, kiwi_config):
    """A misaligned annotation is silently dropped by DIET: none may exist."""
    analyser = get_analyser("kiwi", user_words=tuple(kiwi_config.get("user_words", [])))
    misaligned = []
    for example in training.entity_examples:
        text = example.get("text")
        tokens = tokenize_text(text, analyser)
        starts = {t.start for t in tokens}
        ends = {t.end for t in tokens}
        for entity in example.get("entities"):
            if entity["start"] not in starts or entity["end"] not in ends:
                misaligned.append((text, entity["value"]))
    assert misaligned == []
