"""Rasa's WhitespaceTokenizer without its Hangul-deleting emoji filter.

Only a benchmark baseline (scripts/bench_nlu.py, pipeline ``ws-hangul``): in
Rasa 3.6 the stock tokenizer's emoji pattern (U+24C2..U+1F251) covers every
Hangul syllable, so each all-Hangul word is dropped as an "emoji" and a Korean
message becomes one token. This one drops only words that are pictographs
(emoji), and otherwise splits on whitespace exactly as the stock one does, so
it measures what plain eojeol tokens are worth against our morphemes.
"""

from __future__ import annotations

from typing import Text

import regex
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer

_EMOJI = regex.compile(r"[\p{Extended_Pictographic}\p{Emoji_Modifier}\u200d\ufe0f]+")


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class HangulWhitespaceTokenizer(WhitespaceTokenizer):
    """Whitespace tokens (eojeol), Hangul kept."""

    def remove_emoji(self, text: Text) -> Text:
        """Drops a word only if it is nothing but emoji."""
        return "" if _EMOJI.fullmatch(text) else text
