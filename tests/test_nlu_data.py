"""Training data against the NLU contract (../shared/nlu-contract.md, copied to tests/data)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import yaml

from jikimi.settings import ROOT

# A copy of ../shared/nlu-contract.md (checked against it in tests/unit/test_wording.py).
NLU_CONTRACT = ROOT / "tests" / "data" / "nlu-contract.md"

CANONICAL_PLATFORMS = {
    "telegram",
    "instagram",
    "kakaotalk",
    "discord",
    "x",
    "tiktok",
    "youtube",
    "facebook",
    "line",
    "naver",
    "other",
}
CONFUSABLE = {
    "report_incident",
    "ask_bystander_help",
    "ask_law",
    "disclose_involvement",
    "ask_takedown",
    "delete_my_data",
    "express_distress",
    "crisis",
}


def contract_intents():
    text = NLU_CONTRACT.read_text()
    names = re.findall(r"^\| ([a-z_]+) \|", text, flags=re.M)
    return [name for name in names if name != "intent"]  # the table's header


def load_nlu(path):
    from rasa.shared.nlu.training_data.loading import load_data

    return load_data(str(path))


@pytest.fixture(scope="module")
def training():
    return load_nlu(ROOT / "data" / "nlu_ko")


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


def squash(text):
    """Letters and digits only, lower case: 신고 할래! and 신고할래 are one text."""
    return re.sub(r"[\W_]+", "", text.lower())


@pytest.mark.parametrize(
    "name", ["nlu_heldout.yml", "nlu_heldout_fresh.yml", "nlu_heldout_third.yml"]
)
def test_heldout_sets_are_separate(training, name):
    """Never trained on: no held-out text is in the training data, not even
    with other spacing or punctuation."""
    heldout = load_nlu(ROOT / "tests" / "data" / name)
    seen = {squash(e.get("text")) for e in training.intent_examples}
    assert not seen & {squash(e.get("text")) for e in heldout.intent_examples}
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


def annotated_values(example, synonyms):
    return {
        synonyms.get(str(e["value"]).lower(), str(e["value"]).lower())
        for e in example.get("entities") or []
        if e["entity"] == "platform"
    }


@pytest.mark.parametrize(
    "name",
    ["data/nlu_ko", "tests/data/nlu_heldout_fresh.yml", "tests/data/nlu_heldout_third.yml"],
)
def test_platform_annotations_agree_with_the_extractor(training, name):
    """The `platform` entity comes from PlatformExtractor (bot/components/
    platforms.py), which finds names on the raw text, not on token boundaries.
    Every platform named in the training data (and in the fresh held-out set)
    is annotated, and the extractor finds exactly the annotated values, so
    both agree on what a platform mention is."""
    from bot.components.platforms import PlatformMatcher

    matcher = PlatformMatcher()
    synonyms = {k.lower(): v for k, v in training.entity_synonyms.items()}
    data = training if name == "data/nlu_ko" else load_nlu(ROOT / name)
    disagree = [
        (e.get("text"), annotated_values(e, synonyms), set(matcher.values(e.get("text"))))
        for e in data.intent_examples
        if annotated_values(e, synonyms) != set(matcher.values(e.get("text")))
        # The third set's writer annotated a lone "x" (an answer to "where?");
        # the extractor reads a lone x as a quiz answer (test_nlu_components).
        and e.get("text").strip().lower() != "x"
    ]
    assert disagree == []


def test_training_texts_are_not_close_paraphrases_of_heldout_ones(training):
    """Beyond exact copies: no training text is nearly the same string as a
    held-out one (character bigram overlap), so the held-out figures mean
    "text nobody trained on". Short answers (under 8 letters) are exempt:
    "네 알겠어요" cannot be written afresh."""

    def bigrams(text):
        s = squash(text)
        return {s[i : i + 2] for i in range(len(s) - 1)}

    held = [
        (bigrams(e.get("text")), e.get("text"))
        for name in ("nlu_heldout.yml", "nlu_heldout_fresh.yml", "nlu_heldout_third.yml")
        for e in load_nlu(ROOT / "tests" / "data" / name).intent_examples
        if len(squash(e.get("text"))) >= 8
    ]
    close = []
    for example in training.intent_examples:
        if len(squash(example.get("text"))) < 8:
            continue
        grams = bigrams(example.get("text"))
        for other, text in held:
            if len(grams & other) / len(grams | other) >= 0.5:
                close.append((example.get("text"), text))
    assert close == []
