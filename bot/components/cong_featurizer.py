"""Dense morpheme features from Kiwi's CoNg language model.

Kiwi's default model (CoNg, in kiwipiepy-model) embeds morphemes; kiwipiepy
exposes only the cosine similarity of two morphemes (about 1 µs) and their
nearest neighbours, which are semantic (사진: 그림, 카메라, 영상, 촬영). A morpheme
becomes a vector of its similarities to ``landmarks`` landmark morphemes, the
most frequent content morphemes (nouns, verbs, adjectives, adverbs, roots) of
the training data; a message, the mean of its content morphemes' vectors. So
a word the training data never had still lands near the words it means.
Vectors are cached per morpheme id.

Measured against the character n-grams beside it (README "NLU benchmark"):
kept only if cross-validation supports it.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.korean_tokenizer import KoreanMorphemeTokenizer, get_kiwi

logger = logging.getLogger(__name__)

CONTENT_TAGS = ("NNG", "NNP", "VV", "VA", "MAG", "XR", "VV-R", "VV-I", "VA-R", "VA-I")
FIRST_REAL_ID = 61  # ids below are Kiwi's placeholders for unknown forms per tag
MAX_CACHE = 100_000


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True
)
class CongFeaturizer(DenseFeaturizer, GraphComponent):
    """Morpheme similarity vectors (CoNg) as dense features."""

    @classmethod
    def required_components(cls) -> List[type]:
        """Needs our tokenizer's morpheme ids."""
        return [KoreanMorphemeTokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Returns the component's default config."""
        return {
            **DenseFeaturizer.get_default_config(),
            "landmarks": 200,
            "user_words": [],
            # Per-token vectors too (for DIET); the linear classifier reads
            # only the message's.
            "sequence_features": True,
        }

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """At least one landmark."""
        if int(config["landmarks"]) < 1:
            raise ValueError("CongFeaturizer: landmarks must be at least 1.")

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        landmarks: Optional[List[int]] = None,
    ) -> None:
        """Creates the featurizer (trained if landmarks are given)."""
        super().__init__(execution_context.node_name, config)
        self._model_storage = model_storage
        self._resource = resource
        self.landmarks = landmarks or []
        self._kiwi = get_kiwi(tuple(config.get("user_words") or ()))
        self._cache: Dict[int, np.ndarray] = {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "CongFeaturizer":
        """Creates an untrained featurizer."""
        return cls(config, model_storage, resource, execution_context)

    @staticmethod
    def _content_ids(message: Message) -> List[List[int]]:
        """Per token, the ids of its content morphemes."""
        out = []
        for token in message.get(TOKENS_NAMES[TEXT]) or []:
            ids = token.get("ids") or []
            tags = token.get("tags") or []
            pairs = zip(ids, tags, strict=False)
            out.append([i for i, t in pairs if i >= FIRST_REAL_ID and t in CONTENT_TAGS])
        return out

    def train(self, training_data: TrainingData) -> Resource:
        """Picks the landmarks: the most frequent content morphemes."""
        counts: Dict[int, int] = {}
        for example in training_data.training_examples:
            for ids in self._content_ids(example):
                for i in ids:
                    counts[i] = counts.get(i, 0) + 1
        ranked = sorted(counts, key=lambda i: (-counts[i], i))
        usable = []
        for i in ranked:
            if len(usable) >= int(self._config["landmarks"]):
                break
            if np.isfinite(self._similarity(i, i)):
                usable.append(i)
        self.landmarks = usable
        self.persist()
        return self._resource

    def _similarity(self, a: int, b: int) -> float:
        try:
            return float(self._kiwi.morpheme_similarity(a, b))
        except Exception:  # an id without an embedding (user words)
            return float("nan")

    def _vector(self, morpheme_id: int) -> np.ndarray:
        vector = self._cache.get(morpheme_id)
        if vector is None:
            vector = np.nan_to_num(
                np.array([self._similarity(morpheme_id, mark) for mark in self.landmarks],
                         dtype=np.float32)
            )
            if len(self._cache) < MAX_CACHE:
                self._cache[morpheme_id] = vector
        return vector

    def persist(self) -> None:
        """Writes the landmark ids and forms (JSON)."""
        forms = []
        for i in self.landmarks:
            m = self._kiwi.morpheme(i)
            forms.append(f"{m.form}/{m.tag}")
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "landmarks.json").write_text(
                json.dumps({"ids": self.landmarks, "forms": forms}, ensure_ascii=False),
                encoding="utf-8",
            )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "CongFeaturizer":
        """Loads the landmarks; warns if Kiwi's morpheme ids have changed."""
        try:
            with model_storage.read_from(resource) as directory:
                stored = json.loads((directory / "landmarks.json").read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            stored = {"ids": [], "forms": []}
        featurizer = cls(config, model_storage, resource, execution_context, stored["ids"])
        for i, form in zip(stored["ids"], stored["forms"], strict=True):
            m = featurizer._kiwi.morpheme(i)
            if f"{m.form}/{m.tag}" != form:
                logger.warning("CongFeaturizer: Kiwi's morpheme ids changed; retrain.")
                break
        return featurizer

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Adds features to every training message."""
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds a vector per token and their mean for the message."""
        if not self.landmarks:
            return messages
        width = len(self.landmarks)
        for message in messages:
            per_token = self._content_ids(message)
            if not per_token:
                continue
            rows = []
            all_vectors = []
            for ids in per_token:
                vectors = [self._vector(i) for i in ids]
                all_vectors.extend(vectors)
                rows.append(np.mean(vectors, axis=0) if vectors else np.zeros(width, np.float32))
            sentence = (np.mean(all_vectors, axis=0) if all_vectors
                        else np.zeros(width, np.float32))
            sequence = np.vstack(rows) if self._config["sequence_features"] else None
            self.add_features_to_message(sequence, sentence.reshape(1, -1), TEXT, message)
        return messages
