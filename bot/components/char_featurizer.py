"""Character n-grams over whole words (eojeol) or the whole message.

Rasa's CountVectorsFeaturizer makes character n-grams of each token, and our
tokens are morphemes, so its n-grams stop at every morpheme boundary: 신고하고
싶어 gives 신고 / 하 / 고 / 싶 / 어 and never 고하, 하고싶 or 고싶어, which is where
much of Korean's meaning, typos and spacing mistakes live. This featurizer
makes the n-grams of the text itself: over each eojeol (``unit: eojeol``, the
text split on spaces, n-grams padded with a space at both ends so that word
starts and ends are features) or over the message with spaces removed
(``unit: message``, n-grams cross word boundaries, so 신고 하고싶어 and
신고하고 싶어 share theirs). ``jamo: true`` decomposes Hangul syllables into
letters first (했어 -> ㅎㅐㅆㅇㅓ), so that typos of one letter and 초성 spellings
share n-grams with the correct word.

Sentence features: the n-gram counts of the whole message (sublinear, scaled
to unit length). Sequence features: for each token, the n-grams of the eojeol
it is part of, so that DIET can use them as well.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from typing import Any, Dict, List, Optional, Text

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

_CHO = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_JUNG = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_JONG = ["", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"]
_REPEAT = re.compile(r"(.)\1{2,}")
_SPACE = re.compile(r"\s+")
MAX_CHARS = 1000  # a chat message is far shorter; a pasted essay is cut


def to_jamo(text: str) -> str:
    """Hangul syllables as compatibility letters (했 -> ㅎㅐㅆ); the rest as is."""
    out = []
    for char in text:
        code = ord(char) - 0xAC00
        if 0 <= code < 11172:
            out.append(_CHO[code // 588] + _JUNG[(code % 588) // 28] + _JONG[code % 28])
        else:
            out.append(char)
    return "".join(out)


def normalise(text: str) -> str:
    """NFC, lower case, runs of 3+ equal characters cut to 2 (ㅋㅋㅋㅋ -> ㅋㅋ)."""
    text = unicodedata.normalize("NFC", text[:MAX_CHARS]).lower()
    return _REPEAT.sub(r"\1\1", text)


def ngrams(text: str, low: int, high: int) -> List[str]:
    grams = []
    for n in range(low, high + 1):
        grams.extend(text[i : i + n] for i in range(len(text) - n + 1))
    return grams


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True
)
class CharNgramFeaturizer(SparseFeaturizer, GraphComponent):
    """Sparse character n-gram features of eojeol or of the whole message."""

    @classmethod
    def required_components(cls) -> List[type]:
        """Tokens are needed for the sequence features."""
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Returns the component's default config."""
        return {
            **SparseFeaturizer.get_default_config(),
            "unit": "eojeol",  # or "message": n-grams across word boundaries
            "jamo": False,  # decompose Hangul syllables into letters first
            "min_ngram": 1,
            "max_ngram": 5,
            "min_df": 1,  # n-grams seen in fewer training messages are dropped
            # Per-token features too (for DIET); the linear classifier reads
            # only the message's, and building them costs time per message.
            "sequence_features": True,
        }

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Checks the unit and the n-gram range."""
        if config["unit"] not in ("eojeol", "message"):
            raise ValueError("CharNgramFeaturizer: unit must be 'eojeol' or 'message'.")
        if not 1 <= config["min_ngram"] <= config["max_ngram"]:
            raise ValueError("CharNgramFeaturizer: need 1 <= min_ngram <= max_ngram.")

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        vocabulary: Optional[Dict[str, int]] = None,
    ) -> None:
        """Creates the featurizer, trained if a vocabulary is given."""
        super().__init__(execution_context.node_name, config)
        self._model_storage = model_storage
        self._resource = resource
        self.vocabulary = vocabulary or {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "CharNgramFeaturizer":
        """Creates an untrained featurizer."""
        return cls(config, model_storage, resource, execution_context)

    # --- text to n-grams ---

    def _prepare(self, text: str) -> str:
        text = normalise(text)
        return to_jamo(text) if self._config["jamo"] else text

    def _word_grams(self, word: str) -> List[str]:
        low, high = self._config["min_ngram"], self._config["max_ngram"]
        if self._config["jamo"]:
            # Letters are ~2.5 per syllable: longer n-grams, same reach.
            low, high = low + 1, high + 3
        return ngrams(f" {word} ", low, high)

    def message_grams(self, text: str) -> List[str]:
        """The n-grams of a whole message."""
        text = self._prepare(text)
        if self._config["unit"] == "message":
            squashed = _SPACE.sub("", text)
            return self._word_grams(squashed) if squashed else []
        grams: List[str] = []
        for word in text.split():
            grams.extend(self._word_grams(word))
        return grams

    # --- training ---

    def train(self, training_data: TrainingData) -> Resource:
        """Learns the n-gram vocabulary from the training messages."""
        document_frequency: Dict[str, int] = {}
        for example in training_data.training_examples:
            text = example.get(TEXT)
            if not text:
                continue
            for gram in set(self.message_grams(text)):
                document_frequency[gram] = document_frequency.get(gram, 0) + 1
        kept = sorted(g for g, df in document_frequency.items() if df >= self._config["min_df"])
        self.vocabulary = {gram: index for index, gram in enumerate(kept)}
        self.persist()
        return self._resource

    def persist(self) -> None:
        """Writes the vocabulary (JSON, no pickles)."""
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "vocabulary.json").write_text(
                json.dumps(self.vocabulary, ensure_ascii=False), encoding="utf-8"
            )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "CharNgramFeaturizer":
        """Loads the vocabulary; an untrained featurizer if there is none."""
        try:
            with model_storage.read_from(resource) as directory:
                vocabulary = json.loads(
                    (directory / "vocabulary.json").read_text(encoding="utf-8")
                )
        except (ValueError, FileNotFoundError):
            logger.warning("CharNgramFeaturizer: no vocabulary found; untrained.")
            vocabulary = {}
        return cls(config, model_storage, resource, execution_context, vocabulary)

    # --- features ---

    def _vector(self, grams: List[str]) -> scipy.sparse.csr_matrix:
        counts: Dict[int, int] = {}
        for gram in grams:
            index = self.vocabulary.get(gram)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        size = len(self.vocabulary)
        if not counts:
            return scipy.sparse.csr_matrix((1, size), dtype=np.float32)
        columns = np.fromiter(counts.keys(), dtype=np.int64)
        values = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32))
        values /= np.linalg.norm(values)
        return scipy.sparse.csr_matrix(
            (values, (np.zeros(len(columns), dtype=np.int64), columns)), shape=(1, size)
        )

    def _features(self, message: Message) -> None:
        text = message.get(TEXT)
        tokens = message.get(TOKENS_NAMES[TEXT])
        if not text or not tokens or not self.vocabulary:
            return
        sentence = self._vector(self.message_grams(text))
        if not self._config["sequence_features"]:
            self.add_features_to_message(None, sentence.tocoo(), TEXT, message)
            return
        # Each token gets the n-grams of the eojeol (whitespace word) it is in.
        words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        rows = []
        cache: Dict[int, scipy.sparse.csr_matrix] = {}
        for token in tokens:
            index = next(
                (i for i, (s, e) in enumerate(words) if s <= token.start < e), None
            )
            if index is None:
                rows.append(self._vector([]))
                continue
            if index not in cache:
                s, e = words[index]
                cache[index] = self._vector(self._word_grams(self._prepare(text[s:e])))
            rows.append(cache[index])
        sequence = scipy.sparse.vstack(rows).tocoo()
        self.add_features_to_message(sequence, sentence.tocoo(), TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Adds features to every training message."""
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds features to each message."""
        for message in messages:
            self._features(message)
        return messages
