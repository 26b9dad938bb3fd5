"""The `platform` entity, found by spelling rather than by a model.

Students name a platform in many ways: 텔레그램, 텔레, 텔그, 텔방, telegram, TG.
A learned extractor only knows the spellings its training data had, and it can
only mark whole tokens, so 단톡방 (one morpheme to Kiwi or two, depending on the
sentence) and Latin names glued to a particle (insta에) were missed. Here every
spelling of every contract platform is listed once, with its kind (Korean name,
Latin script, abbreviation, slang or misspelling, or a generic description such
as 해외 사이트), and matched on the raw text with guards instead of token
boundaries. tests/unit/test_platforms.py has a test per spelling and the
false friends each guard is for (온라인, 헤어밴드, 텔레비전, 엑스레이, ox 퀴즈).

Values are the contract's (../shared/nlu-contract.md): telegram, instagram,
kakaotalk, discord, x, tiktok, youtube, facebook, line, naver, other.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Pattern, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

logger = logging.getLogger(__name__)

ENTITY = "platform"
VALUES = (
    "telegram", "instagram", "kakaotalk", "discord", "x", "tiktok",
    "youtube", "facebook", "line", "naver", "other",
)  # fmt: skip
KINDS = ("korean", "latin", "abbreviated", "slang", "generic")

# Spellings by platform and kind. A space inside a spelling matches any run of
# spaces or none ("네이버 카페" also finds 네이버카페). Prefixes in STRICT are
# short words with false friends inside longer words: they must not follow a
# Hangul or Latin letter and must be followed by a particle or a word from
# _AFTER (라인에, 밴드방), not by any other syllable (온라인, 라인업, 밴드부).
SPELLINGS: Dict[str, Dict[str, Tuple[str, ...]]] = {
    "telegram": {
        "korean": ("텔레그램",),
        "latin": ("telegram", "TG", "tele"),
        "abbreviated": ("텔레", "텔그"),
        "slang": ("텔방", "텔레방", "텔레그렘", "텔래그램", "텔레그람", "텔그램"),
    },
    "instagram": {
        "korean": ("인스타그램",),
        "latin": ("instagram", "insta", "IG", "insta DM"),
        "abbreviated": ("인스타",),
        "slang": ("인별", "인별그램", "인친", "인스타그렘", "인스타 릴스", "릴스"),
    },
    "kakaotalk": {
        "korean": ("카카오톡", "카카오", "카카오 오픈채팅"),
        "latin": ("kakaotalk", "kakao", "katalk", "kakao talk"),
        "abbreviated": (
            "카톡", "단톡", "단톡방", "갠톡", "오픈톡", "오픈채팅", "오픈채팅방", "오챗",
        ),
        "slang": (
            "깨톡", "톡방", "반톡", "단체톡", "단체 톡방", "오카방", "오픈카톡", "갠톡방", "카톡방",
        ),
    },
    "discord": {
        "korean": ("디스코드",),
        "latin": ("discord",),
        "abbreviated": ("디코",),
        "slang": ("디코방", "디스코드방", "디코 서버", "디스코"),
    },
    "x": {
        "korean": ("트위터", "엑스"),
        "latin": ("X", "twitter", "twt"),
        "abbreviated": ("트윗",),
        "slang": ("트터", "짹짹이", "트친", "트윗터", "트위타", "구 트위터"),
    },
    "tiktok": {
        "korean": ("틱톡",),
        "latin": ("tiktok", "tik tok"),
        "abbreviated": (),
        "slang": ("틱톡커", "틱톡 라이브", "띡톡", "틱똑"),
    },
    "youtube": {
        "korean": ("유튜브",),
        "latin": ("youtube", "YT", "yt shorts"),
        "abbreviated": ("유튭", "유툽"),
        "slang": ("유투브", "유트브", "쇼츠", "유튜브 쇼츠", "튜브"),
    },
    "facebook": {
        "korean": ("페이스북", "페이스북 메신저"),
        "latin": ("facebook", "FB", "messenger"),
        "abbreviated": ("페북", "페메"),
        "slang": ("페북 메신저", "페이스븍", "얼굴책"),
    },
    "line": {
        "korean": ("라인",),
        "latin": ("LINE",),
        "abbreviated": (),
        "slang": ("라인 메신저", "라인 앱", "라인 그룹"),
    },
    "naver": {
        "korean": (
            "네이버", "네이버 카페", "네이버 블로그", "네이버 밴드", "밴드", "블로그", "지식인",
        ),
        "latin": ("naver", "band"),
        "abbreviated": ("네카페", "네이버 지식in", "지식in"),
        "slang": ("네입어", "네이놈", "엔드라이브"),
    },
    "other": {
        "korean": (
            "에브리타임", "디시인사이드", "스냅챗", "레딧", "위챗", "다음 카페", "제페토",
            "트위치", "스레드", "커뮤니티", "아프리카tv", "치지직", "텀블러", "핀터레스트",
            "웹하드", "토렌트", "티스토리", "티스토리 블로그", "포르노 사이트", "야동 사이트",
        ),
        "latin": ("snapchat", "reddit", "everytime", "wechat", "zepeto", "twitch", "threads",
                  "tumblr", "pinterest", "dcinside", "4chan", "onlyfans"),
        "abbreviated": ("에타", "디시", "디씨", "커뮤", "갤"),
        "slang": (
            "디시갤", "디씨갤", "일베", "펨코", "더쿠", "인벤", "에펨코리아", "에펨", "네이트판",
            "인스티즈", "루리웹", "뽐뿌", "클리앙", "아카라이브", "fmkorea",
        ),
        # Generic places: only with a qualifier before them (해외 사이트, 학교
        # 홈피) or a locative particle after them (사이트에 올라왔어).
        "generic": ("사이트", "홈페이지", "홈피", "게시판"),
    },
}  # fmt: skip

# Short or common words with false friends (see above).
STRICT = {
    "라인", "밴드", "엑스", "블로그", "갤", "튜브", "에타", "페메", "인친", "트친", "텔레",
    "릴스", "쇼츠", "카카오", "네이버", "band", "line", "X", "TG", "IG", "FB", "YT",
    "tele", "messenger", "threads", "twt", "디스코", "스레드", "일베", "인벤", "더쿠",
    "펨코", "인별", "트터", "디시", "디씨", "레딧", "위챗", "텀블러", "톡방", "반톡",
    "에펨",
}  # fmt: skip

# What may follow a strict spelling: particles and the nouns that go with a
# platform (방, 계정, 채널...).
_AFTER = (
    "에서", "에선", "에도", "에다", "에", "으로", "로", "이랑", "랑", "하고", "이나", "나",
    "은", "는", "이", "가", "도", "만", "을", "를", "의", "방", "톡", "채팅", "메신저",
    "계정", "앱", "어플", "그룹", "앨범", "타임라인", "피드", "스토리", "디엠", "쪽지",
    "페이지", "서버", "채널", "게시물", "게시판", "게시글", "글", "라이브", "카페", "블로그",
    "프로필", "프사", "갤러리", "갤", "댓글", "영상", "링크", "사이트", "까지", "부터",
    "같은", "같", "인가", "인지", "아이디", "닉", "이요", "요",
)  # fmt: skip
_HANGUL = "\uac00-\ud7a3\u3131-\u318e"
_RIGHT_OK = "(?=$|[^" + _HANGUL + "A-Za-z0-9]|(?:" + "|".join(_AFTER) + "))"

# A false friend that is a longer word starting with a listed spelling.
_NOT_FOLLOWED_BY = {
    "텔레": "비|파시|마케|포트|토비|콤|매틱|파|비전",
    "카카오": "페이|뱅크|맵|택시|프렌즈|웹툰|게임|t|T|페이지|모빌",
    "네이버": "페이|지도|웹툰|쇼핑|시리즈",
    "커뮤": "니케",
    "스냅챗": "",
    "유튜브": "r",
    "디코": "딩|더|드",
    "인스타": "일|그래머|그램머",
    "갤": "러리|럭시|럭",
    # 밴드부; a plaster (밴드 붙이고, 밴드를 감았어).
    "밴드": r"부|\s*[을를]?\s*(?:붙|감|떼|갈|교체)",
}  # fmt: skip
# Words that name a part of a platform when they follow its name.
_PARTS = {"커뮤니티", "커뮤", "갤", "게시판", "사이트", "홈페이지", "홈피"}
# A false friend told by the word before it: a plaster on the body (손목에 밴드).
_NOT_PRECEDED_BY = {
    "밴드": re.compile(r"(?:손목|손목에|팔|팔에|손|손에|손가락|손가락에|다리|다리에|무릎|무릎에|"
                      r"발|발에|상처|상처에|이마|이마에|목|목에|허벅지|허벅지에|반창고)\s*$"),
}
_GENERIC_BEFORE = (
    "해외", "외국", "어떤", "이상한", "불법", "성인", "야한", "음란", "다른", "모르는",
    "학교", "학원", "반", "익명", "무슨", "그", "이런", "저런", "유명한", "외국인", "중국",
    "일본", "미국", "러시아", "무료", "공유", "합성", "딥페", "딥페이크", "야동",
)  # fmt: skip
# Generic words after these are where one reports or gets help, not where the
# material is (신고 사이트에서, 경찰청 홈페이지에).
_GENERIC_NOT_AFTER = (
    "신고", "삭제", "지원", "상담", "공식", "판별", "감지", "탐지", "검사", "기관", "정부",
    "경찰", "경찰청", "교육청", "센터", "추천", "템플릿", "쇼핑", "정부24", "검색",
)  # fmt: skip
_LOCATIVE = "(?=\\s*(?:에서|에선|에도|에다|에|까지|이랑|랑))"


@dataclass(frozen=True)
class Spelling:
    """One way to write one platform."""

    text: str
    value: str
    kind: str


@dataclass(frozen=True)
class Mention:
    """A platform found in a text: the value and where it was written."""

    value: str
    start: int
    end: int
    spelling: Spelling


def all_spellings() -> List[Spelling]:
    """Every listed spelling, in the order of SPELLINGS."""
    return [
        Spelling(text, value, kind)
        for value, kinds in SPELLINGS.items()
        for kind, texts in kinds.items()
        for text in texts
    ]


def _body(text: str) -> str:
    """The spelling as a pattern: its spaces match any spaces or none."""
    return r"\s*".join(re.escape(part) for part in text.split(" "))


def _pattern(spelling: Spelling) -> Pattern[str]:
    text = spelling.text
    body = _body(text)
    latin = text.isascii()
    not_after = _NOT_FOLLOWED_BY.get(text.split(" ")[-1]) if not latin else None
    if spelling.kind == "generic":
        # A qualifier before it (해외 사이트, 학교 홈피) or a locative particle
        # after it (사이트에); _generic_ok() drops 신고 사이트에 and the like.
        qualifier = "(?:" + "|".join(sorted(_GENERIC_BEFORE, key=len, reverse=True)) + ")"
        return re.compile(
            rf"(?<![{_HANGUL}]){qualifier}\s*{body}|{body}{_LOCATIVE}", re.IGNORECASE
        )
    if latin:
        left = r"(?<![A-Za-z0-9])"
        right = r"(?![A-Za-z0-9])"
        if text in ("X",):
            # A lone x is a quiz answer or a mark: only x followed by a
            # particle or a platform noun (X에서, x 계정) is the platform.
            return re.compile(
                rf"{left}[Xx](?=\s?(?:에서|에|로|랑|이랑|하고|계정|게시물|트윗|포스트|dm|디엠|앱|에도|는|도|만))"
            )
        flags = 0 if text.isupper() and len(text) <= 3 else re.IGNORECASE
        if text in ("LINE",):
            # line is an English word: capitals, or line followed by Korean.
            return re.compile(
                rf"{left}(?:LINE|[Ll]ine(?=\s?[{_HANGUL}])){right}"
            )
        if len(text) <= 3 and text.isupper():
            # TG, IG, FB, YT: capitals or lower case glued to a particle.
            return re.compile(
                rf"{left}(?:{body}|{body.lower()}(?=[{_HANGUL}])){right}"
            )
        return re.compile(rf"{left}{body}{right}", flags)
    left = ""
    right = ""
    if text.split(" ")[0] in STRICT or text in STRICT:
        left = rf"(?<![{_HANGUL}A-Za-z])"
        right = _RIGHT_OK
    if not_after:
        right += rf"(?!{not_after})"
    return re.compile(rf"{left}{body}{right}", re.IGNORECASE)


class PlatformMatcher:
    """Finds platform mentions in raw text (longest spelling wins)."""

    def __init__(self, spellings: Optional[List[Spelling]] = None) -> None:
        spellings = spellings if spellings is not None else all_spellings()
        # Longer spellings first, so that 인스타그램 wins over 인스타 at the same place.
        self._patterns = [
            (s, _pattern(s))
            for s in sorted(spellings, key=lambda s: (-len(_key(s.text)), " " in s.text))
        ]

    def find(self, text: str) -> List[Mention]:
        """All mentions, left to right, without overlaps."""
        found: List[Mention] = []
        for spelling, pattern in self._patterns:
            for match in pattern.finditer(text):
                if spelling.kind == "generic" and not _generic_ok(text, match):
                    continue
                guard = _NOT_PRECEDED_BY.get(spelling.text)
                if guard and guard.search(text[max(0, match.start() - 8) : match.start()]):
                    continue
                if match.end() > match.start():
                    found.append(Mention(spelling.value, match.start(), match.end(), spelling))
        found.sort(key=lambda m: (m.start, -(m.end - m.start)))
        kept: List[Mention] = []
        for mention in found:
            if kept and mention.start < kept[-1].end:
                continue
            # A part of the platform just named (유튜브 커뮤니티, 인스타 커뮤):
            # not a second place.
            if (
                kept
                and mention.spelling.text in _PARTS
                and kept[-1].value != "other"
                and not text[kept[-1].end : mention.start].strip()
            ):
                continue
            kept.append(mention)
        return kept

    def values(self, text: str) -> List[str]:
        """Each platform once, in order of first mention."""
        values: List[str] = []
        for mention in self.find(text):
            if mention.value not in values:
                values.append(mention.value)
        return values


def _generic_ok(text: str, match: "re.Match[str]") -> bool:
    """A bare generic word (no qualifier) counts unless it names where one
    reports or gets help, or is the end of a longer word (웹사이트 is fine)."""
    matched = match.group()
    if any(matched.startswith(q) for q in _GENERIC_BEFORE):
        return True
    before = re.sub(r"\s+", "", text[max(0, match.start() - 8) : match.start()])
    return not before.endswith(_GENERIC_NOT_AFTER)


_SPELLING_KINDS: Dict[str, str] = {}


def spelling_kind(surface: str) -> str:
    """The kind of a written platform name (for benchmarks): a listed spelling's
    kind; otherwise latin for Latin script, generic for a description."""
    if not _SPELLING_KINDS:
        for s in all_spellings():
            _SPELLING_KINDS.setdefault(_key(s.text), s.kind)
    key = _key(surface)
    if key in _SPELLING_KINDS:
        return _SPELLING_KINDS[key]
    if any("a" <= c.lower() <= "z" for c in surface):
        return "latin"
    mentions = PlatformMatcher().find(surface)
    return mentions[0].spelling.kind if mentions else "generic"


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class PlatformExtractor(GraphComponent, EntityExtractorMixin):
    """Adds a `platform` entity, with the contract's value, per platform named."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Returns the component's default config."""
        return {}

    def __init__(self, config: Dict[Text, Any]) -> None:
        """Builds the matcher (about 1 ms)."""
        self._config = config
        self._matcher = PlatformMatcher()

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "PlatformExtractor":
        """Creates the component (nothing to train: the spellings are code)."""
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds the platforms named in each message to its entities."""
        for message in messages:
            text = message.get(TEXT) or ""
            try:
                mentions = self._matcher.find(text[:5000])
            except Exception as error:  # never cost a reply; never log the text
                logger.warning("Platform matching failed (%s).", type(error).__name__)
                continue
            seen = set()
            entities = []
            for mention in mentions:
                if mention.value in seen:
                    continue
                seen.add(mention.value)
                entities.append(
                    {
                        "entity": ENTITY,
                        "value": mention.value,
                        "start": mention.start,
                        "end": mention.end,
                        "confidence_entity": 1.0,
                    }
                )
            if entities:
                entities = self.add_extractor_name(entities)
                message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
        return messages
