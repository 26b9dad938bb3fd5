"""Rule-based crisis detector: the safety net beside the intent classifier.

The classifier alone misses too many crisis messages (see the README figures
and /work/shared/rasa-korean-notes.md), and a missed "죽고 싶어" costs far more
than an extra safety reply. This component matches a reviewed lexicon of
regular expressions (data/safety/crisis_lexicon.yml) against a normalised copy
of every message and, on a match, forces the intent to ``crisis``.

Three categories of danger are told apart, because the dialogue must answer
them differently: ``medical`` (bleeding that will not stop, an overdose
already taken, someone unconscious: 119 first), ``self_harm`` (suicidal or
self-harm language, the user's own or someone else's) and ``threat``
(sextortion: a perpetrator threatening to spread material, demanding images
or money, or wanting to meet). The category travels as an entity ``danger``:
entities are copied into ``/model/parse`` output, into
``UserUttered.parse_data`` and ``tracker.latest_message``, can fill a slot with
a ``from_entity`` mapping, and can be read by actions with
``tracker.get_latest_entity_values("danger")``. When several categories match,
only the most urgent is recorded (``CATEGORIES`` order): one value keeps slot
filling deterministic.

Matching happens on a normalised copy (NFKC, no zero-width or control
characters, no spaces or punctuation, lower case, runs of three or more equal
characters collapsed), so "죽 고 싶 어", "자.살" and "죽고싶어어어어" all match;
an index map turns the match back into offsets of the original text.

The lexicon is not part of the trained model (this component is not
trainable): it is read when the model is loaded, from a path resolved against
the working directory and then the project root. A missing or broken lexicon
stops the model from loading, loudly; a failure on one message is logged
(never with its text) and leaves that message unchanged.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

logger = logging.getLogger(__name__)

CRISIS_INTENT = "crisis"
DANGER_ENTITY = "danger"
MEDICAL = "medical"
SELF_HARM = "self_harm"
THREAT = "threat"
CATEGORIES = (MEDICAL, SELF_HARM, THREAT)  # in order of priority

DEFAULT_LEXICON_PATH = "data/safety/crisis_lexicon.yml"
# bot/components/crisis_detector.py -> the project root
PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Longer texts are cut before matching; a chat message is far shorter, and the
# cap keeps a pasted novel from costing seconds on the single event loop.
MAX_CHARS = 20_000
_SPACE = re.compile(r"\s")

# A button payload (/ask_law, /inform{"x": 1}, /greet@0.9): Rasa's
# RegexMessageHandler turns these into intents after the pipeline has run, so
# the detector sees them too and must leave them alone. "/죽고싶어" is not a
# payload (intent names are ASCII) and is still checked.
_PAYLOAD = re.compile(r"\s*/[A-Za-z0-9_\-.]+(@[0-9.]+)?(\{.*\})?\s*", re.DOTALL)

_COMPATIBILITY_JAMO = range(0x3130, 0x3190)  # ㄱ..ㅣ as typed: ㅈㅅ, ㅠㅠ, ㅋㅋ


def normalise(text: str) -> Tuple[str, List[Tuple[int, int]]]:
    """Returns the matching copy of a text and, per character, its source span.

    Keeps letters and digits only (Hangul, Latin, jamo such as ㅈㅅ), so spaces,
    punctuation, emoji, zero-width and control characters between letters do
    not break a match. Decomposed Hangul (NFD, e.g. pasted from macOS) is
    recomposed; fullwidth forms become ASCII; Latin is lower-cased.
    """
    chars: List[str] = []
    spans: List[Tuple[int, int]] = []
    for position, char in enumerate(text):
        # NFKC would turn typed compatibility jamo (ㅈ) into conjoining jamo.
        if ord(char) in _COMPATIBILITY_JAMO:
            pieces = char
        else:
            pieces = unicodedata.normalize("NFKC", char)
        for piece in pieces:
            if chars and _joins_previous(piece):
                composed = unicodedata.normalize("NFC", chars[-1] + piece)
                if len(composed) == 1:  # 죽 from ᄌ + ᅮ + ᆨ, é from e + ◌́
                    chars[-1] = composed
                    spans[-1] = (spans[-1][0], position + 1)
                    continue
            if unicodedata.category(piece)[0] not in "LN":
                continue
            for lowered in piece.lower():
                chars.append(lowered)
                spans.append((position, position + 1))
    return _collapse_runs(chars, spans)


def _joins_previous(char: str) -> bool:
    """A combining mark, or a Hangul vowel or final jamo (decomposed text)."""
    return bool(unicodedata.combining(char)) or 0x1160 <= ord(char) <= 0x11FF


def _collapse_runs(
    chars: List[str], spans: List[Tuple[int, int]]
) -> Tuple[str, List[Tuple[int, int]]]:
    """Collapses runs of three or more equal characters (싶어어어 -> 싶어)."""
    kept_chars: List[str] = []
    kept_spans: List[Tuple[int, int]] = []
    start = 0
    while start < len(chars):
        end = start
        while end < len(chars) and chars[end] == chars[start]:
            end += 1
        if end - start >= 3:
            kept_chars.append(chars[start])
            kept_spans.append((spans[start][0], spans[end - 1][1]))
        else:
            kept_chars.extend(chars[start:end])
            kept_spans.extend(spans[start:end])
        start = end
    return "".join(kept_chars), kept_spans


@dataclass(frozen=True)
class Detection:
    """One match: its category, lexicon group and span in the original text."""

    category: str
    group: str
    start: int
    end: int


@dataclass(frozen=True)
class PatternGroup:
    """A named set of patterns of one category, with the spans that veto them."""

    name: str
    category: str
    patterns: Tuple["re.Pattern[str]", ...]
    unless: Tuple["re.Pattern[str]", ...]
    # Patterns that do not count across two words: 자해, not "혼자 해결" or
    # "문자 해도 돼" (spaces are gone from the normalised text; _two_words).
    unspaced: Tuple["re.Pattern[str]", ...] = ()

    def matches(self, normalised: str) -> List[Tuple[int, int, bool]]:
        """Spans of the normalised text this group matches and does not veto,
        each with whether it must not span two words (``unspaced``).

        Each pattern is searched on its own, so a vetoed match of one pattern
        cannot hide an overlapping match of another.
        """
        vetoes = [m.span() for p in self.unless for m in p.finditer(normalised)]
        return [
            (m.start(), m.end(), p in self.unspaced)
            for p in self.patterns + self.unspaced
            for m in p.finditer(normalised)
            if m.end() > m.start()
            and not any(s < m.end() and m.start() < e for s, e in vetoes)
        ]


class Lexicon:
    """The crisis lexicon, compiled: pattern groups matched on normalised text."""

    def __init__(self, groups: List[PatternGroup]) -> None:
        """Keeps the compiled groups (use ``from_file`` or ``from_dict``)."""
        self.groups = groups

    @classmethod
    def from_file(cls, path: Path) -> "Lexicon":
        """Loads and compiles a lexicon file; raises on any problem in it."""
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            message = f"Cannot read the crisis lexicon {path}: {error}"
            raise ValueError(message) from error
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, source: str = "<lexicon>") -> "Lexicon":
        """Compiles a parsed lexicon; a bad group or regex raises ``ValueError``."""
        if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
            raise ValueError(f"{source}: expected a mapping with a 'groups' list.")
        groups = []
        for number, raw in enumerate(data["groups"], start=1):
            name = raw.get("name") if isinstance(raw, dict) else None
            where = f"{source}: group {name or number}"
            if not name or raw.get("category") not in CATEGORIES:
                raise ValueError(
                    f"{where}: needs a name and a category in {CATEGORIES}."
                )
            patterns = raw.get("patterns") or []
            unspaced = raw.get("unspaced") or []
            if not (patterns or unspaced) or not all(
                isinstance(p, str) and p for p in patterns + unspaced
            ):
                raise ValueError(f"{where}: needs a non-empty list of patterns.")
            groups.append(
                PatternGroup(
                    name=name,
                    category=raw["category"],
                    patterns=_compile(patterns, where),
                    unless=_compile(raw.get("unless") or [], where),
                    unspaced=_compile(unspaced, where),
                )
            )
        if not groups:
            raise ValueError(f"{source}: the lexicon has no groups.")
        return cls(groups)

    def detect_all(self, text: str) -> List[Detection]:
        """Every match in a text, in order of position, offsets into ``text``."""
        text = text[:MAX_CHARS]
        normalised, spans = normalise(text)
        found = [
            Detection(group.category, group.name, spans[start][0], spans[end - 1][1])
            for group in self.groups
            for start, end, unspaced in group.matches(normalised)
            if not (unspaced and _two_words(text, spans[start][0], spans[end - 1][1]))
        ]
        return sorted(found, key=lambda d: (d.start, d.end))

    def detect(self, text: str) -> Optional[Detection]:
        """The detection that decides the category: medical first, then self-harm, then threat."""
        found = self.detect_all(text)
        for category in CATEGORIES:
            for detection in found:
                if detection.category == category:
                    return detection
        return None


def _two_words(text: str, start: int, end: int) -> bool:
    """A match split by a space whose first part ends a longer word ("과자 살래":
    과 before 자); letters spaced out one by one ("자 살 하 고") are one word."""
    return bool(_SPACE.search(text[start:end])) and start > 0 and _is_syllable(text[start - 1])


def _is_syllable(char: str) -> bool:
    return "\uac00" <= char <= "\ud7a3"


def _compile(patterns: List[str], where: str) -> Tuple["re.Pattern[str]", ...]:
    compiled = []
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"{where}: patterns must be non-empty strings.")
        try:
            compiled.append(re.compile(pattern))
        except re.error as error:
            raise ValueError(f"{where}: bad pattern {pattern!r}: {error}") from error
    return tuple(compiled)


def resolve_lexicon_path(path: str) -> Path:
    """Finds the lexicon: as given, else relative to the project root.

    Rasa runs from the project root (``make run``, ``rasa run``), so the
    default root-relative path works there; the fallback to this file's
    project keeps tests and scripts started elsewhere working.
    """
    candidates = [Path(path)]
    if not Path(path).is_absolute():
        candidates.append(PROJECT_ROOT / path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c.resolve()) for c in candidates)
    raise FileNotFoundError(
        f"Crisis lexicon not found (tried {tried}). The crisis detector cannot "
        f"run without it: start Rasa from the project root or set 'lexicon_path' "
        f"for CrisisDetector in bot/config.yml."
    )


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class CrisisDetector(GraphComponent, IntentClassifier):
    """Forces intent ``crisis`` (with a ``danger`` entity) on crisis language."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Returns the component's default config."""
        return {
            # absolute, or relative to the working directory / project root
            "lexicon_path": DEFAULT_LEXICON_PATH,
        }

    def __init__(self, config: Dict[Text, Any], lexicon: Lexicon) -> None:
        """Keeps the config and the compiled lexicon."""
        self.component_config = config
        self.lexicon = lexicon

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "CrisisDetector":
        """Loads the lexicon once per model load; raises if it is missing or bad.

        Rasa builds non-trainable classifiers with ``create`` at inference too,
        so this is also where a deployed model reads the lexicon.
        """
        path = resolve_lexicon_path(config.get("lexicon_path") or DEFAULT_LEXICON_PATH)
        return cls(config, Lexicon.from_file(path))

    def process(self, messages: List[Message]) -> List[Message]:
        """Marks crisis messages; never raises and never logs user text."""
        for message in messages:
            try:
                self._process_one(message)
            except Exception as error:  # a detector bug must not cost a reply
                logger.error(
                    "CrisisDetector failed on a message (%s); left unchanged.",
                    type(error).__name__,
                )
        return messages

    def _process_one(self, message: Message) -> None:
        text = message.get(TEXT)
        if not isinstance(text, str) or not text or _PAYLOAD.fullmatch(text):
            return
        detection = self.lexicon.detect(text)
        if detection is None:
            return
        logger.debug(
            "CrisisDetector: %s (lexicon group %s).",
            detection.category,
            detection.group,
        )
        crisis = {INTENT_NAME_KEY: CRISIS_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
        ranking = [
            entry
            for entry in message.get(INTENT_RANKING_KEY) or []
            if isinstance(entry, dict) and entry.get(INTENT_NAME_KEY) != CRISIS_INTENT
        ]
        entities = [
            entity
            for entity in message.get(ENTITIES) or []
            if not (
                isinstance(entity, dict)
                and entity.get("entity") == DANGER_ENTITY
                and entity.get("extractor") == type(self).__name__
            )
        ]
        entities.append(
            {
                "entity": DANGER_ENTITY,
                "value": detection.category,
                "start": detection.start,
                "end": detection.end,
                "confidence_entity": 1.0,
                "extractor": type(self).__name__,
            }
        )
        # Built first, assigned last: an error above leaves the message as it was.
        message.set(INTENT, crisis, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [dict(crisis)] + ranking, add_to_output=True)
        message.set(ENTITIES, entities, add_to_output=True)
