"""Korean morpheme tokenizer for Rasa 3.6.

Korean words (eojeol) glue a stem to particles and endings: `텔레그램에` is
`텔레그램` + `에`. Rasa's whitespace tokenizer keeps the eojeol whole (and in 3.6
even deletes Hangul words as "emoji"), so entities with a particle attached never
align. This tokenizer splits text into morphemes with one of two analysers:

- ``kiwi`` (kiwipiepy): no JVM, gives code-point offsets of its own.
- ``konlpy`` (default tagger Okt): gives no offsets, so its surface morphemes
  (``norm=False, stem=False``) are aligned by consuming the text left to right.

Analysers normalise and split surface forms (했 -> 하 + 었, 만든 -> 만들 + ᆫ), so
their morphemes are not always substrings of the text and their spans overlap.
Overlapping spans are merged into one token whose text is the original slice;
lemma and tags are kept as token data. Any non-space text an analyser skipped
becomes a token of its own, so the tokens always cover every non-space character
and their offsets always index the original text.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Text, Tuple

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

logger = logging.getLogger(__name__)

BACKENDS = ("kiwi", "konlpy")

# Analysers slow down sharply on long runs without spaces (Okt is superlinear),
# so text is analysed in chunks of whole eojeol, and absurdly long eojeol are cut.
MAX_CHUNK_CHARS = 200
MAX_EOJEOL_CHARS = 48

_NON_SPACE = re.compile(r"\S+")


@dataclass(frozen=True)
class Morpheme:
    """One analysed morpheme: its span in the analysed text, lemma and tag."""

    start: int
    end: int
    lemma: str
    tag: str
    id: int = -1  # Kiwi's morpheme id (-1: none), for CongFeaturizer


# An analyser takes a chunk of text and returns morphemes with offsets into it.
Analyser = Callable[[str], List[Morpheme]]

# One analyser per backend configuration and process: building Kiwi takes ~1 s
# and Okt starts a JVM. Created lazily (in create/load), never at import time,
# because a JVM does not survive fork().
_ANALYSERS: Dict[Tuple[Any, ...], Analyser] = {}
_ANALYSERS_LOCK = threading.RLock()


def get_analyser(
    backend: str, konlpy_tagger: str = "Okt", user_words: Tuple[str, ...] = ()
) -> Analyser:
    """Returns the process-wide analyser for a backend, building it once."""
    if backend not in BACKENDS:
        raise ValueError(
            f"Unknown Korean tokenizer backend '{backend}'; use one of {BACKENDS}."
        )
    if backend == "kiwi":
        key: Tuple[Any, ...] = (backend, tuple(user_words))
    else:
        key = (backend, konlpy_tagger)
    with _ANALYSERS_LOCK:
        if key not in _ANALYSERS:
            if backend == "kiwi":
                _ANALYSERS[key] = _build_kiwi(tuple(user_words))
            else:
                _ANALYSERS[key] = _build_konlpy(konlpy_tagger)
        return _ANALYSERS[key]


_KIWIS: Dict[Tuple[str, ...], Any] = {}


def get_kiwi(user_words: Tuple[str, ...] = ()) -> Any:
    """The process's Kiwi with these user words (its default model is CoNg,
    whose morpheme similarities CongFeaturizer reads)."""
    from kiwipiepy import Kiwi

    with _ANALYSERS_LOCK:
        key = tuple(user_words)
        if key not in _KIWIS:
            kiwi = Kiwi()
            for word in user_words:
                # A high score makes Kiwi prefer the word to its own guess
                # (단톡|방, not 단톡방), so slang splits from what follows it.
                kiwi.add_user_word(word, "NNP", 5.0)
            _KIWIS[key] = kiwi
        return _KIWIS[key]


def _build_kiwi(user_words: Tuple[str, ...]) -> Analyser:
    kiwi = get_kiwi(user_words)

    def analyse(text: str) -> List[Morpheme]:
        return [
            Morpheme(t.start, t.start + t.len, t.form, t.tag, t.id if t.id is not None else -1)
            for t in kiwi.tokenize(text)
        ]

    return analyse


def _build_konlpy(tagger_name: str) -> Analyser:
    import jpype
    import konlpy.tag

    tagger_cls = getattr(konlpy.tag, tagger_name, None)
    if tagger_cls is None:
        raise ValueError(f"konlpy has no tagger named '{tagger_name}'.")
    tagger = tagger_cls()  # starts the JVM once per process (konlpy's own options)
    is_okt = tagger_name == "Okt"

    def analyse(text: str) -> List[Morpheme]:
        # Threads of Rasa's async server and executors must be attached to the
        # JVM, and as daemons: a thread attached as non-daemon and never
        # detached makes the JVM (and so the process) hang at exit.
        if not jpype.java.lang.Thread.isAttached():
            jpype.java.lang.Thread.attachAsDaemon()
        if not is_okt:
            return _align_konlpy(text, tagger.pos(text))
        # norm=True would rewrite the text (되나욬 -> 되나요): align the surface
        # forms, and take lemmas from a stemmed call only when it lines up.
        surface = tagger.pos(text, norm=False, stem=False)
        stemmed = tagger.pos(text, norm=False, stem=True)
        if len(stemmed) != len(surface):
            return _align_konlpy(text, surface)
        return _align_konlpy(text, surface, [lemma for lemma, _ in stemmed])

    return analyse


def _align_konlpy(
    text: str, pairs: List[Tuple[str, str]], lemmas: Optional[List[str]] = None
) -> List[Morpheme]:
    """Gives konlpy's morphemes offsets by consuming the text left to right.

    konlpy returns no offsets (and Java's would be UTF-16 units), so each
    morpheme must match the text at the cursor, with only whitespace skipped.
    A morpheme that does not (a tagger that normalises, like Komoran's 하 for 했)
    is spread over the rest of its eojeol, which then becomes one token.
    ``lemmas``, parallel to ``pairs``, replaces the forms kept as lemmas.
    """
    morphemes: List[Morpheme] = []
    cursor = 0
    unaligned_end = -1  # end of the eojeol that an unaligned morpheme covers
    for index, (form, tag) in enumerate(pairs):
        if not form:
            continue
        lemma = lemmas[index] if lemmas else form
        start = cursor
        while start < len(text) and text[start].isspace():
            start += 1
        if text.startswith(form, start):
            morphemes.append(Morpheme(start, start + len(form), lemma, tag))
            cursor = start + len(form)
        elif cursor == unaligned_end and morphemes:
            # Another normalised piece of the eojeol already covered: share it.
            last = morphemes[-1]
            morphemes.append(Morpheme(last.start, last.end, lemma, tag))
        else:
            end = start
            while end < len(text) and not text[end].isspace():
                end += 1
            if end == start:
                continue
            morphemes.append(Morpheme(start, end, lemma, tag))
            cursor = unaligned_end = end
    return morphemes


def chunks(text: str) -> Iterator[Tuple[int, str]]:
    """Splits text into (offset, chunk) pieces of whole eojeol for the analyser."""
    chunk_start: Optional[int] = None
    chunk_end = 0
    for match in _NON_SPACE.finditer(text):
        start, end = match.span()
        if chunk_start is not None and end - chunk_start > MAX_CHUNK_CHARS:
            yield chunk_start, text[chunk_start:chunk_end]
            chunk_start = None
        if end - start > MAX_EOJEOL_CHARS:
            if chunk_start is not None:
                yield chunk_start, text[chunk_start:chunk_end]
                chunk_start = None
            for piece in range(start, end, MAX_EOJEOL_CHARS):
                yield piece, text[piece : min(piece + MAX_EOJEOL_CHARS, end)]
            continue
        if chunk_start is None:
            chunk_start = start
        chunk_end = end
    if chunk_start is not None:
        yield chunk_start, text[chunk_start:chunk_end]


def merge_spans(text: str, morphemes: List[Morpheme]) -> List[Token]:
    """Turns possibly overlapping morphemes into non-overlapping surface tokens.

    Morphemes whose spans overlap become one token over the union of their spans
    (text sliced from the original, lemma and tags kept as data). Zero-length
    morphemes carry no surface and are dropped; tokens never contain
    whitespace; non-space text that no morpheme covered becomes a token of its own.
    """
    groups: List[List[Morpheme]] = []
    group_end = -1
    for morpheme in sorted(
        (m for m in morphemes if m.end > m.start), key=lambda m: (m.start, m.end)
    ):
        if groups and morpheme.start < group_end:
            groups[-1].append(morpheme)
            group_end = max(group_end, morpheme.end)
        else:
            groups.append([morpheme])
            group_end = morpheme.end

    tokens: List[Token] = []
    covered = 0
    for group in groups:
        start, end = group[0].start, max(m.end for m in group)
        tokens.extend(_gap_tokens(text, covered, start))
        covered = end
        # An analyser may span characters it does not count as space (U+001F):
        # the group's first non-space run carries its lemma and tags.
        for index, token in enumerate(_gap_tokens(text, start, end)):
            if index == 0:
                token.lemma = group[0].lemma
                token.data = {
                    "pos": "+".join(m.tag for m in group),
                    "morphemes": [m.lemma for m in group],
                    "tags": [m.tag for m in group],
                    "ids": [m.id for m in group],
                }
            tokens.append(token)
    tokens.extend(_gap_tokens(text, covered, len(text)))
    return tokens


def _gap_tokens(text: str, start: int, end: int) -> List[Token]:
    return [
        Token(m.group(), start + m.start(), start + m.end(), data={"pos": "UNK"})
        for m in _NON_SPACE.finditer(text[start:end])
    ]


def tokenize_text(text: str, analyser: Analyser) -> List[Token]:
    """Tokenizes a whole text with an analyser, chunk by chunk."""
    morphemes: List[Morpheme] = []
    for offset, chunk in chunks(text):
        try:
            analysed = analyser(chunk)
        except Exception as error:  # an analyser bug must not cost a reply
            # The text itself is never logged: it may be a victim's message.
            logger.warning(
                "Korean analyser failed on a %d-character chunk (%s); "
                "using whitespace tokens.",
                len(chunk),
                type(error).__name__,
            )
            analysed = []
        for m in analysed:
            # Clamp to the chunk: an analyser must never move a token outside it.
            start = min(max(m.start, 0), len(chunk))
            end = min(max(m.end, start), len(chunk))
            morphemes.append(Morpheme(offset + start, offset + end, m.lemma, m.tag, m.id))
    return merge_spans(text, morphemes)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class KoreanMorphemeTokenizer(Tokenizer):
    """Splits Korean text into morphemes (kiwipiepy or konlpy), exact offsets."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Returns the component's default config."""
        return {
            # "kiwi" (kiwipiepy, no JVM) or "konlpy"
            "backend": "kiwi",
            # konlpy tagger class when backend is "konlpy": Okt, Komoran, ...
            "konlpy_tagger": "Okt",
            # proper nouns (slang, platform names) added to Kiwi's dictionary
            "user_words": [],
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        """Korean only."""
        return ["ko"]

    @staticmethod
    def required_packages() -> List[Text]:
        """Distribution names (Rasa checks them with pkg_resources)."""
        return ["kiwipiepy", "konlpy"]

    def __init__(self, config: Dict[Text, Any]) -> None:
        """Builds (or reuses) this process's analyser for the configured backend."""
        super().__init__(config)
        self._analyser = get_analyser(
            config["backend"], config["konlpy_tagger"], tuple(config["user_words"])
        )

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "KoreanMorphemeTokenizer":
        """Creates the tokenizer (the analyser is loaded here, not at import)."""
        return cls(config)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """Tokenizes the text of the given attribute of the message."""
        text = message.get(attribute) or ""
        return self._apply_token_pattern(tokenize_text(text, self._analyser))
