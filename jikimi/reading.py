"""How a message is read in context: yes or no (with negation), a question, a
stop, a place, a retracted crisis statement, and who is speaking.

The intent classifier reads one message alone; these readings are what the
conversation needs on top of it when the bot has just asked something ("지금
안전한 곳에 있어요?", "모두 지울까요?") or when a form is in progress. Both
processes use them: the Rasa server's context policy (bot/policies/context.py)
and the action server's forms. Pure functions on text, no I/O, no state.

Korean is matched on a squashed copy (NFKC, lower case, no spaces or
punctuation, runs of three or more equal letters collapsed), so "아 니", "아니!!"
and "아니이이" read alike. Patterns are written without spaces.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Optional, Tuple
from urllib.parse import urlsplit

from jikimi import content, quiz_answers

YES, NO = "yes", "no"
# The platform entity's categories (../shared/nlu-contract.md).
PLATFORMS = (
    "telegram", "instagram", "kakaotalk", "discord", "x", "tiktok",
    "youtube", "facebook", "line", "naver", "other",
)  # fmt: skip
_COMPAT_JAMO = range(0x3130, 0x3190)


def squash(text: Optional[str]) -> str:
    """Letters and digits only, lower case, long runs collapsed ("응응응!!" -> "응")."""
    chars = []
    for char in text or "":
        piece = char if ord(char) in _COMPAT_JAMO else unicodedata.normalize("NFKC", char)
        for p in piece.lower():
            if unicodedata.category(p)[0] in "LN":
                chars.append(p)
    return re.sub(r"(.)\1{2,}", r"\1", "".join(chars))


def _any(patterns: Iterable[str], text: str) -> bool:
    return any(re.search(p, text) for p in patterns)


def _first_topic(table: Iterable[tuple], text: str, default=None):
    """The key of the first (key, pattern) row whose pattern occurs in the text."""
    return next((key for key, pattern in table if re.search(pattern, text)), default)


# --- yes and no ------------------------------------------------------------------

# Whole answers (after squashing, trailing particles of politeness removed).
_YES_WHOLE = {
    "응", "웅", "ㅇ", "ㅇㅇ", "ㅇㅋ", "어", "엉", "네", "넹", "넵", "넴", "예", "yes", "y", "ok",
    "okay", "오케이", "오키", "그래", "그래요", "좋아", "좋아요", "좋습니다", "맞아", "맞아요",
    "맞습니다", "당연", "당연하지", "그럼", "그럼요", "콜", "알겠어", "알겠어요", "알았어",
    "부탁해", "부탁해요", "부탁드려요", "해줘", "해주세요", "해", "할래", "할래요", "하자",
    "ㄱㄱ", "ㄱ", "고고", "가자", "응응", "네네", "웅웅", "ㅇㅇㅇ", "그렇다", "그렇지", "넵넵",
}  # fmt: skip
_NO_WHOLE = {
    "아니", "아니요", "아뇨", "아니오", "아닌데", "아님", "아냐", "아니야", "ㄴ", "ㄴㄴ", "노",
    "no", "n", "nope", "싫어", "싫어요", "싫다", "안해", "안할래", "안할래요", "안해요",
    "됐어", "됐어요", "됐다", "괜찮아", "괜찮아요", "괜찮습니다", "나중에", "나중에요",
    "그만", "ㄴㄴㄴ", "아니아니", "노노", "놉", "안돼", "안돼요", "하지마", "하지마요",
    "필요없어", "필요없어요", "별로", "아니에요", "아니예요",
}  # fmt: skip
# Leading words that decide the answer when the rest does not contradict them.
_YES_LEAD = re.compile(
    r"^(응|웅|어어|엉|네|넹|넵|예|ㅇㅇ|ㅇㅋ|그래|좋아|맞아|당연|그럼|오케이|ok|yes)"
)
_NO_LEAD = re.compile(r"^(아니|아냐|아뇨|ㄴㄴ|노노|싫어|no(?![a-z]))")
_POLITE_TAIL = re.compile(r"(요|용|염|여|욤|ㅎ+|ㅋ+|ㅠ+|ㅜ+|ㅎㅎ)$")


def _strip_tail(s: str) -> str:
    for _ in range(3):
        stripped = _POLITE_TAIL.sub("", s)
        if stripped == s or not stripped:
            break
        s = stripped
    return s


def _verb_readings(s: str, verbs: Tuple[str, ...]) -> Tuple[bool, bool]:
    """(affirmed, negated) for the asked verb stems ("지우" for 지워 줘 / 지우지 마)."""
    affirmed = negated = False
    for verb in verbs:
        # Nouns take 하다 and particles before the "no": 삭제하지 마, 연결은 안 해도 돼,
        # 저장 말고 (the stem right before 지마 alone read "삭제하지 마" as a yes).
        if re.search(
            rf"(안|못){verb}|{verb}(하|해|은|는|을|를|도)?"
            rf"(지마|지말|지않|면안|기싫|지도마|긴싫|지는마|안|못|말고)",
            s,
        ):
            negated = True
        elif verb in s:
            affirmed = True
    return affirmed, negated


# Interjections that lead an answer without deciding it ("아 ㄴㄴ", "음 응").
_LEAD_FILLER = re.compile(
    r"^(아+(?![니뇨냐])|어+(?![제디떻케])|음+|흠+|앗|헐|아하|그럼|그러면|그니까|근데)(?=.)"
)
_REFUSE = re.compile(r"(됐어|됐어요|됐습니다|필요없|안할래|안해도|싫어|싫다|괜찮습니다만|나중에)")


def yes_no(
    text: Optional[str],
    verbs: Tuple[str, ...] = (),
    okay_means: Optional[str] = None,
    keep_verbs: Tuple[str, ...] = (),
) -> Optional[str]:
    """YES, NO or None (unclear) for an answer to a yes/no question.

    `verbs` are stems of what was asked (("지우", "지워", "삭제")): "지워 줘" is a
    yes, "지우지 마", "안 지워" a no. `keep_verbs` mean the opposite of the
    asked verb ("남겨 줘" to "지울까요?"). "괜찮아" is ambiguous in Korean (fine /
    no thanks): `okay_means` says which it is for this question. An answer
    that says both ("아니 지워 줘"), or asks something back ("지우면 어떻게
    돼?"), is unclear: the caller asks again.
    """
    s = squash(text)
    if not s:
        return None
    if is_question(text):
        return None
    core = s
    for _ in range(3):
        core = _LEAD_FILLER.sub("", core) or core
    whole = _strip_tail(core)
    not_okay = "안괜찮" in core or "괜찮지않" in core
    # "오래 걸려도 괜찮아요": a concession ("even if"), not "no thanks".
    okay = ("괜찮" in re.sub(r"(어도|아도|여도|해도|라도|워도)괜찮", "", core)) and not not_okay
    affirmed, negated = _verb_readings(core, verbs)
    keeps = any(verb in core for verb in keep_verbs)
    says_yes = whole in _YES_WHOLE or bool(_YES_LEAD.match(core)) or affirmed
    says_no = (
        (whole in _NO_WHOLE and not okay)
        or bool(_NO_LEAD.match(core))
        or negated
        or keeps
        or bool(_REFUSE.search(core))
    )
    if not_okay:
        return NO if okay_means == YES else None
    if okay and okay_means in (YES, NO):
        if okay_means == YES and not says_no:
            return YES
        if okay_means == NO and not affirmed:
            return NO
    if whole in _YES_WHOLE and not (negated or keeps):
        return YES
    if whole in _NO_WHOLE and not okay:
        return NO
    if says_no and (negated or keeps) and not affirmed and not says_yes:
        return NO  # "아니 지우지 말고 ...", "그냥 남겨 둬"
    if says_no and negated and not affirmed and whole not in _YES_WHOLE and not keeps:
        return NO
    if says_yes and says_no:
        return None
    if says_yes:
        return YES
    if says_no:
        return NO
    return None


# --- questions, stops ---------------------------------------------------------------

# Endings that ask by themselves ("연락 안 가는 거지", "괜찮을까요"), and weaker
# ones that ask only with a question word ("어떻게 돼", "뭐 있어").
_ASKING_END = re.compile(
    r"(까|까요|나요|니|냐|냐고|는거지|는거죠|는거야|는건가|는건가요|은거지|인거지|거지|거죠|되나|되나요|"
    r"인가|인가요|을까|을까요|할까|할까요|ㄹ까|될까|될까요|가요|는지|은지|인지|래요|대요|냐구|나여|남|"
    r"맞아요|맞죠|맞지|맞나|맞나요|돼요|되요|"
    # Adults ask in statements: "…되는지 궁금합니다", "…될지 여쭙습니다".
    r"궁금합니다|궁금해요|여쭙습니다|여쭤봅니다|여쭙니다|알고싶습니다|알고싶어요)$"
)
_QUESTION_END = re.compile(
    r"(지|죠|거야|거예요|거에요|돼|래|어요|려|해|뭐야|뭐예요|뭐에요|뭔데|뭐임|어떡해|어떻게|어케|어캄|어떡함|"
    r"어떻게해|어떡하지|어케해|어케함|어캐|어쩌지|임|맞아|있어|있어요|없어|없어요|됨|되는데|되는거|데|는데|냐며|가|나)$"
)
_QUESTION_WORD = re.compile(
    r"(뭐|무엇|무슨|어떻게|어떡|어케|왜|언제|어디|누가|누구|얼마나|몇|혹시|있나|되나|가능)"
)


# "왜 그게 답이에요?", "왜요??", "이유가 뭐야": why the last answer was right.
_WHY = re.compile(
    r"^(근데|아니|헐|엥|ㅇㅔ|잉)?(왜|왜요|왜죠|왜임|왜지|이유|어째서|어떻게그게|그게왜|그게어떻게|그게답|답이왜)"
)


def asks_why(text: Optional[str]) -> bool:
    """A short "why?" about what was just said ("왜 그게 답이에요?", "그게 왜 X임")."""
    s = squash(text)
    return 0 < len(s) <= 16 and bool(_WHY.search(s))


def is_question(text: Optional[str]) -> bool:
    """Clearly a question: a question mark, an ending that asks, or a question
    word with a question ending."""
    raw = (text or "").strip()
    if not raw:
        return False
    if "?" in raw or "？" in raw:
        return True
    s = squash(raw)
    end = _strip_tail(s) or s
    if _ASKING_END.search(end) and len(end) > 3:
        return True
    return bool(_QUESTION_WORD.search(s)) and bool(_QUESTION_END.search(end))


# --- the safety question ---------------------------------------------------------------

# Places where someone at risk should not be: the answer to "지금 안전한 곳에
# 있어요?" naming one is an unsafe answer. The value is how the counsellor's SMS
# names it (a category, never the student's words).
_DANGER_PLACES = (
    (r"옥상|지붕|꼭대기|고층|난간", "옥상·높은 곳"),
    (
        r"다리(위|야|임|에|이에요|예요|인데|밑)|대교|한강|강가|강물|강이|바다|절벽|저수지|호수",
        "다리·물가",
    ),
    (r"철로|철길|선로|기찻길|기차길|지하철역|승강장|스크린도어|역이", "철로·역"),
    (r"베란다|창문|창가|창틀|발코니", "창문·베란다"),
    (r"찻길|차도|도로한가운데|고속도로", "도로"),
    (r"산속|산에|숲", "산"),
)
_SAFE_PLACE = re.compile(
    r"(^집|우리집|집이|집에|집임|집인데|내방|제방|방에|방이야|방임|교실|보건실|상담실|학원|도서관|"
    r"거실|기숙사|친구집|친구네|할머니|할아버지|카페|편의점|경찰서|병원|교무실|독서실|스카|스터디카페)"
)
_WITH_SOMEONE = re.compile(
    r"(함께있|같이있|옆에있|곁에있|데리고있|보고있어|지켜보|옆에서자|곁에서자|자고있|잠들었|잠들어있|자는중|"
    r"사람많|사람들많|사람이많|사람들있|사람들이있|주변에사람|친구들이랑|친구들하고|엄마도있|아빠도있|"
    r"가족들이|가족이랑|(엄마|아빠|부모님|언니|오빠|누나|형)(깨웠|깨워서|불렀|불러서|랑같이|하고같이|옆))"
)
# The means handed to an adult ("약 엄마한테 줬어요"), whatever the means.
_HANDED_OVER = re.compile(
    r"(엄마|아빠|부모님|어른|선생님|쌤|언니|오빠|누나|형)(한테|에게|께)(다|전부)?(줬|주었|맡겼|드렸|다줬|줘버렸)"
)
_SAFE_WORDS = re.compile(
    r"(안전해|안전함|안전합|안전한곳|안전한데|안전하긴|괜찮아|괜찮은|괜찮습|집이야|집임|집이에|집에있|"
    r"방이야|방임|방에있)"
)
_UNSAFE_WORDS = re.compile(
    r"(연락안|연락이안|연락두절|안받아|안받음|전화안받|읽씹|안읽|답이없|답장이없|답장없|답도없|"
    r"안전하지않|안전안|안안전|위험해|위험함|위험한곳|위험합|무서운곳|안괜찮|도와줘|도와주세요|살려줘|"
    r"뛰어내|떨어질|죽을|혼자못|칼|약먹|약을|피가|약은|약이|약있|약도|약다|수면제)"
)


DANGER_PLACE_NAMES = frozenset(name for _, name in _DANGER_PLACES)


def danger_place(text: Optional[str]) -> Optional[str]:
    """The category of a dangerous place the message names, if any."""
    s = squash(text)
    for pattern, name in _DANGER_PLACES:
        if re.search(pattern, s):
            return name
    return None


def safety_answer(text: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    """("safe" | "unsafe" | None, place category) for an answer to "are you safe?"."""
    s = squash(text)
    place = danger_place(text)
    if _HANDED_OVER.search(s) and not place:
        return "safe", None
    if place or _UNSAFE_WORDS.search(s):
        return "unsafe", place
    polarity = yes_no(text, verbs=("안전",), okay_means=YES)
    if polarity == NO:
        return "unsafe", None
    if _WITH_SOMEONE.search(s):
        return "safe", None
    if starts_unsure(text):
        return None, None  # "모르겠어요 방에 혼자 있어요": not sure is no "safe"
    if polarity == YES or _SAFE_WORDS.search(s) or _SAFE_PLACE.search(s):
        return "safe", None
    return None, None


# --- crisis statements taken back, and about someone else ------------------------------

_RETRACT = (
    r"(죽고싶|자살|자해|죽고십|죽겠다|죽는다|사라지고싶)[가-힣]{0,6}"
    r"(는게|다는게|단게|단거|는거|다는거|다는말|단말|다고한거|려는게|려는거|은게|은거|건)"
    r"(아니|아님|아닌|아냐|아니야|아니고|아니라)",
    r"(죽고싶|자살하고싶|죽을생각)[가-힣]{0,4}(진|지는|지도)?않",
    r"(그런|그런거|그런뜻|그런의미|그런말|그런생각|그런마음)[가-힣]{0,3}(아니|아님|아냐|아닌|없어|없음|없고)",
    r"(그냥|걍|진짜|단순히)[가-힣]{0,4}(물어본|물어봤|궁금해서|궁금했|질문한|알고싶어서)",
    r"(오해|잘못말|말이헛)",
)


# Self-harm or means still in the message: "죽고 싶은 건 아니고 그냥 자해만 해",
# "그런 생각은 없어 그냥 약 모아두고 있어" take back nothing that matters.
_STILL_DANGEROUS = re.compile(
    r"(자해|긋|그었|그어|그엇|칼로|커터|상처내|상처를|약모|약을모|모아두|모아놨|약먹|약을먹|수면제|"
    r"뛰어내|목매|목을매|번개탄|피가|피를|때리고싶|다치게|해치)"
)


def retracts_crisis(text: Optional[str]) -> bool:
    """The writer says they did not mean suicide ("죽고 싶다는 게 아니라 …") and
    nothing else dangerous is left in what they wrote."""
    s = squash(text)
    return _any(_RETRACT, s) and not _STILL_DANGEROUS.search(s)


_OTHER_PERSON = re.compile(
    r"(친구|동생|언니|오빠|누나|형이|형도|형은|우리애|우리아이|아이가|애가|딸|아들|자녀|"
    r"학생이|학생한테|학생은|제자|반애|반친구|그애|그친구|선배|후배)"
)
# Korean says "싶다" of oneself; of someone else it is "싶대", "싶다고 해",
# "싶어 해". The form the wish takes tells whose it is.
_FIRST_WISH = re.compile(
    r"싶(어|다|음|네|어요|습니다|은데|었어|었다|었음|어서|어짐|지)(?!고|는|며|해|하|한|대|더|던|래)"
)
_REPORTED_WISH = re.compile(
    r"(싶대|싶다고|싶어해|싶어하|싶어한|싶다며|싶다는|싶댔|싶단|싶다더|그었대|먹었대|했대|한대|"
    r"하려한대|려고해요|려고한대|려고한다|그었어요|그었습니다|먹었어요|먹었습니다|썼습니다|썼어요|"
    r"보냈어요|올렸어요|해요|합니다|했어요|했습니다)"
)
_SELF = re.compile(
    r"((^|[^가-힣])?(나|내가|난|나도|저|제가|저도|나는|저는)(죽|자살|사라지|뛰어)"
    # "나란 애가 그냥 없어졌으면", "저까지 포함해서": the writer, whoever else is named.
    r"|(나|저)(란|같은)(애|사람|인간|존재|거|건)|(나|저)(까지|도같이|도함께|도포함))"
)


# "사실 그 친구가 나야", "친구 얘기 아니고 저예요": the writer was speaking of herself.
_SELF_REVEAL = re.compile(
    r"((사실|아니라|아니고)[가-힣]{0,6}(나|저)(야|임|예요|에요|였|얘기)|(그친구|친구)가(나|저)(야|임|예요|에요|였))"
)


# "친구들한테 고마웠다고 보냈어": the friends are who she wrote to, not whose crisis it is.
_TO_SOMEONE = re.compile(r"(들)?(한테|에게|께|랑|이랑|하고|한테도|에게도)")


def _other_named(s: str) -> bool:
    """Another person named as who it is about, not as who was told."""
    return any(not _TO_SOMEONE.match(s, m.end()) for m in _OTHER_PERSON.finditer(s))


def about_someone_else(text: Optional[str], adult: bool = False) -> bool:
    """The crisis is another person's (a friend, a child, a student), not the
    writer's: someone else is named and the wish is reported ("친구가 죽고
    싶대", "딸이 자해를 해요"), not said in the first person ("반 애들이 다
    봤대요 … 진짜 죽고 싶어요"). A teacher or parent (`adult`) naming a
    student or a child is speaking about them unless they say "저는"."""
    s = squash(text)
    named = _other_named(s)
    if not (named or adult) or _SELF.search(s) or _SELF_REVEAL.search(s):
        return False
    if adult and _QUOTED_WISH.search(text or ""):
        return True  # "학생이 \"죽어버리고 싶어요\"라는 메시지를 보냈습니다": quoted
    if _FIRST_WISH.search(s):
        return False
    return adult or bool(_REPORTED_WISH.search(s)) or named


# A wish quoted by the writer: "…싶어요"라는 메시지, '죽고 싶다'고 했어요.
_QUOTED_WISH = re.compile(
    r"싶(어요|어|다|습니다|네요)[\"'”’」』]+\s*(라는|라고|라며|란|이라는|이라고|고)"
)


# --- who is speaking ------------------------------------------------------------

# How teachers and parents say who they are ("교사입니다", "저희 아이가"). "상담
# 선생님" (a counsellor the student wants) does not make the writer a teacher.
_TEACHER = re.compile(
    # Not "담임쌤 얼굴로…" (a student speaks of her teacher).
    r"(교사|교원|담임(?!\s*(쌤|샘|선생님|선생|t))|교감|교장|보건\s*선생님|선생님\s*(인데|이에요|입니다|이고|이라서)"
    r"|학교에서\s*근무|(저|제가)\s*선생님|저희\s*반\s*(남|여)?(학생|아이|애)|우리\s*반\s*(남|여)?학생|제자)"
)
_PARENT = re.compile(
    r"(학부모|보호자(인데|입니다|예요|이에요)"
    r"|(저희|우리|제)\s*(아이|애|딸|아들|자녀|큰애|작은애|딸아이|아들놈)"
    r"|(엄마|아빠|어머니|아버지)\s*(인데|입니다|예요|이에요|이고|에요)"
    r"|(딸|아들)(이|아이가|애가)\s|딸아이|아들아이|딸내미|딸래미|아들내미|아들래미"
    r"|(부모|엄마|아빠|어머니|아버지)\s*(로서|입장에서|된\s*입장)"
    r"|(할머니|할아버지|이모|고모|삼촌)\s*(인데|입니다|예요|이에요|에요)|(손녀|손자)(가|이|를|는)?\s)"
)


# "담임입니다", "저는 엄마예요": who the writer is, said of themselves. A teacher
# who asks "학부모님께도 알려야 하나요?" is still a teacher.
_SAYS_WHO = re.compile(
    r"(교사|교원|담임|교감|교장|선생님|선생|학부모|보호자|엄마|아빠|어머니|아버지|부모|할머니|할아버지)\s*"
    r"(인데|입니다|이에요|예요|에요|이고|이라서|라서|이구요|이거든요|임)"
)


def role(text: Optional[str], current: Optional[str] = None) -> Optional[str]:
    """'teacher' or 'parent' when the message says so, else None. Once a
    teacher or parent has said who they are (`current`), only the writer
    saying it of themselves again changes it, not a mention of the other."""
    if not text:
        return None
    teacher, parent = _TEACHER.search(text), _PARENT.search(text)
    found = "teacher" if teacher else "parent" if parent else None
    if teacher and parent:
        # "딸을 둔 엄마입니다. 담임선생님께서 연락을 주셨습니다": who the writer says
        # she is decides, not who else the message names.
        said = _SAYS_WHO.search(text)
        if said:
            found = "teacher" if _TEACHER.search(said.group(0)) else "parent"
    if current in ("teacher", "parent") and found not in (None, current):
        said = _SAYS_WHO.search(text)
        if not said:
            return None
        return "teacher" if _TEACHER.search(said.group(0)) else "parent"
    return found


# The writer is the one pictured: "내 얼굴", "제 사진이", "나를 합성", "나 방금 알았는데".
_VICTIM = (
    r"(내|제|나의|저의|내가나온|내셀카|내프사)(얼굴|사진|셀카|프사|몸|영상|사진들|얼굴로|이름|인스타사진|신상)",
    r"(나|저)(를|도|랑)(합성|능욕|찍|몰카|딥페)",
    r"(나|저)(로|를가지고)(합성|딥페|만든)",
    r"(^|[^가-힣])?(나|저)를?(합성한|합성해서|합성해|딥페이크로만든)",
    r"(나|저)(를|도)?[가-힣]{0,3}(합성|딥페이크|능욕)(당|돼|됐|되었|된)",
    r"(내|제)(합성|딥페이크)(사진|영상|물)",
    r"(내가|제가)(피해자|당했|당한)",
    # "사실 친구가 아니라 나야", "친구 얘기 아니고 저예요".
    r"(아니라|아니고|아니구)(나|저|내|제)(야|임|예요|에요|얘기|이야기|사진|얼굴|거|꺼)",
    r"^(근데)?사실(은)?(나|저)(야|임|예요|에요|얘기)",
    r"^(합성|딥페|능욕|사진|합성사진|딥페이크)?[가-힣]{0,4}(피해|합성)[가-힣]{0,3}(당했|당한거|당함|당하고|입었)",
    r"^(나|저)(방금|지금|오늘|어제|이제|막)(알았|봤|들었|발견)",
    r"(나|저)(한테|에게)(사진|합성|영상)[가-힣]{0,4}(보내|왔|옴)",
)
# The writer made, shared, bought or watched: "내가 합성했", "나도 그 방에 있었".
_INVOLVED = (
    r"(내가|제가|나도|저도|우리가|친구랑내가)[가-힣]{0,12}(합성했|합성한|만들었|만든|만듦|퍼뜨|유포|공유했|"
    r"공유한|올렸|올린|보냈|보낸|보내줬|보내준|보내줌|넘겨줬|넘겼|전달했|전달한|퍼날|돌렸|돌린|샀|산거|구매|"
    r"저장했|저장한|다운|봤|봄|본거|들어가있|있었|초대)",
    r"(나도|저도)[가-힣]{0,6}(그방|텔방|능욕방|단톡|방에)",
)
# No subject, the writer's own past act: "합성한거 만들어서 디코에 올린적 있음".
# Not when someone else is the subject ("반애들이 … 만들어서 돌려서") or the
# act is reported ("누가 … 만들어서 돌렸대").
_OWN_ACT = re.compile(
    r"(만든적|합성한적|올린적|보낸적|돌린적|퍼뜨린적|산적있|구매한적|만들어서올|합성해서올|"
    r"합성해서보|만들어서보|만들어서돌|합성해서돌"
    # "장난으로 담임쌤 얼굴 ai로 합성해서 우리반 단톡에 올렸는데": another's face
    # (not 내/제), made and posted, no one else the subject.
    r"|(?<!내)(?<!제)(쌤|샘|선생님|친구|여자애|남자애|걔|얘|반애|선배|후배|언니|누나|동생|여친|애)(의)?"
    r"(얼굴|사진|셀카|프사)(을|를|로|으로)?[가-힣a-z]{0,8}(합성해서|합성해|만들어서|만들어)[가-힣]{0,14}"
    r"(올렸|올림|보냈|보냄|돌렸|뿌렸|퍼뜨렸|공유했)"
    r"|장난으로[가-힣a-z]{0,16}(합성했|합성해봤|합성해서|만들었|만들어봤|만들어서))"
)
_OTHER_SUBJECT = re.compile(
    r"(누가|누군가|걔가|걔네가|쟤가|애들이|애들이랑|친구가|친구들이|반애들이|남자애들이|선배가|후배가|"
    r"어떤애|어떤사람|모르는사람|누군지)"
)
_REPORTED_ACT = re.compile(r"(대|래|다고|더라|댔|렸대|렸어요대)$")


# "합성당할까봐 걱정돼", "내 사진도 그렇게 될까?": a worry, not something that happened.
# Not a bare "될까": "뭐부터 해주면 될까요?" asks what to do.
_WORRY = re.compile(
    r"(당할까|될까봐|할까봐|당하면|되면어떡|되면어케|되면어떻게|합성될까|올라갈까|퍼질까|쓰일까|악용될까)"
)


def worry(text: Optional[str]) -> bool:
    """ "합성당할까봐 걱정돼": a worry about what may happen."""
    return bool(_WORRY.search(squash(text)))


# A parent's child or a teacher's student is the one pictured ("딸 사진이").
_CHILD_PICTURED = re.compile(
    r"(딸|아들|아이|자녀)(의|가|를|이|도)?(사진|얼굴|영상|프사|셀카)"
    # "딸아이 인스타그램에 있던 사진으로": her account, her picture.
    r"|(딸|아들|딸아이|아들아이|자녀)(의)?(인스타|인스타그램|sns|카톡|프로필|계정|페북)[가-힣a-z]{0,8}"
    r"(사진|얼굴|셀카)"
)


def protects(text: Optional[str]) -> bool:
    """ "안 털리게 하려면", "막으려면": protecting one's photos, before anything happened."""
    words = r"(안털리|안당하|막으려|막을|지키려|지키는|예방|안되게|못하게|안퍼지게)"
    return bool(re.search(words, squash(text)))


def child_pictured(text: Optional[str]) -> bool:
    return bool(_CHILD_PICTURED.search(squash(text)))


# An adult retelling what a student or child told them: "여학생이 찾아와서, 다른 반
# 남학생이 자기 얼굴로 합성 사진을 만들어 올렸다고": the one who told is pictured.
_TOLD_OF_OWN_PICTURE = re.compile(r"(자기|본인|자신)(의)?(얼굴|사진|셀카|프사|몸)")


def told_of_own_picture(text: Optional[str]) -> bool:
    return bool(_TOLD_OF_OWN_PICTURE.search(squash(text)))


# What a teacher or parent asks about helping: "어떻게 말을 꺼내야", "하지 말아야 할 것".
_HELP_CHILD = re.compile(
    r"(말을꺼|어떻게말|뭐라고말|뭐라고해|어떻게이야기|어떻게얘기|뭐라고이야기|뭐라고얘기|어떻게대해|"
    r"하지말아야|하면안되|해서는안되|해선안되|하면안될|주의할|조심할|조심해야|주의해야|먼저해야|가장먼저|"
    r"무엇부터|뭐부터|"
    r"못하게막|막는게|빼앗|뺏어)"
)


def asks_how_to_help(text: Optional[str]) -> bool:
    return bool(_HELP_CHILD.search(squash(text)))


def asks_donts(text: Optional[str]) -> bool:
    """ "제가 해서는 안 되는 일이 있을까요?": what not to do, alone."""
    return bool(re.search(r"(하지말아야|하면안되|해서는안되|해선안되|하면안될)", squash(text)))


# Must she face the one who did it ("내일도 학원 가야돼요? 그 쌤 수업 있어요").
_FACE = re.compile(
    r"(학원|학교|수업|교실|동아리|반|독서실|센터)[가-힣]{0,6}(가야돼|가야되|가야해|가야하|가야됨|가야함|나가야)"
)


def asks_face_offender(text: Optional[str]) -> bool:
    return is_question(text) and bool(_FACE.search(squash(text)))


# "엄마가 안 믿으면요", "선생님이 거짓말이라고 하면": not being believed.
_NOT_BELIEVED = re.compile(
    r"(안믿|못믿|믿지않|믿어줄까|믿어줄지|믿을까|거짓말이라고|거짓말하지말라)"
)


def fears_not_believed(text: Optional[str]) -> bool:
    return bool(_NOT_BELIEVED.search(squash(text)))


# A teacher asks whether the school must tell the police.
_MUST_REPORT = re.compile(
    r"(경찰|수사기관)[가-힣]{0,16}(신고해야|신고까지|신고를해야|신고하나|신고의무|신고하지않)"
)


# "신고를 미루고 기다려도 될까요?", "월요일에 보고드려도 될지": putting the report off.
_DELAY_REPORT = re.compile(
    r"((신고|보고)[가-힣]{0,10}(미루|미뤄|늦춰|늦추|기다려|기다리|나중에|월요일|다음주)"
    r"|(미루고|미뤄도|미뤘다가|미루다가|늦춰도|기다렸다가|기다려도|월요일에|다음주에|하고나서|한뒤에|한다음에|개학하고)"
    r"[가-힣]{0,10}(신고|보고))"
)


def asks_must_report(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(_MUST_REPORT.search(s)) or (bool(_DELAY_REPORT.search(s)) and is_question(text))


def victim_cue(text: Optional[str]) -> bool:
    s = squash(text)
    said = _any(_VICTIM, s) or bool(_RECOGNISED_SELF.search(s))
    # "부모님이 알게 될까봐": afraid of being found out, not of being pictured.
    worry = _WORRY.search(
        re.sub(r"(알게될까봐|알까봐|알려질까봐|들킬까봐|소문날까봐|혼날까봐)", "", s)
    )
    excuse = re.search(r"(장난이었|장난으로|재미로|장난친)", s)  # "사실 저예요 장난이었어요"
    return said and not involved_cue(text) and not worry and not excuse


# A parent's child or a teacher's student as the one who made or shared.
_CHILD_INVOLVED = re.compile(
    r"(아들|딸|아이|애|우리애|학생|학생들|제자|반애들)(?:[가-힣]{0,2}명)?(이|가|들이)([가-힣]{0,34}?)"
    r"(합성했|합성한|합성해|만들었|만든|만들어|퍼뜨|유포|공유했|올렸|보냈|돌렸|돌려|샀|저장했|봤|"
    r"전달했|전달한|보내줬|보내준|넘겼|넘겨줬|퍼뜨렸)"
)


_TOLD_BY = re.compile(
    r"[가-힣]{0,6}(사진|영상|합성물|합성사진|거|것|게시물|이미지)(이|가)[가-힣]{0,24}"
    r"(알려왔|알려줬|알려주|말해줬|말해주|말했|제보|신고했|얘기해|얘기했|이야기했|털어놓|상담)"
)


def involved_cue(text: Optional[str], adult: bool = False) -> bool:
    """The writer (or, for a teacher or parent, their student or child) made,
    shared, bought or watched the material."""
    s = squash(text)
    own_act = (
        bool(_OWN_ACT.search(s))
        and not _OTHER_SUBJECT.search(s)
        and not _REPORTED_ACT.search(_strip_tail(s) or s)
    )
    child = _CHILD_INVOLVED.search(s) if adult else None
    # "딸이 반 애들이 합성한 사진 때문에": someone else did it to the child.
    child_did = (
        bool(child)
        and not _OTHER_SUBJECT.search(child.group(3))
        # "남학생이 딸 사진을 합성해": the child is the one pictured.
        and not re.search(
            r"(딸|아들|아이|우리애)[가-힣]{0,10}(사진|얼굴|영상|셀카|프사)", child.group(3)
        )
        # "남학생이 자기 얼굴로 … 만들어 올렸다고": the student who told is pictured.
        and not _TOLD_OF_OWN_PICTURE.search(child.group(3))
        # "아들이 협박을 받고 있다고 합니다. 돈을 보내지 않으면 퍼뜨리겠다고": the
        # threat's words, in another sentence.
        and not re.search(r"(협박|[.?!]|않으면)", child.group(3))
        # "한 학생이 … 친구 얼굴로 만든 사진이 올라왔다고 알려 왔습니다": "만든"
        # says what the picture is; the student is the one who told.
        and not (
            child.group(4) in ("합성한", "만든", "전달한", "보내준")
            and _TOLD_BY.match(s, child.end())
            and not re.search(r"(자기가|본인이|자신이|스스로)", child.group(3))
        )
    )
    if re.search(r"(탓이|탓인|탓임|탓아)", s):
        return False  # "내가 사진 올린 탓이야?": her own photo, a question of fault
    if re.search(r"(보낸|쓴|적은)(문자|메시지|글|말|기록|내용)", s) and not _MATERIAL.search(s):
        return False  # "제가 보낸 문자 다 지워 주세요": what she wrote here
    return _any(_INVOLVED, s) or own_act or child_did


# What the one who made or shared asks next (content/involved.yml topics).
_INVOLVED_TOPICS = (
    ("turn_in", r"(자수|자백|경찰서에가|내발로|신고해야하나|스스로신고)"),
    ("apologise", r"(사과|미안하다고|용서)"),
    (
        "tell_adult",
        r"(부모|엄마|아빠|선생님|쌤|담임|어른|학교)[가-힣]{0,3}(한테|께|에게|에)[가-힣]{0,4}"
        r"(말해야|말하면|말할까|말해도|알려야|알리면|털어놓|얘기해야|얘기하면|얘기할까|이야기해야)"
        # "부모님도 알게돼?": whether they will find out.
        r"|(부모|엄마|아빠)[가-힣]{0,3}(도|가|이|님도|님이)?(알게|알아|알까|알려지)",
    ),
    ("police", r"(경찰|잡혀가|체포|전과|기록남|집에찾아|연락와|연락오)"),
    (
        "delete",
        r"(지우면|삭제하면|지웠는데|지웠어|지워도|지우면되|지우겠|지운다고|지우려|지워버|지우게|지워야|"
        r"폰초기화|탈퇴하면)",
    ),
    ("left_room", r"(나가면|나가도|나가야|나갈까|나왔는데|나갔는데|탈퇴|방나가|방에서나)"),
    (
        "excuse",
        r"(다들했|다했는데|다른애들도|남들도|나만그런거|나만한거|다같이했|다보냈는데|장난이었|장난으로한|"
        r"별생각없이)",
    ),
    (
        "any_age",
        r"(성인인데|성인이어도|성인이라도|성인도|성인이면|어른인데|어른이어도|어른도|나이많)",
    ),
    # "단톡에 올린 건 아니고 우리끼리만 봤어": made, not shared (before saw_only).
    (
        "made_not_shared",
        r"(올린건아니|올린거아니|안올렸|안올림|안퍼뜨|안뿌렸|보낸건아니|안보냈|우리끼리만|우리만봤|"
        r"친구들끼리만|혼자만봤|나만봤|나만갖고|공유는안|유포는안|퍼뜨리진않)",
    ),
    ("saw_only", r"(보기만|본것만|본거|봤는데|봤어|원치않|모르고봤|그냥봤|초대만|들어가기만)"),
    (
        "what_now",
        r"(어떡|어케해|어캄|어떻게해야|어떻게하면|이제뭐|뭘해야|뭐해야|할수있는게|뭐부터|뭘먼저|뭐먼저)",
    ),
    ("worried", r"(무서|걱정|불안|죄책|미치겠|잠이안|괴로|후회|미안해|죽을죄)"),
)


# What the one who did it faces ("걸리면 나 어떻게 됨", "나 처벌받아?"): the law.
_PENALTY = re.compile(
    r"(처벌|징역|벌금|형량|몇년|감옥|소년원|걸리면|걸려|잡히면|어떻게돼|어떻게되|어케됨|어케돼|어떻게됨)"
)


def asks_penalty(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(_PENALTY.search(s)) and (is_question(text) or s.endswith(("됨", "돼", "되나")))


def involved_topic(text: Optional[str]) -> Optional[str]:
    s = squash(text)
    return _first_topic(_INVOLVED_TOPICS, s)


# What a privacy question is about (content/privacy.yml topics).
_PRIVACY_TOPICS = (
    (
        "teacher_tells_parents",
        r"(담임|선생님|쌤|샘|교사)[가-힣]{0,3}(한테|께|에게)[가-힣]{0,6}(말하면|얘기하면|이야기하면|말했는데|"
        r"털어놓으면|알리면)[가-힣]{0,8}(부모|엄마|아빠|보호자|집에)",
    ),
    ("parents", r"(부모|엄마|아빠|어머니|아버지|보호자|집에연락|집에알|집으로연락|집에전화|가족)"),
    # Before the school: "학교 상담쌤한테 얘기하면 경찰에 신고돼요?" is about the counsellor.
    ("counsellor", r"(상담선생님|상담사|상담쌤|선생님이보|상담원)"),
    ("school", r"(학교|선생님이알|선생님한테|선생님께|쌤한테|쌤이알|담임|학폭위|학교폭력위)"),
    (
        "anonymous",
        r"(익명|이름|실명|신분|누군지|신원|누가신고|신고한거|신고한게|들키|들켜|알려지|아무도모르게|모르게)",
    ),
    (
        "records",
        r"(기록|저장|남아|남나|누가봐|누가보|볼수있|삭제|지워|경찰이봐|영장|캡처남|경찰한테|경찰에넘|"
        r"넘어가|전달돼|전해져)",
    ),
)


# Where this chat's records stay decides before who might see them ("이 문자 기록은
# 어디 남아요? 엄마가 볼까봐요").
_RECORDS_FIRST = re.compile(
    r"(문자기록|대화기록|기록은|기록이|내역|문자함|어디남|남아요|남나요|남아\?|기억함|기억해|기억하|기억나"
    # "방금 내 이름 말한거 여기 남아?": what she wrote here, kept or not.
    r"|(여기|지킴이|이대화|이채팅)[가-힣]{0,4}(남아|남았|남나|남는|저장)"
    r"|(말한거|말했는데|말한게|쓴거|썼는데|보낸거|적은거)[가-힣]{0,8}(남아|남았|남나|남는|저장)"
    r"|(남아|남아있어|남아있어요|남았어|남았어요|저장돼|저장됨)$)"
)


# "여기 입력한 내용이 교육청에 자동으로 보고되나요?": whether Jikimi tells anyone
# (the general answer says it tells nobody), not what it stores.
_BOT_REPORTS = re.compile(
    r"(교육청|기관|경찰|학교|부모|엄마|아빠)[가-힣]{0,6}(자동으로|알아서|바로)[가-힣]{0,4}"
    r"(보고|신고|통보|전달|넘어|알려)"
    r"|(자동으로|알아서)[가-힣]{0,4}(보고되|보고돼|신고되|신고돼|통보되|통보돼|전달되|전달돼|넘어가)"
)


def privacy_topic(text: Optional[str]) -> str:
    s = squash(text)
    if _BOT_REPORTS.search(s):
        return "general"
    if _RECORDS_FIRST.search(s):
        return "records"
    return _first_topic(_PRIVACY_TOPICS, s, "general")


# --- the delete confirmation -------------------------------------------------------

_DELETE_VERBS = ("지우", "지워", "지웟", "지울", "삭제", "없애")
_KEEP_VERBS = ("남겨", "남기", "놔둬", "냅둬", "놔두", "그냥둬", "그냥두", "그대로", "보관", "살려")
_GO_ON = re.compile(r"(계속|이어서|이어|마저|하던거|하던것|신고하|신고할|신고계속)")


def delete_answer(text: Optional[str]) -> Tuple[Optional[str], bool]:
    """(YES | NO | None, whether the writer wants to go on with the report).

    Erasing needs an unambiguous yes: "네 지워 주세요", "응 다 지워". "지우지 마",
    "아니 지우지 말고 신고 계속하자" are no; anything else is unclear.
    """
    answer = yes_no(text, verbs=_DELETE_VERBS, okay_means=NO, keep_verbs=_KEEP_VERBS)
    go_on = bool(_GO_ON.search(squash(text)))
    if go_on and answer == YES and not _verb_readings(squash(text), _DELETE_VERBS)[0]:
        answer = None  # "응 계속하자": yes to what? Ask again.
    if go_on and answer is None and _verb_readings(squash(text), _DELETE_VERBS)[1]:
        answer = NO
    return answer, go_on and answer == NO


# --- answers to the forms' questions ------------------------------------------------
# The report form's words live in content/report.yml (`answers`, `skip_words`,
# `stop_words`, `done_words`); the quiz's answers are read by
# jikimi.quiz_answers.parse_answer. The context policy asks these too, to tell an
# answer from an interruption before the form runs.

_URL = re.compile(r"(?:https?://|www\.|t\.me/)[^\s<>\"']+", re.I)
MAX_LINK_CHARS = 500
# Control words ("그만", "몰라") count only in a short message: in a long
# description they are part of the story.
SHORT = 12
_TRAILING = re.compile(r"[.!?~,ㅎㅋㅠㅜ^]+$")


def _report() -> dict:
    return content.read_yaml("report.yml")


def _plain(text: Optional[str]) -> str:
    return re.sub(r"\s+", "", text or "").lower()


def has_word(text: Optional[str], words: Iterable[str]) -> bool:
    """Whether a word occurs in the answer; "=word" must be the whole answer."""
    squashed = _plain(text)
    whole = _TRAILING.sub("", squashed)
    return any(
        whole == _plain(word[1:]) if word.startswith("=") else _plain(word) in squashed
        for word in words
    )


def is_short(text: Optional[str]) -> bool:
    return len(_plain(text)) <= SHORT


# Said plainly, a stop is a stop in a longer message too ("아 그만 할래요 지금은
# 못하겠어"); in a long description it is part of the story.
_PLAIN_STOP = re.compile(
    r"(그만할래|그만할게|그만하고싶|그만둘래|그만두고싶|멈출래|멈추고싶|나중에할래|나중에할게|"
    r"다음에할래|다음에할게|못하겠어|못하겠다|못하겠음|안할래|생각해볼게|생각해볼래|생각좀해볼|"
    r"생각해보고올|생각해보고할|"
    # "나중에 마저 할게 지금 학원가야돼", "이따 다시 할래": later, not an answer.
    r"나중에(마저|다시|이어서|계속)(할|하)|이따(가)?(마저|다시|이어서)?(할게|할께|할래|하자)|"
    r"다음에(마저|다시|이어서)(할|하))"
)


def wants_stop(text: Optional[str]) -> bool:
    if is_short(text) and has_word(text, _report()["stop_words"]):
        return True
    s = squash(text)
    return len(s) <= 25 and bool(_PLAIN_STOP.search(s))


def wants_skip(text: Optional[str]) -> bool:
    return is_short(text) and has_word(text, _report()["skip_words"])


def report_done(text: Optional[str]) -> bool:
    """No (more) links: "없어요", "다 보냈어요", or a skip."""
    return is_short(text) and (has_word(text, _report()["done_words"]) or wants_skip(text))


def report_choice(slot: Optional[str], text: Optional[str]) -> Optional[str]:
    """The stored value a multiple-choice answer means ("minor", "yes", ...), "skip"
    for a skip, or None when the message is not an answer to that question."""
    question = (_report().get("questions") or {}).get(slot or "")
    if not question:
        return None
    if slot == "report_age":
        # "17살", "만 16세", "16": under 19 is a minor (facts-ko.md 3: 19세 미만).
        age = re.search(r"(?<![0-9])([0-9]{1,2})\s*(살|세|$)", (text or "").strip())
        if age:
            return "minor" if int(age.group(1)) < 19 else "adult"
    for value, words in (question.get("answers") or {}).items():
        if has_word(text, words):
            return str(value)
    if wants_skip(text):
        return "skip"
    return None


# Words a time answer holds ("어제 밤", "3일 전쯤", "9월 말", "방금").
TIME_WORDS = re.compile(
    r"([0-9]|어제|오늘|그제|그저께|엊그제|방금|아까|지난|저번|이번|최근|요즘|밤|새벽|아침|저녁|낮|오후|오전|"
    r"주|월|일|년|전|쯤|때|학기|방학|주말|금요일|월요일|화요일|수요일|목요일|토요일|일요일|몰라|모르|"
    r"기억안|기억이안|기억못)"
)
# Told of itself, outside the form: a time only when the message is mostly that.
_WHEN_TOLD = re.compile(
    r"^(어제|오늘|그제|그저께|엊그제|방금|아까|지난주|저번주|이번주|지난달|저번달|며칠전|일주일전|"
    r"[0-9]+(일|주|달|개월)전|[0-9]+월|주말|[월화수목금토일]요일)"
)
# A detail of the report worth keeping only with clear words: "친구" alone is
# often the friend who told, not the one who made it.
_AGE_TOLD = re.compile(r"(중[1-3]|고[1-3]|초[4-6]|중학생|고등학생|중딩|고딩|[0-9]{2}\s*살|미성년)")
REPORT_DETAIL_MAX_CHARS = 40
# "오늘 급식 뭐였더라" names a day, not when it was found out.
_SEEN = re.compile(r"(봤|알았|알게|들었|올라|올렸|돌|퍼|받았|왔|보냈)")


# "아 인스타 말고 텔레였음", "페북 아니고 인스타요", "아 잘못 말함 텔레임": a correction.
_CORRECTS = re.compile(
    r"(말고|아니고|아니라|아니구|잘못말|잘못썼|잘못눌|틀렸|정정|수정|바꿀게|바꿔줘)"
)


def corrects(text: Optional[str]) -> bool:
    return bool(_CORRECTS.search(squash(text)))


def corrected_to(text: Optional[str]) -> str:
    """What follows the last correction word ("인스타 말고 텔레였음" -> "텔레였음")."""
    parts = re.split(r"(?:말고|아니고|아니라|아니구)", text or "")
    return parts[-1].strip() if len(parts) > 1 else ""


# The people named are the ones who saw it or got it, not who made or spread it:
# "누가 합성해서 돌림 반애들 다봄", "반 애들이 다 알아", "학원 애들한테 돌았대".
_AUDIENCE = re.compile(
    r"(애들|친구들?|사람들?|선배들?|후배들?|오빠들?|언니들?|형들?|누나들?)(이|도|은|는|까지)?"
    r"(다|전부|거의|이미|벌써|대부분)*(봤|봄|본|보고|봐|알아|알고|알게|앎|알았)"
    r"|(애들|친구들?|사람들?|선배들?|후배들?)(한테|에게|들한테)(다|전부)?(돌|퍼|뿌|보내|공유)"
    r"|누가(만들|합성|올|퍼|뿌|돌)"
)


# What was done, told in the student's words: made, spread, seen.
_WHAT_HAPPENED = re.compile(
    r"(합성|딥페|만들었|만든|만들어|돌림|돌았|돌아다|돌고|돌려|퍼졌|퍼짐|퍼뜨|퍼트|뿌림|뿌렸|뿌려|"
    r"올렸|올림|올라왔|올라옴|유포|다봤|다봄|봤대|봤다|공유했|공유됨)"
)


def tells_what_happened(text: Optional[str]) -> bool:
    """A student goes on telling what was done ("누가 합성해서 돌림 반애들
    다봄"), not a question and not a report answer."""
    return bool(_WHAT_HAPPENED.search(squash(text))) and not is_question(text)


_AFRAID_TO_REPORT = re.compile(
    r"(신고|경찰|고소|112|117)[가-힣]{0,8}?"
    r"(무섭|무서|겁나|겁남|겁이|두렵|두려|떨려|떨림|자신없|못하겠|못할것같|엄두)"
)


def afraid_to_report(text: Optional[str]) -> bool:
    """Fear of the report itself ("신고는 무서움", "경찰은 좀 겁나요"), not of a danger."""
    s = squash(text)
    # "내가 신고한거 알게될까봐 무서워": fear of being found out (privacy), not of the step.
    found_out = re.search(r"(알게될까|알까봐|들킬까|알려질까|소문날까)", s)
    return (
        bool(_AFRAID_TO_REPORT.search(s))
        and not re.search(r"(신고했|신고한거|무서웠|겁났)", s)
        and not found_out
    )


# Someone else's own case, told beside hers: "울언니는 에타에 자기 사진
# 올라왔대", "친구도 당했대요", "동생 얼굴도 합성됐대".
_KIN = r"(언니|오빠|누나|형|남동생|여동생|동생|친구|사촌|베프|절친)"
_OTHERS_CASE = re.compile(
    _KIN + r"(는|도|들도|들은|네)[가-힣]{0,12}?(자기|본인|지)(사진|얼굴|영상)"
    r"|" + _KIN + r"(도|들도)(당했|당함|합성당|합성됐|피해)"
    r"|" + _KIN + r"(사진|얼굴|영상)(도)(합성|올라|돌|퍼)"
)
_ADULT_OTHER = re.compile(r"(대학생|성인|직장인|스무살|20살|대학다녀|대학교다녀|군인)")


def others_case(text: Optional[str]) -> Optional[str]:
    """Someone else's own case told beside hers: "adult" when said to be one,
    "other" otherwise; None when it is not another's case."""
    s = squash(text)
    if not _OTHERS_CASE.search(s):
        return None
    return "adult" if _ADULT_OTHER.search(s) else "other"


# Someone is near her now: at the door, at the gate, following her.
_NEAR_NOW = re.compile(
    r"(문앞|집앞|교문앞|학교앞|학원앞|와있|기다리고있|기다린대|기다린다|따라오|따라와|쫓아오|"
    r"쫓아와|뒤따라|미행|문을?두드|두드려|두들겨)"
)


def danger_near(text: Optional[str]) -> bool:
    """The threat is a person close by now ("만든 애가 우리집 문앞에 와있어"),
    not a message on a screen: 112 and an adult now, not the sextortion advice."""
    return bool(_NEAR_NOW.search(squash(text)))


# The review body (방심위, now 방미심위) by its names and number.
_REVIEW_BODY = r"(1377|방통위|방심위|방미심위|방송통신심의|방송미디어통신심의|심의위원회|심의)"


def asks_1377(text: Optional[str]) -> bool:
    """ "방통위 번호가 1377이 맞습니까?": the review body's number."""
    s = squash(text)
    return bool(re.search(_REVIEW_BODY, s)) and bool(re.search(r"(1377|번호|전화|연락처)", s))


def asks_review_delay(text: Optional[str]) -> bool:
    """ "심의가 멈춰 있었다던데 신고해도 소용 있나요?", "2주째 아무 조치가 없어요":
    the review halt of 2025-2026 and what still helps."""
    s = squash(text)
    return bool(re.search(_REVIEW_BODY, s)) and bool(
        re.search(
            r"(멈|늦|오래|조치가없|아무조치|소용|기다려야|밀렸|공백|처리가안|답이없|연락이없)", s
        )
    )


def asks_how_long(text: Optional[str]) -> bool:
    """ "그거 얼마나 걸려", "며칠이면 돼요?": how long, said short."""
    return bool(
        re.search(
            r"(얼마나|며칠|몇일|몇달|언제쯤|언제까지)(걸|지나|기다|있어야|이면|면돼|면되)",
            squash(text),
        )
    )


def fears_scolding(text: Optional[str]) -> bool:
    """ "엄마한테 말하면 혼나요? 폰 뺏길거 같아요": afraid of being punished for telling."""
    return bool(re.search(r"(혼나|혼날|혼내|혼낼|맞을까|뺏길|뺏겨|뺏을|압수|욕먹)", squash(text)))


def fears_payback(text: Optional[str]) -> bool:
    """ "안올릴게 근데 그럼 나 찍힘 ㅠ": refusing to post or join, and afraid of
    what the others will do."""
    return bool(
        re.search(
            r"(안올리면|안올릴|안보내면|안보낼|안퍼뜨|안돌리면|안돌릴)[가-힣]{0,8}"
            r"(찍힘|찍혀|찍히|왕따|따돌|괴롭|맞을|당할|보복|은따)",
            squash(text),
        )
    )


def report_details(text: Optional[str], platform: Optional[str] = None) -> dict:
    """The report form's answers a victim gives unasked, right after being
    offered help ("인스타 dm으로 돌았대요", "그저께", "같은 반 남자애들", "중2요"):
    {slot: value} for the form to start with (each still shown in the summary to
    confirm or correct). `platform`: the NLU's platform entity, if any. Empty
    for a question, a long story, or nothing clear."""
    s = squash(text)
    if not s or len(s) > REPORT_DETAIL_MAX_CHARS or is_question(text):
        return {}
    details = {}
    found = platform or report_choice("report_platform", text)
    if found not in (None, "skip", "other"):
        details["report_platform"] = found
    relation = report_choice("report_relation", text)
    if (
        relation in ("classmate", "known", "stranger")
        and not re.search(r"친구(가|한테|들이)", s)
        and not _AUDIENCE.search(s)
    ):
        details["report_relation"] = relation
    if _AGE_TOLD.search(s):
        age = report_choice("report_age", text)
        if age in ("minor", "adult"):
            details["report_age"] = age
    if _WHEN_TOLD.search(s):
        # The leading words that tell the time ("지난주 금요일쯤 인스타에서…").
        words = []
        all_words = (text or "").split()
        for word in all_words[:3]:
            if not _WHEN_TOLD.search(word) and not (words and TIME_WORDS.search(word)):
                break
            words.append(word)
        rest = re.sub(r"[ㅠㅜㅋㅎ~.!?]+", "", squash(" ".join(all_words[len(words) :])))
        if words and (not rest or _SEEN.search(s) or details):
            details["report_when"] = " ".join(words)
    return details


def extract_links(text: Optional[str]) -> list:
    """Web links in the text, cleaned of trailing punctuation; others ignored."""
    links = []
    for match in _URL.findall(text or ""):
        link = match.rstrip(".,;:!?)]}'\"")
        if not link.lower().startswith(("http://", "https://")):
            link = "https://" + link
        parts = urlsplit(link)
        if parts.scheme in ("http", "https") and "." in (parts.hostname or ""):
            if len(link) <= MAX_LINK_CHARS:
                links.append(link)
    return links


def quiz_answer(slots: dict, text: Optional[str]) -> Optional[int]:
    """The choice a quiz answer means for the question being asked, or None."""
    ids = slots.get("quiz_ids") or []
    index = int(slots.get("quiz_index") or 0)
    if index >= len(ids):
        return None
    question = {q.id: q for q in content.quiz_questions()}.get(ids[index])
    return None if question is None else quiz_answers.parse_answer(question, text or "")


# "신고할래", "신고 기록 남길래", "신고 이어서 할래": the victim wants the report
# form (typed rather than tapped). Not "신고하면 어떻게 돼?" (a question).
_WANTS_REPORT = re.compile(
    r"(신고|신고서|신고기록|기록|삭제요청|삭제신청)[가-힣]{0,6}"
    r"(할래|할게|하고싶|하고파|하자|해줘|해주세요|해볼래|남길래|남기고싶|남겨줘|준비|이어서|계속|마저|"
    r"하려고|할거|할래요|할게요|하고싶어요|해야겠)"
)


def wants_report(text: Optional[str]) -> bool:
    """The writer asks to make (or go on with) the report, in words."""
    if is_question(text):
        return False
    s = squash(text)
    return (
        bool(_WANTS_REPORT.search(s))
        and not re.search(r"(지워|지우|삭제해|없애)", s)
        and not declines_report(text)
    )


_NOT_NOW = re.compile(r"(안할|안해|안하|못할|못하겠|싫|말래|말고|아직은|^ㄴㄴ|^아니)")


def declines_report(text: Optional[str]) -> bool:
    """ "ㄴㄴ 신고는 안할래 아직", "신고까지는 하기 싫어": not now."""
    s = squash(text)
    return bool(re.search(r"신고", s)) and bool(_NOT_NOW.search(s)) and not is_question(text)


# "그거 지워 주세요", "사진 삭제하고 싶어": the material online, not the record
# here ("내 기록 지워줘" is delete_my_data).
_TAKEDOWN_VERB = re.compile(
    r"(지워|지우|지울|삭제|내려|없애|안보이게|못보게|없어졌으면|사라졌으면|지워졌으면)"
)
_RECORD_WORDS = re.compile(
    r"(기록|대화(?!방)|채팅|내역|여기|데이터|정보|계정|번호|신고한거|신고내용|"
    r"말한거|말했던|말한것|얘기한거|얘기했던|이야기한거|내가쓴|내가한말|적은거|쓴거|"
    r"한얘기|한이야기|나눈얘기|나눈대화|지금까지|방금보낸|내가보낸|제가보낸|여태)"
)
_MATERIAL_WORDS = re.compile(
    r"(사진|영상|합성|게시물|글|그거|그것|파일|동영상|딥페|링크|방|올라온)"
)


def wants_takedown(text: Optional[str]) -> bool:
    """The writer wants the material taken down (not this conversation erased)."""
    s = squash(text)
    if not _TAKEDOWN_VERB.search(s) or _RECORD_WORDS.search(s):
        return False
    return bool(_MATERIAL_WORDS.search(s) or _ASK_DELETE.search(s))


_ASK_DELETE = re.compile(
    r"(지워|지우|삭제)(고|하고|해|해서)?(달라|주세요|줘|줌|주나|주는|싶|하는법|할수|빨리|는어케|는어떻게)"
    r"|지울수(있|없)|지울방법|지워지나"
    r"|(완전히|영원히|싹|다)(없어지|사라지|지워지|없어졌으면|사라졌으면|지워졌으면)"
)


# Someone else is pictured: "친구 사진이", "걔 얼굴로", "딸 사진".
_BYSTANDER = re.compile(
    r"(친구|걔|쟤|그애|동생|언니|누나|오빠|형|딸|아들|아이|학생|반친구|베프|여친|남친|제자)"
    r"(의|가|를|이|도)?(사진|얼굴|영상|프사|셀카)"
    # Shown or sent someone's material ("친구가 합성같은거 보여주면서").
    r"|(합성|딥페|능욕|야짤)[가-힣]{0,6}(보여주|보여줬|보여준|보여줘|보내주|보내줬|보내준)"
    # "제 친구가 딥페이크 피해를 당했는데": a friend harmed.
    r"|(친구|동생|언니|누나|오빠|베프|반친구)(가|이)[가-힣]{0,10}(피해를|피해를입|피해당|당했|당함|당하고)"
    # "중2 동생이 인스타에 자기 얼굴 합성된 사진이 올라왔다고": someone else's picture.
    r"|(친구|동생|언니|누나|오빠|형|베프|여자애|남자애|애)(이|가)[가-힣]{0,15}(자기|걔|그애)[가-힣]{0,3}"
    r"(얼굴|사진)[가-힣]{0,6}(합성|올라|돌)"
    r"|(우리반|같은반|반)(여자애|남자애|애|친구)[가-힣]{0,3}사진[가-힣]{0,6}(돌려|돌렸|올려|올렸|돌아)"
)


_TELL_FRIEND = re.compile(
    r"((걔|친구|그애|그친구|피해자|당사자|걔네)[가-힣]{0,2}(한테|에게|께)[가-힣]{0,3}(말해|알려|얘기|말할|알릴)"
    r"|모르는척|모른척|말해줘야|알려줘야)"
)


_WHAT_NOW = re.compile(
    r"(어떡해|어떡하|어떻게해야|어케해야|어케해|어캄|어떻게하면|이제뭐|뭘해야|뭐해야|뭐부터|뭐하면|"
    r"할수있는게|해야할일|다음엔뭐|이다음|담엔뭐|담에뭐|그담엔|그다음엔|다음은뭐)"
)


# An adult's "what must I do now" at any length ("부모로서 지금 무엇을 해야 합니까?").
def adult_asks_what_now(text: Optional[str]) -> bool:
    s = squash(text)
    return is_question(text) and bool(
        _WHAT_NOW.search(s) or re.search(r"(무엇을해야|무엇부터|무얼해야|어떻게대처|어떻게해야)", s)
    )


# Others blame her for it: "친구들이 니가 인스타에 사진 올려서 그런거래".
def blamed_by_others(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            # Not "걔네가 …" (they), which holds 네가.
            r"(니가|너가|(?<![걔쟤얘])네가|니탓|너탓|네탓|니잘못|너잘못)[가-힣]{0,16}(래|대|랬|댔|라고|라는)",
            s,
        )
        or re.search(
            r"(나보고|날보고|저보고|내탓|제탓|내잘못|제잘못)[가-힣]{0,10}(이래|이라고|래|대|라고|하더라)",
            s,
        )
    )


def asks_what_now(text: Optional[str]) -> bool:
    """ "이제 뭐 해야 돼?", "어떻게 해야 돼요": what to do next, nothing more specific."""
    s = squash(text)
    return bool(_WHAT_NOW.search(s)) and len(s) <= 30


_CHILD_STRUGGLES = re.compile(
    r"(싫어하|힘들어하|무서워하|괴로워하|불안해하|겁에질|겁을먹|울어요|울고|울기만|잠을못|잠도못|못자|"
    r"안먹|밥을못|밥도|학교안가|학교를안|등교를|방에서안|말을안해|말을안하)"
)


def child_struggles(text: Optional[str]) -> bool:
    """A parent or teacher tells how the child or student is coping ("아이가 학교 가기
    싫어해요", "밤에 잠을 못 자요")."""
    return bool(_CHILD_STRUGGLES.search(squash(text)))


_HOW_TO_MAKE = re.compile(
    r"(딥페|딥페이크|합성|누드|벗기)[가-힣a-z]{0,6}(만드는법|만드는방법|하는법|하는방법|만들어줘|해줘|"
    r"만들수있|어떻게만들|어케만들|앱|어플|사이트|프로그램|봇)"
)


def asks_how_to_make(text: Optional[str]) -> bool:
    """Asks how (or with what) to make a sexual deepfake."""
    s = squash(text).lower()
    against = re.search(r"(신고|삭제|지우|막|예방|구별|알아보)", s)
    # "남자애가 옷벗기는 앱으로 여자애 사진 돌려서 올림": told, not asked.
    told = re.search(r"(돌려서|돌렸|올림|올렸|보냈|퍼뜨|만들어서|만들었)", s) and not is_question(
        text
    )
    return bool(_HOW_TO_MAKE.search(s)) and not against and not told


_WONT_TELL = re.compile(
    r"(말하기싫|말하기가싫|말안할|말못하|말못해|알리기싫|모르게|몰랐으면|비밀로|알려질까|알게될까|알까봐|들킬까)"
)


def wont_tell(text: Optional[str]) -> bool:
    """ "엄마한테는 말하기 싫어": a wish not to tell, which privacy answers."""
    return bool(_WONT_TELL.search(squash(text)))


# The reader did not follow: "?", "뭐라고", "무슨 말이야", "다시 말해줘".
_CONFUSED = re.compile(
    r"^(\?+|뭐라고|뭐라는|무슨말|무슨소리|뭔말|뭔소리|다시말해|다시한번|다시요|네\?|응\?|엥|잉\?|헐\?)"
)


def confused(text: Optional[str]) -> bool:
    if re.fullmatch(r"\s*[?？]+\s*", text or ""):
        return True
    s = squash(text)
    return bool(s) and len(s) <= 12 and bool(_CONFUSED.search(s))


_BYE = re.compile(r"(ㅂㅂ|ㅂ2|ㅃㅃ|바이|빠이|잘있어|잘가|갈게|나중에봐|여기까지|그만할게|안녕히)")


def says_bye(text: Optional[str]) -> bool:
    s = squash(text)
    return len(s) <= 15 and bool(_BYE.search(s))


# "더 알려줘", "예를 들면?", "자세히", "진짜야?" right after a lesson.
# (squash() drops "?": "ㄹㅇ?" reads "ㄹㅇ".)
_MORE = re.compile(
    r"^(헐|와|엥|아|오)?(더알려|더말해|더있|좀더|자세히|예를들|예를|예시|구체적|또있|다른건|진짜야|진짜$|"
    r"진짜요$|진짜임|정말$|정말요|ㄹㅇ$|ㄹㅇ임|ㄹㅇ루|레알|실화|왜$|왜요|왜그래|왜그런)"
)


def wants_example(text: Optional[str]) -> bool:
    return bool(re.search(r"^(예를들|예를|예시|예로)", squash(text)))


def wants_repeat(text: Optional[str]) -> bool:
    """ "다시 말해줘", "한 번 더": the last answer again."""
    return bool(re.search(r"^(다시말해|다시한번|한번더말|다시알려|다시요)", squash(text)))


def wants_more(text: Optional[str]) -> bool:
    s = squash(text)
    return len(s) <= 20 and bool(_MORE.search(s))


# "만약 …하면 어떻게 돼?": a question about the law, no disclosure.
_HYPOTHETICAL = re.compile(
    r"((으면|하면|면)(어케|어떻게|어떡|처벌|감옥|벌금|걸려|걸림|되나|돼|됨|될까)|만약|혹시라도)"
)


def hypothetical(text: Optional[str]) -> bool:
    s = squash(text)
    happened = re.search(r"(했는데|했어|했음|올렸는데|봤는데|있는데)", s)
    return bool(_HYPOTHETICAL.search(s)) and not happened


_MY_FAULT = re.compile(
    r"((내|제|나|저)[가-힣]{0,8}(탓|잘못)|탓이야|탓인가|탓임|잘못이야|잘못인가|잘못한거"
    # "내가 괜히 인스타에 사진 올려서 그런건가", "공개로 해놔서 그런거지"
    r"|(내가|제가|괜히)[가-힣]{0,16}(올려서|올린거|올린게|해놔서|해둬서|해서|공개로)[가-힣]{0,4}"
    r"(그런|이런|그랬|이렇게)(건가|거지|거야|거죠|걸까|가|거예요|거에요|건가요|건지))"
)


# The start of a story, nothing told yet ("학원에 같이 다니는 오빠가 있는데요").
_STORY_START = re.compile(
    r"(있는데요|있는데|있잖아요|있잖아|있거든요|있거든|인데요|는데요|했는데요)$"
)
_MATERIAL = re.compile(
    r"(합성|사진|영상|딥페|능욕|올렸|올라|퍼뜨|퍼졌|유포|뿌|몸캠|협박|찍|돌았|돌아|텔레|단톡|방)"
)


def story_start(text: Optional[str]) -> bool:
    """A first line that only sets the scene: listen, do not answer yet."""
    s = squash(text)
    return len(s) <= 40 and bool(_STORY_START.search(s)) and not _MATERIAL.search(s)


def blames_self(text: Optional[str]) -> bool:
    """ "딸이 자기가 사진을 올려서 그런 거라고 자책해요": a child or student who
    blames themself, told by an adult."""
    return bool(
        re.search(
            r"(자책|자기탓|자기잘못|자기때문|자기가[가-힣]{0,12}(그런거라|탓이라|잘못이라))",
            squash(text),
        )
    )


def asks_my_fault(text: Optional[str]) -> bool:
    """ "내가 사진 올린 탓이야?": whether it is the writer's fault."""
    s = squash(text)
    ends = re.search(
        r"(탓이야|잘못이야|탓임|탓인가|잘못인가|탓이에요|잘못이에요|탓이죠|잘못이죠|그런건가|그런거지|"
        r"그런걸까|그런거야|그런거죠|이런건가|이런거지)$",
        _strip_tail(s) or s,
    )
    return bool(_MY_FAULT.search(s)) and (is_question(text) or bool(ends))


_CONFRONT = re.compile(r"(따지|직접말해|직접연락|연락해서|찾아가서|만나서|직접지우라)")


def wants_to_confront(text: Optional[str]) -> bool:
    return bool(_CONFRONT.search(squash(text)))


_NO_CALL = re.compile(
    r"(전화말고|전화안하고|전화는무서|전화하기무서|전화하는거무서|전화무서|통화말고|문자로도|전화못|"
    r"전화는못|전화는안|전화는어려|전화는힘들|전화하면들|통화는못|통화는무서)"
)


def avoids_calling(text: Optional[str]) -> bool:
    """ "전화하는거 무서운데 다른 방법 없어?": ways without a call."""
    return bool(_NO_CALL.search(squash(text)))


_INVITED = re.compile(
    r"(초대|링크)[가-힣]{0,8}(오면|받으면|왔|받았|들어가|눌러)|이미들어가|들어가있"
)


def already_in_room(text: Optional[str]) -> bool:
    return bool(re.search(r"(이미|벌써)?(들어가있|들어와있|들어갔|방에있)", squash(text)))


def invited_to_room(text: Optional[str]) -> bool:
    """Invited to such a room, or already in it."""
    return bool(_INVITED.search(squash(text)))


_SUPPORT_FRIEND = re.compile(
    r"(뭐라고해|뭐라해|뭐라고말|어떻게위로|위로해|위로하|어떻게해줘|뭘해줘|옆에서)"
)


def asks_support_friend(text: Optional[str]) -> bool:
    return bool(_SUPPORT_FRIEND.search(squash(text)))


_LOOK_FOR_IT = re.compile(
    r"(찾아봐야|찾아봐|찾아볼|들어가서확인|들어가서봐|확인해봐야|직접확인|찾아서확인)"
)


def asks_to_look(text: Optional[str]) -> bool:
    """ "내가 그 방 들어가서 찾아봐야 돼?": no one should go looking."""
    return bool(_LOOK_FOR_IT.search(squash(text))) and is_question(text)


def asks_profile_photo(text: Optional[str]) -> bool:
    """ "프사도 내려야 돼?", "카톡 프사는 어케해": what to do with a profile photo."""
    s = squash(text)
    return bool(re.search(r"(프사|프로필)", s)) and (
        is_question(text) or bool(re.search(r"(내려야|바꿔야|어케|어떻게)", s))
    )


def asks_about_rooms(text: Optional[str]) -> bool:
    """ "지인능욕방이 뭐야?": what such a room is (not whether one who saw it is caught)."""
    s = squash(text)
    return (
        bool(re.search(r"(지인능욕|능욕방|겹지인|겹지방)", s))
        and is_question(text)
        and not saw_unwanted(text)
        # "친구 사진이 능욕방에 올라와있대 어떡해": something happened there.
        and not re.search(r"(올라왔|올라와|올라옴|돌아|돈대|돌고|퍼졌|퍼지|뿌려|있대|있었|봤)", s)
    )


def saw_unwanted(text: Optional[str]) -> bool:
    """ "단톡에 누가 갑자기 올려서 본 거면 걸려?": seeing it without wanting to."""
    s = squash(text)
    unwanted = re.search(
        r"(갑자기|원치않|모르고|실수로|그냥올라|올려서본|보내서본|떠서본|"
        # "링크 받아서 눌렀더니 능욕방이었음 바로 나왔는데"
        r"눌렀더니|들어갔더니|열었더니|바로나왔|바로나옴|바로나감|바로나갔)",
        s,
    )
    caught = re.search(r"(걸림|걸려|걸리|처벌|범죄|죄|잡혀|불법)", s)
    return bool(unwanted and caught)


def asks_if_seeing_is_crime(text: Optional[str]) -> bool:
    """ "나도 봤으니까 나도 처벌받는거야?": whether having seen it is a crime
    (for one who was shown it: utter_saw_unwanted)."""
    s = squash(text)
    seen = re.search(r"(봤|본거|본것|보기만|봐버|봐서|보게됐)", s)
    caught = re.search(r"(처벌|걸려|걸림|걸리|범죄|죄|잡혀|불법)", s)
    return bool(seen and caught)


def real_or_fake(text: Optional[str]) -> bool:
    """ "합성 아니고 진짜 사진이면?": what to do is the same."""
    s = squash(text)
    return bool(re.search(r"(진짜사진|실제사진|합성아니고|합성이아니|진짜면|진짜라면)", s))


def about_this_chat(text: Optional[str]) -> bool:
    """The words name this chat's own records ("여기서 한 얘기", "내 기록")."""
    return bool(_RECORD_WORDS.search(squash(text)))


def asks_can_report(text: Optional[str]) -> bool:
    """ "나도 신고할 수 있어?", "대신 신고해도 돼?": whether the writer may report."""
    s = squash(text)
    asks = re.search(r"신고(할수|해도|하면되|할까|가능|되나|돼|해줘도|해줄수)", s)
    return bool(asks) and is_question(text)


def asks_tell_friend(text: Optional[str]) -> bool:
    """A friend asks whether (or how) to tell the one pictured."""
    return bool(_TELL_FRIEND.search(squash(text))) and is_question(text)


def bystander_cue(text: Optional[str]) -> bool:
    """The writer speaks of someone else pictured (and not of themself, nor of
    what they did to them)."""
    return bool(_BYSTANDER.search(squash(text))) and not victim_cue(text) and not involved_cue(text)


def asks_deletion(text: Optional[str]) -> bool:
    """Words of erasing: a short message read as "delete my data" must hold them."""
    return bool(re.search(r"(지워|지우|지울|삭제|없애|기록|흔적)", squash(text)))


def asks_counsellor(text: Optional[str]) -> bool:
    """Words of a person to talk to: a short message read as a request for a
    counsellor must hold them."""
    return bool(re.search(r"(상담|선생님|쌤|사람|연결|얘기|이야기|대화)", squash(text)))


def asks_to_connect(text: Optional[str]) -> bool:
    """ "연결해 주세요", "상담쌤 불러줘": a person asked for in so many words."""
    return bool(
        re.search(r"(연결|이어줘|이어주|불러줘|불러주|바꿔줘|바꿔주)", squash(text))
    ) and not is_question(text)


def wants_a_person(text: Optional[str]) -> bool:
    """ "걍 누구랑 얘기하고싶음": to talk with someone, not with the bot."""
    return bool(re.search(r"(누구|누군가|사람|어른)(랑|하고|와|한테|이랑)", squash(text)))


def wants_to_talk(text: Optional[str]) -> bool:
    """ "그냥 얘기하고 싶어": to talk, not to be taught or to report."""
    s = squash(text)
    if re.search(r"(상담|선생님|쌤|사람이랑|사람하고|사람과|어른|연결)", s):
        return False  # a person to talk to: the counsellor offer
    return bool(_TALK.search(s))


_TALK = re.compile(
    r"(얘기|이야기|대화|수다)[가-힣]{0,4}(하고싶|하고파|할래|좀하자|하자|들어줘|들어줄)"
)


def is_greeting(text: Optional[str]) -> bool:
    return bool(re.match(r"(안녕|하이|ㅎㅇ|hi|hello|헬로|반가|처음)", squash(text)))


# "상담받을 수 있을까요?", "상담하고 싶어요" inside a longer message.
_WANTS_COUNSELLOR = re.compile(
    r"(상담|상담사|상담선생님|상담쌤)(을|를)?(받|하|해|연결)[가-힣]{0,3}"
    r"(수있|고싶|고파|을까|ㄹ까|싶어|싶습|주실|줄수|주세요|줘|가능|되나|돼요|될까)"
)


def wants_counsellor(text: Optional[str]) -> bool:
    """A request for counselling, however it is wrapped."""
    return bool(_WANTS_COUNSELLOR.search(squash(text)))


# Weariness of living, without a word of dying: "사는 게 너무 힘들다", "다 의미
# 없어". Not the detector's to flag; asked about, gently (utter_crisis_check).
_LIFE_WEARY = re.compile(
    r"(사는게|사는것|산다는게|살기|살아가는게|인생|삶)[가-힣]{0,4}(힘들|싫|지쳐|지친|버거|의미없|무의미|"
    r"귀찮|괴로|끝났)|(다|모든게|모든것|전부)[가-힣]{0,2}(의미없|부질없|끝났)|(더는|더이상)(못버티|버틸수없|살수없)"
)


def life_weary(text: Optional[str]) -> bool:
    return bool(_LIFE_WEARY.search(squash(text)))


# "증거는 어떻게 남기나요?" at the end of a longer message.
_ASKS_EVIDENCE = re.compile(
    r"(증거|캡처|캡쳐|채증|기록)[가-힣]{0,4}(남기|남겨|보존|저장|모아|확보|어떻게|어케|뭘|해야)"
    r"|(캡처|캡쳐|스샷|스크린샷|화면저장)[가-힣]{0,3}(해서|해도|할까|해둘|해놓|해놔|떠서|떠도|떠놓)"
    r"|(증거|채증)[가-힣]{0,12}(저장|보관|남겨|캡처|캡쳐)"
)


_DELETE_OWN = re.compile(
    r"(지우|지워|삭제)(게하는|게할|게해도|게하면|도|버려도|버리면|는게|면|고|야)[가-힣]{0,5}"
    r"(될까|되나|돼|되지|괜찮|나을|낫|좋을|할까|되|하나)"
)


def asks_to_delete_own(text: Optional[str]) -> bool:
    """ "그 사진 지워 버려도 될까요?": whether to delete what one has (keep it:
    the evidence advice), not a request to erase this chat or the material online."""
    s = squash(text)
    return bool(_DELETE_OWN.search(s)) and is_question(text) and not _RECORD_WORDS.search(s)


def names_evidence(text: Optional[str]) -> bool:
    """The word evidence itself ("증거로 저장해 둬도 돼요?"), not only a record."""
    return bool(re.search(r"(증거|캡처|캡쳐|채증)", squash(text)))


def asks_evidence(text: Optional[str]) -> bool:
    return is_question(text) and bool(_ASKS_EVIDENCE.search(squash(text)))


# Feelings without a topic ("넘 우울하다..", "속상해"): support, whatever the
# classifier made of them.
_FEELING = re.compile(
    r"(우울|슬퍼|슬프|속상|무서|불안|외로|눈물|울고싶|울었|멘붕|괴로|막막|답답|지쳐|지친다|힘들어|힘들다|"
    r"창피|수치|억울|화나|짜증나|잠도안|잠이안|잠을못|잠못|못자|한숨도못|밥도못|밥이안|학교못가|"
    r"학교가기싫|학교어케가|무섭|떨려|미치겠)"
)


_CRYING = re.compile(
    "[\U0001f62d\U0001f622\U0001f97a\U0001f61e\U0001f614\U0001f494\U0001f625\U0001f630]"
)


def feeling(text: Optional[str]) -> bool:
    """Words of a feeling, or crying faces ("😭😭")."""
    return bool(_FEELING.search(squash(text)) or _CRYING.search(text or ""))


# "안 퍼뜨리고 혼자만 갖고 있으면요?": keeping it, asked as if that were fine.
def asks_if_keeping_ok(text: Optional[str]) -> bool:
    s = squash(text)
    return is_question(text) and bool(
        re.search(
            r"(안퍼뜨|안퍼트|안보내|안올리|안돌리|혼자만|나만|저만)[가-힣]{0,10}(갖고|가지고|보관|저장|소지|간직)",
            s,
        )
    )


# "그니까 캡처하면 되냐구요": is capturing enough, asked straight.
def asks_if_capture_enough(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"(캡처|캡쳐|스샷|스크린샷)[가-힣]{0,4}(하면되|만하면|만되|하면돼|하면됨|되냐|되나|돼요|되는거)",
            s,
        )
    )


# "그럼 나도 신고 못해? 내가 한거 있어서": may one who once shared still report.
def asks_can_still_report(text: Optional[str]) -> bool:
    s = squash(text)
    return (
        is_question(text)
        and bool(
            re.search(
                r"(나도|저도|내가|제가)?신고(못해|못하|못함|안되|안돼|할수없|못할|해도되|할수있)", s
            )
        )
        and bool(
            re.search(
                r"(내가한|제가한|나도보낸|저도보낸|내가보낸|제가보낸|한거있|한게있|잘못한)", s
            )
        )
    )


# "아 지워도 된다고 ㅇㅇ 지워줘": asking to erase (this chat), said outright.
def asks_to_erase(text: Optional[str]) -> bool:
    s = squash(text)
    wants = re.search(
        r"(지워줘|지워주세요|지워주라|지워달|삭제해줘|삭제해주세요|지워도돼|지워도된|지워도괜찮|다지워)",
        s,
    )
    return bool(wants) and not re.search(
        r"(지우지마|지우지말|삭제하지마|삭제하지말|안지워|지우면안)", s
    )


# "이름까지 전부 지워줘", "여기 남은거 다 지워": what she wrote here, not the pictures.
def names_own_data(text: Optional[str]) -> bool:
    return bool(
        re.search(
            r"(이름|기록|대화|채팅|내가쓴|내가한말|내가보낸|말한거|쓴거|여기남|남은거|저장된|내정보|"
            r"개인정보|전화번호|폰번호|학교이름)",
            squash(text),
        )
    )


# "소송하면 돈이 많이 들 텐데 지원 같은 게 있나요?": legal costs and aid.
def asks_legal_aid(text: Optional[str]) -> bool:
    s = squash(text)
    return (
        is_question(text)
        and bool(re.search(r"(변호사|소송|법률|재판비|법률지원|법적지원)", s))
        and bool(re.search(r"(지원|돈|비용|무료|얼마|들텐데|들까|드나|구하|선임)", s))
    )


# "딥페 피해 상담 어디서 해요?": where to get help (the places, not this bot's counsellor).
def asks_where_help(text: Optional[str]) -> bool:
    s = squash(text)
    return (
        is_question(text)
        and bool(
            re.search(
                r"((상담|신고|도움)[가-힣]{0,6}(어디서|어디에|어디로|어디)|(어디서|어디에|어디로)[가-힣]{0,4}(상담|신고|도움))",
                s,
            )
        )
        and not re.search(r"(연결|여기서|지킴이|삭제|지워|지우)", s)  # takedown: its own answer
    )


# "학부모 단톡방에 그놈 이름이랑 사진 올려서 망신 줄 생각입니다": exposing him.
def plans_to_expose(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(r"(망신|박제|폭로|신상[가-힣]{0,2}털|신상공개|이름[가-힣]{0,8}공개)", s)
        and re.search(r"(줄|주겠|줄거|시킬|할생각|하겠|할거|할래|하려|올려|올릴|공개)", s)
    )


# "몰루", "ㅁㄹ", "몰라요": not knowing, said alone.
def dont_know(text: Optional[str]) -> bool:
    return bool(
        re.fullmatch(
            r"(음|흠|아|글쎄)?(몰루|몰라|몰라요|모름|ㅁㄹ|몰겠|모르겠어|모르겠어요|잘몰라)",
            squash(text),
        )
    )


# "모르겠어요 방에 혼자 있어요", "글쎄 잘 모르겠음": an answer that starts unsure.
def starts_unsure(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(re.match(r"(음+|흠+|아+|글쎄|잘|그냥)*(몰루|몰라|모름|ㅁㄹ|몰겠|모르겠|글쎄)", s))


# "부모님은요", "학교는?": the same question again, about someone else.
def elliptical_privacy(text: Optional[str]) -> bool:
    s = squash(text)
    return len(s) <= 10 and bool(re.search(r"(은|는)요?$", s)) and privacy_topic(text) != "general"


# "사실 친구 아니고 저예요": the writer was the one all along.
_REVEALS_SELF = re.compile(
    r"((아니라|아니고|아니구)(나|저)(야|임|예요|에요|얘기|이야기)|^(근데)?사실(은)?(나|저)(야|임|예요|에요|얘기))"
)


def reveals_self(text: Optional[str]) -> bool:
    return bool(_REVEALS_SELF.search(squash(text)))


# An adult says they are the one pictured ("사실 합성된 교사가 저입니다").
def adult_is_pictured(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"(합성된|피해를입은|피해입은|당한|사진속)[가-힣]{0,4}(가|이)?(저|제가|나)(입니다|예요|에요|이에요|임)",
            s,
        )
        or re.search(
            r"(제|저의)(얼굴|사진)[가-힣]{0,3}(이|가|을|를|로)[가-힣]{0,8}(합성|돌고|퍼지|올라)", s
        )
    )


# --- after a crisis reply that asked nothing ------------------------------------------

# More of a threat ("또 디엠옴 12시까지 안보내면 올린대", "걍 보낼까", "이미 10만원 보냈대요").
_THREAT_MORE = re.compile(
    r"(돈|만원|원|입금|송금|계좌|보낼까|보내야|보냈|보내면|안보내면|디엠|dm|협박|올린대|올린다|뿌린대|뿌린다|"
    r"퍼뜨린대|퍼뜨린다|까지|기한|시까지)"
)


_DELETE_OR_BLOCK = re.compile(
    r"(지울까|지워도|지워야|지우면|다지우|삭제할까|삭제해도|삭제해야|차단할까|차단해도|차단하고|차단해야|"
    r"탈퇴할까|탈퇴해도|계정삭제|방나갈까|나가도돼|지워버리|지워버릴|탈퇴하면|차단하면|차단해버|앱지우|"
    r"앱지워|앱삭제)"
)


def asks_delete_or_block(text: Optional[str]) -> bool:
    """ "걔 계정 차단하고 dm 다 지울까": whether to erase or block, during a threat."""
    return bool(_DELETE_OR_BLOCK.search(squash(text)))


def threat_more(text: Optional[str]) -> bool:
    """The message carries on the threat just answered."""
    return bool(_THREAT_MORE.search(squash(text).lower()))


# "119 불렀어", "구급차 왔어": help is already on its way.
_HELP_CALLED = re.compile(
    r"(119|구급차|엠뷸|앰뷸|경찰|112)[가-힣]{0,6}(불렀|전화했|신고했|연락했|왔|오고|온대|부름|부르는중|했어|했음)"
)


def help_called(text: Optional[str]) -> bool:
    return bool(_HELP_CALLED.search(squash(text)))


# "아까 하던거 계속", "이어서 하자", "계속해": go on with what was paused.
_GO_ON_WORDS = re.compile(
    r"^(아까|그럼|그래|응|네|ㅇㅇ|좋아|다시)?"
    r"(하던거|하던것|하던신고|하던퀴즈|신고|퀴즈)?"
    r"(계속|이어서|이어|마저)(하자|할래|할게|해|해줘|해요|할래요|하기|ㄱ|ㄱㄱ|가자|진행)?(요)?$"
)


_WHAT_WE_WERE_DOING = re.compile(r"(아까)?(하던거|하던것)(계속|이어서|마저)?[가-힣]{0,4}")


# The numbers the bot gives (content/resources.yml ids), as written in a message;
# 1377 is not here (its entry is too long for one bubble): the context policy
# answers a question about it (utter_1377, utter_review_delay).
_HOTLINE = re.compile(r"(?<![\d-])(112|119|109|1388|117|1366)(?![\d-])")


def hotlines_named(text: Optional[str]) -> list:
    """ "1388은 문자도 돼요?": the services named by number, in order, once each."""
    found: list = []
    for number in _HOTLINE.findall(text or ""):
        if number not in found:
            found.append(number)
    return found


# Asked for a number by what it is for ("디지털 성범죄 피해 상담 번호 뭐예요?").
_ASKS_NUMBER = re.compile(r"(번호|전화번호|연락처|몇번|어디로전화|어디에전화|전화할곳|전화할데)")
_HOTLINE_TOPICS = (
    ("109", r"(자살|죽고싶|109)"),
    ("1366", r"(디지털성범죄|디성|피해상담|성범죄|삭제지원|삭제요청)"),
    ("117", r"(학교폭력|학폭)"),
    ("1388", r"(청소년상담|고민상담|상담|1388)"),
    ("112", r"(경찰|112)"),
)
# When a service answers ("주말에도", "새벽에", "24시간이야?").
_ASKS_HOURS = re.compile(
    r"(주말|새벽|밤에|밤늦|지금도|이시간|이시각|24시간|몇시|언제까지|언제든|공휴일|휴일|연중)"
)


def hotlines_asked(text: Optional[str]) -> list:
    """The services a message names by number, else the one it asks the number of."""
    named = hotlines_named(text)
    if named:
        return named
    s = squash(text)
    if not _ASKS_NUMBER.search(s):
        return []
    topic = _first_topic(_HOTLINE_TOPICS, s)
    return [topic] if topic else []


def asks_hours(text: Optional[str]) -> bool:
    """ "거기 주말이나 새벽에도 전화 받아요?": when a service answers."""
    return bool(_ASKS_HOURS.search(squash(text))) and is_question(text)


_WAIT = re.compile(r"^(잠깐|잠시|잠만|ㄱㄷ|기다려|기달려|기다리)")


def wants_wait(text: Optional[str]) -> bool:
    """ "잠깐만", "잠시만요 링크 찾아볼게": wait, not an answer."""
    s = squash(text)
    return bool(_WAIT.search(s)) and (
        len(s) <= 8 or bool(re.search(r"(찾아볼|찾아보고|확인해|생각해|보고올|다녀올|있다가)", s))
    )


def go_on(text: Optional[str]) -> bool:
    """A short "go on with it", not an answer."""
    s = re.sub(r"[^가-힣ㄱ-ㅎ]", "", squash(text))
    return bool(_GO_ON_WORDS.match(s) or _WHAT_WE_WERE_DOING.fullmatch(s))


# "신고하면 어디로 가?", "어디에 신고해야 돼?": where to report, asked.
_WHERE_TO_REPORT = re.compile(
    r"(신고[가-힣]{0,6}(어디|어느곳|누구한테|어케해|어떻게해|하는법|하는곳|방법)"
    r"|(어디|어느곳)[가-힣]{0,3}신고|(어케|어캐|어떻게|어떡게|어뜨케)[가-힣]{0,2}신고(해|하|함|할))"
)


def asks_where_to_report(text: Optional[str]) -> bool:
    s = squash(text)
    asks = is_question(text) or bool(re.search(r"(어디|어느곳|누구한테)", s))
    return asks and bool(_WHERE_TO_REPORT.search(s))


# --- specific questions with their own short answer ---------------------------------
#
# A question about one point gets that point, not the whole lesson it belongs
# to ("텔레그램은 해외라 못 잡는다던데" is not "what is the law"). First row that
# matches wins; bot/policies/context.py maps each to its reply (QUESTION_REPLIES).
_QUESTION_TOPICS = (
    # Who is under 14 (촉법소년) and what reporting does then.
    # The one who made it is under 14 (a word of making or doing it is needed:
    # "저 13살인데 혼자 신고할 수 있어요?" is about the writer).
    (
        "under14",
        r"(촉법|(1[0-3]살|1[0-3]세|초등학생|초딩|만14세미만|14살이하|14살안)[가-힣]{0,8}"
        r"(만든|만들|합성|퍼뜨|올린|올렸|가해|했으면|한거|한건|짓)"
        r"|(만든|가해|올린|퍼뜨린)(애|사람|학생|놈|애가|사람이)[가-힣]{0,3}(1[0-3]살|1[0-3]세|초등|초딩))",
    ),
    # Telegram is abroad: can the police find them.
    (
        "telegram_caught",
        r"(텔레|텔그|텔방)[가-힣]{0,12}(못잡|안잡|못찾|안찾|추적|잡을수|잡혀|잡히|잡아|찾을수|걸려|걸리)",
    ),
    # Whether a minor's deepfake is always 성착취물 (the 2025.8.14. ruling).
    (
        "minor_material",
        r"((미성년|청소년|아동|학생)[가-힣]{0,20}성착취물|성착취물[가-힣]{0,12}(되나|돼|인가|맞나))",
    ),
    # Whether the review body takes it down fast or completely.
    (
        "takedown_speed",
        r"((하루|24시간|일주일|금방|바로|당장|빨리)[가-힣]{0,6}(지워|삭제|없어|내려|차단)[가-힣]{0,4}(주|준|지|져|돼|되)"
        r"|(완전히|영원히|싹다|완벽하게)[가-힣]{0,2}(없어지|사라지|지워지|삭제))",
    ),
    # Whether the police ask for takedown too.
    ("police_delete", r"(경찰|112)[가-힣]{0,10}(도|이|가)?[가-힣]{0,6}(지워|삭제|내려|차단)"),
    # Reporting without evidence or without having seen it.
    (
        "no_evidence",
        r"((증거|캡처|캡쳐|사진)(가|도|이)?[가-힣]{0,4}(없|없어도|없는데|못)[가-힣]{0,8}신고"
        r"|(있는지도|진짠지도|진짜인지도|있는지|사실인지)(모르|몰라)[가-힣]{0,8}신고"
        r"|(못봤|안봤|본적없|보지도못|보지못)[가-힣]{0,8}신고)",
    ),
    # A boy who feels ashamed to report.
    # The writer is a boy ("같은반 남자애가 내 사진 합성했어" is not).
    (
        "boys_too",
        r"((저|나|난|전|제가|내가)(는|도)?(남자|남학생)|남자인데|남잔데|남자라서|남자가이런|남자도이런"
        r"|남자가이런거|남자애가이런)[가-힣]{0,10}(신고|피해|당하|쪽팔|창피|부끄|이상|웃기|그런가|오바)",
    ),
    # Pressured to join such a room.
    (
        "pressure_to_join",
        r"(안들어가|안들가|들어가지않|안가면|거절하면)[가-힣]{0,8}"
        r"(왕따|따돌|찐따|소외|무시|욕|은따|싫어하|괴롭)",
    ),
    # The police's online report, for someone else.
    (
        "police_site",
        r"(경찰|사이버|ecrm)[가-힣]{0,6}(사이트|홈페이지|온라인|인터넷|웹)[가-힣]{0,10}(대신|내가|제가|친구)"
        r"|(대신|친구)[가-힣]{0,10}(경찰|사이버)[가-힣]{0,6}(사이트|홈페이지|온라인)",
    ),
    # Reporting for a friend, behind the friend's back.
    # Reporting for a friend ("엄마 몰래 신고할 수 있어?" is her own privacy).
    (
        "for_friend",
        r"(대신[가-힣]{0,4}신고|(친구|걔|그애|그친구)[가-힣]{0,4}(몰래|모르게)[가-힣]{0,6}신고)",
    ),
    # Whether to report oneself, apart from the school or others.
    (
        "report_myself",
        r"((직접|제가|내가|따로|별개로)[가-힣]{0,8}신고[가-힣]{0,4}(해야|하나|할수|해도|하면|가능)"
        r"|신고[가-힣]{0,12}(직접|제가|내가|따로)[가-힣]{0,2}(해야|하나|할수|해도|하면))",
    ),
)


def question_topic(text: Optional[str]) -> Optional[str]:
    """The one point a question asks about (_QUESTION_TOPICS), if any."""
    s = squash(text)
    if not (
        is_question(text)
        or re.search(r"(던데|잖아|ㅈ아|같아|같아요|같음|같은데|듯|그런가|인가|는가|려나)$", s)
    ):
        return None
    return _first_topic(_QUESTION_TOPICS, s)


# Whether someone finds out, is told, or can read: what makes a question about
# parents or the school a privacy question ("담임한테 말하면 어떻게 돼?", "학교에
# 연락가?") and not any question that names them ("반 전체에 어떻게 이야기할까요?").
_WHO_KNOWS = re.compile(
    r"(알려|알게|알아|알까|알면|알수|알고|연락가|연락와|연락이가|연락이와|연락오|연락줘|연락해|통보|전화가|전화와|"
    r"들키|들켜|비밀|익명|실명|신원|누군지|기록|저장|남아|남나|남는|볼수|보나|보게|봐요|읽어|"
    r"넘어가|넘겨|전달돼|전해져|모르게|신고돼|신고되|신고가|소문|"
    r"(한테|에게|께|한텐|에겐)(말해야|말하면|얘기하면|이야기하면|말안|말하기))"
)


def asks_who_knows(text: Optional[str]) -> bool:
    return bool(_WHO_KNOWS.search(squash(text)))


# Blaming oneself in so many words: "영통한 내가 바보같아", "내가 공개로 해놔서
# 이렇게 된거지?", "내가 괜히 사진 올려서".
_SELF_BLAME = re.compile(
    r"((내가|제가|나|저)[가-힣]{0,8}(바보같|바보였|바보지|멍청했|멍청하|멍청한|한심|미련했|등신같|병신같)"
    r"|(내가|제가)[가-힣]{0,10}(해놔서|해놓아서|해둬서|올려서|보내서|찍어서|받아서|해서|했으니까|했으니)"
    r"[가-힣]{0,6}(이렇게|이리|그렇게|이런일)?[가-힣]{0,2}(된거|된건|됐|당한|생긴))"
)


def blames_self_now(text: Optional[str]) -> bool:
    """The writer blames themself ("영통한 내가 바보같아"); see asks_my_fault."""
    return bool(_SELF_BLAME.search(squash(text)))


# The writer's own next step, told, not asked: "네 부모님한테 말하고 112 해볼게요",
# "일단 교육청에 연락해 보겠습니다". Someone else to go to, and a promise to go.
_OWN_PLAN = re.compile(
    # (Not "학교 가볼게": going to school is no step about this.)
    r"(112|117|1366|1388|109|경찰|부모님|엄마|아빠|선생님|담임|쌤|교육청|교육지원청|센터)"
    r"[가-힣0-9]{0,12}(해볼게|할게|해볼께|할께|해보겠|하겠습|해볼래|걸어볼|전화해볼|연락해볼|말해볼|"
    r"얘기해볼|이야기해볼|말할게|말할께|연락할게|가볼게|가보겠)"
)


# "ㅇㅋ 내일 말해볼게": telling someone, the one just talked about.
_WILL_TELL = re.compile(
    r"^(ㅇㅋ|ㅇㅇ|오키|응|웅|네|넹|넵|알겠어|알겠어요|그럼|그래)?(내일|오늘|이따|나중에|지금|한번)?"
    r"(말해볼게|말해볼께|말해볼래|얘기해볼게|얘기해볼께|이야기해볼게|말씀드려볼게|말씀드릴게|말할게)"
)


def own_plan(text: Optional[str]) -> bool:
    """A step she will take; not one she will not ("경찰에 신고 안할게", "엄마한텐
    비밀로 할게", "그냥 혼자할게"), which is no plan to praise."""
    s = squash(text)
    refusing = re.search(r"(안할|안해|못할|못하|비밀|혼자|말안|모르게|싫|안하|말못)", s)
    said = _OWN_PLAN.search(s) or _WILL_TELL.search(_strip_tail(s) or s)
    return bool(said) and not refusing and not is_question(text)


# Asking for the quiz score.
def asks_score(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(re.search(r"(몇점|점수|몇개맞|몇문제맞|몇개나맞|몇문제나)", s))


# Blocking the account or leaving the app or room: "그 부계 그냥 차단해도 됨?",
# "디코 계정 그냥 탈퇴할까요", "앱 지워버리면 끝 아냐?".
_BLOCK_OR_LEAVE = re.compile(
    r"(차단|탈퇴|계정삭제|계정지우|계정지워|계정없애|앱[가-힣]{0,3}(지우|지워|삭제)|"
    r"(단톡|톡방|채팅방|그방|반톡|서버|디코)[가-힣]{0,3}(나가|나갈)|"
    r"방나가|방나갈|방에서나가|^(그니까|그럼|그냥|걍|일단)?(나가도|나와도|나갈까|나가면))"
)


def asks_block_or_leave(text: Optional[str]) -> bool:
    s = squash(text)
    if re.search(r"(기록|지킴이|여기|챗봇|이대화|대화내용)", s):
        return False  # "지킴이 탈퇴하면 내 기록 지워져?": this chat, not his account
    asks = is_question(text) or bool(re.search(r"(할까|해도|하면|아냐|아님|될까|됨)", s))
    return asks and bool(_BLOCK_OR_LEAVE.search(s))


# A teacher asks what to say to the class, or whether to say it with the
# victim in the room.
def asks_what_to_tell_class(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"(반전체|반아이들|반학생들|학급|반애들|아이들에게|학생들에게|반에|교실)[가-힣]{0,12}"
            r"(이야기|얘기|말|안내|교육)",
            s,
        )
    ) and is_question(text)


# What to answer "they only watched" (a teacher or a parent asking).
def asks_about_watching(text: Optional[str]) -> bool:
    s = squash(text)
    watched = re.search(r"(구경만|보기만|보기만했|본것뿐|본거뿐|봤을뿐|방에만|있기만)", s)
    return bool(watched) and is_question(text)


# Whether to delete the original photo the fake was made from.
def asks_keep_original(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"원본[가-힣]{0,10}(지워|지우|삭제|없애|내려|버려|버릴|챙겨|보관|남겨|둬야|필요)", s
        )
    )


# A parent says the school does nothing or hides it.
def school_inactive(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"학교[가-힣]{0,6}(아무조치|아무것도안|조치를안|조치도안|조치가없|덮으려|덮으려는|덮는|은폐|쉬쉬|"
            r"모른척|미루|무시)",
            s,
        )
    )


# "그럼 이제 어떻게 돼요?", "선생님이 언제 연락 줘요?": what happens now.
def asks_what_happens_next(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"(이제어떻게|이제어케|이제뭐|언제연락|언제와|언제답|얼마나걸|얼마나기다|언제쯤|어떻게돼|어케돼)",
            s,
        )
    )


# "신고해봤자 소용없잖아": that something is pointless.
def says_pointless(text: Optional[str]) -> bool:
    return bool(re.search(r"(소용없|소용이없|의미없|쓸모없|해봤자|해봐야|헛수고)", squash(text)))


def names_material(text: Optional[str]) -> bool:
    """The material or where it is kept: "폰에 있는 파일", "그 사진", "합성물"."""
    return bool(
        re.search(
            r"(파일|사진|영상|동영상|합성|딥페|폰에|휴대폰|갤러리|앨범|클라우드|휴지통|백업|구글포토)",
            squash(text),
        ),
    )


# "학생에게는 이 부분을 어떻게 설명하면 좋을까요?": how to put it to the student.
def asks_how_to_explain(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(r"(설명|말해주|말하면|얘기하면|이야기하면|전하면|알려주면|말씀드리면|뭐라고)", s)
    ) and is_question(text)


# "돈다길래 봤는데 얼굴이 완전 나임": she recognised herself.
_RECOGNISED_SELF = re.compile(
    r"(얼굴|사진|그거|그게)(이|가|은|는)?[가-힣]{0,4}(완전|딱|진짜|분명|아무리봐도)?"
    r"(나임|나야|나였|나더라|나잖아|나인거|난데|나인데|저예요|저였|저더라|저인거|제얼굴|내얼굴)"
)


# A teacher who would question the one who did it alone first ("가해 학생을 먼저
# 따로 불러서 이야기를 들어 봐도 될까요?").
def questions_offender_alone(text: Optional[str]) -> bool:
    s = squash(text)
    return (
        is_question(text)
        and bool(re.search(r"(가해학생|가해자|그남학생|그학생|그아이|만든학생|올린학생)", s))
        and bool(
            re.search(r"(불러|면담|물어봐|물어보|이야기를들|얘기를들|추궁|확인해봐|조사해)", s)
        )
    )


# A parent (or teacher) offered the file to see it: "보내 주겠다고 합니다 …
# 받아도 될까요?".
def offered_the_file(text: Optional[str]) -> bool:
    s = squash(text)
    offered = re.search(
        r"(보내주겠|보내준다|보내준대|보내주려|받아서|받아도|받아야|전달해도|전달해야|보내달라고해도|"
        r"보내달라해도|보내달라고할|보내달라고해야)",
        s,
    )
    # "사실 확인을 위해 제가 그 사진을 직접 봐야 하는지": to see it themself.
    see = re.search(
        r"(사진|영상|파일|합성물|그거)[가-힣]{0,6}(직접봐|직접확인|봐야하|확인해야하|봐도되|봐야할)",
        s,
    )
    return bool(offered or see) and is_question(text)


# A parent who scolded the child ("왜 SNS에 사진을 올리고 다니냐고 혼냈습니다").
def scolded_child(text: Optional[str]) -> bool:
    return bool(
        re.search(r"(혼냈|혼내|야단|뭐라고했|화냈|화를냈|다그쳤|탓했|소리질렀)", squash(text))
    )


# Worrying what reporting does to the one who did it ("신고하면 걔 인생 망하는거잖아").
def spares_the_offender(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(r"신고[가-힣]{0,8}(인생|미래|앞길|학교생활)[가-힣]{0,4}(망|끝|망치|꼬)", s)
        or re.search(r"(걔|그애|친구)[가-힣]{0,4}(인생|미래)[가-힣]{0,4}(망|끝)", s)
        or re.search(r"신고하기(가)?(미안|불쌍)", s)
    )


# Reporting to the site or app only ("커뮤 운영자한테 신고만 하면 되는거 아님?").
# "틱톡에 올라온거 신고버튼 눌러도 됨?": pressing the app's report button.
def asks_report_button(text: Optional[str]) -> bool:
    s = squash(text)
    return is_question(text) and bool(
        re.search(r"(신고버튼|신고기능|신고하기버튼|앱에서신고|앱으로신고|게시물신고|계정신고)", s)
        # "X에 저희가 직접 신고해도 되나요?": to the platform itself.
        or re.search(
            r"(x|엑스|트위터|인스타|틱톡|유튜브|페북|페이스북|디코|디스코드|텔레|텔레그램|에타|카페|커뮤)"
            r"(에|에다|쪽에|에서|한테|측에)(저희가|제가|우리가|내가)?(직접)(신고)",
            s,
        )
    )


# "링크는 있는데 그거 신고할 때 써도 됨?": the link goes with the report.
def asks_link_for_report(text: Optional[str]) -> bool:
    s = squash(text).lower()
    return (
        bool(re.search(r"(링크|url|주소)", s))
        and bool(
            re.search(
                r"(신고할때|신고에|신고하면서|신고할때써|써도|내도|같이내|첨부|넣어도|보내도)", s
            )
        )
        and is_question(text)
    )


# "제가 걔한테 지우라고 하면 안돼요?": telling the one who made it to delete it.
def asks_tell_to_delete(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"(지우라고|삭제하라고|없애라고|내리라고)"
            r"(하면|해도|말해도|할까|말할까|해볼까|말해볼|얘기해볼)",
            s,
        )
    )


def platform_report_enough(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"(운영자|관리자|신고버튼|신고기능|앱에|플랫폼에|인스타에|커뮤에|사이트에|디코에|텔레에)"
            r"[가-힣]{0,6}신고[가-힣]{0,4}(만|하면|로)[가-힣]{0,6}(되|끝|충분|되는)",
            s,
        )
    )


# Whether any place answers at this hour ("지금 새벽 2시인데 이 시간에도 받는 곳 있어요?").
def asks_who_answers_now(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(re.search(r"(이시간|새벽|밤에도|지금도|지금시간)", s)) and bool(
        re.search(r"(받는곳|받는데|받아주|되는곳|하는곳|연락할곳|전화할곳|상담되|연락되|전화되)", s)
    )


# "그럼 월요일까지 기다려야 돼요?", "주말이라 아무도 없어요?": waiting for a weekday.
def asks_wait_for_weekday(text: Optional[str]) -> bool:
    s = squash(text)
    return (
        is_question(text)
        and bool(re.search(r"(월요일|평일|주말|토요일|일요일|공휴일|연휴|내일아침)", s))
        and bool(
            re.search(
                r"(기다려|기다리|아무도없|안돼|안되|못해|없어|없나|연결돼|연결되|답장|받아)", s
            )
        )
    )


# "잘 모르겠어", "고민돼", "할까 말까": not decided (never a yes).
# Not "누가 만든건지도 모르겠고 너무 불안해요": what she does not know there is who.
_UNSURE = re.compile(
    r"(고민돼|고민되|고민중|할까말까|할지말지|해야할지|글쎄|망설|어떡하지|어쩌지|(잘|아직|솔직히)(모르겠|모르겟))"
)
_UNSURE_END = re.compile(r"(모르겠|모르겟|몰겠)(어|다|어요|음|네|는데|습니다)?$")


def unsure(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(_UNSURE.search(s) or _UNSURE_END.search(_strip_tail(s) or s))


# "얘기하다가 중간에 끊어도 돼?", "하다가 싫으면 그만해도 돼요?": stopping a talk.
def asks_can_stop_talk(text: Optional[str]) -> bool:
    s = squash(text)
    return (
        is_question(text)
        and bool(
            re.search(
                r"(끊어도|끊으면|그만해도|그만하면|그만둬도|나가도|끝내도|멈춰도|안하고싶으면|싫으면)",
                s,
            )
        )
        and not re.search(r"(퀴즈|신고|기록)", s)
    )


# "걔가 미안하다고 자기 폰에서 다 지웠대": deleted on one phone, said to be gone.
def says_deleted_by_them(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"(걔|그애|그새끼|가해자|친구|남친|그사람|걔네)[가-힣]{0,12}(지웠대|지웠다고|삭제했대|삭제했다고|지웠다며|지웠다는)",
            s,
        )
    )


# A parent asks whether to tell the child ("아들에게 지금 알려야 할까요?").
def asks_tell_child(text: Optional[str]) -> bool:
    s = squash(text)
    told = re.search(
        r"(아들|딸|아이|애)[가-힣]{0,4}(에게|한테|한텐|에겐)[가-힣]{0,4}(알려야|말해야|알릴|말할|알려도|말해도)",
        s,
    )
    return bool(told) and is_question(text)


# Begging or answering the one who threatens ("please dont 이렇게 빌어볼까").
def pleads_with_threat(text: Optional[str]) -> bool:
    s = squash(text).lower()
    return bool(
        re.search(
            r"(빌어|사정해|애원|부탁해볼|please|제발하지말|답장해볼|답장할까|답장해도|답장하면|대답해도|"
            r"대답할까|답해도|욕해도|꺼지라고|대화해볼|설득)",
            s,
        )
    )


def safety_answer_words(text: Optional[str]) -> bool:
    """Words that answer "are you safe?" themselves (안전해, 괜찮아, 집이야), not
    only a place named in passing."""
    return bool(_SAFE_WORDS.search(squash(text)) or _WITH_SOMEONE.search(squash(text)))


# Whether calling costs money ("전화비 나와?", "1388 무료예요?").
def asks_cost(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(r"(전화비|통화료|통화요금|요금나|요금이나|돈나와|돈들어|돈드|무료|공짜)", s)
    ) and (is_question(text) or s.endswith(("나와", "들어", "드나", "임")))


# A law text as a file, which the bot does not send.
def asks_law_file(text: Optional[str]) -> bool:
    s = squash(text).lower()
    return bool(re.search(r"(법|조항|조문|법령)", s)) and bool(
        re.search(r"(파일|pdf|문서|원문)", s)
    )


# What happens at the police: facing him, a woman officer, a parent there.
def asks_police_interview(text: Optional[str]) -> bool:
    s = squash(text)
    at_police = re.search(
        r"(경찰서|조사|진술|경찰관|수사관)[가-힣]{0,30}(얼굴봐|마주|만나야|봐야돼|봐야해|옆에있어도|같이있어도)",
        s,
    )
    return bool(at_police or re.search(r"(남자경찰|여자경찰|여경|동성수사관|동성경찰)", s))


# Whether it goes to court.
def asks_trial(text: Optional[str]) -> bool:
    return bool(re.search(r"(재판|법원|법정|판사|증인)", squash(text))) and is_question(text)


# Going to confront him in person, said ("내일 학교에서 찾아가서 따질거임").
def plans_to_confront(text: Optional[str]) -> bool:
    s = squash(text)
    fights = re.search(r"(따질|따지러|따져|가만안둬|가만안둘|때릴|패버릴)", s)
    # "찾아가" only towards him ("경찰서 찾아가서 신고할게" is a plan, not a fight).
    goes_to_him = re.search(
        r"(걔|그애|가해자|그새끼|그놈|걔네|그사람|걔집|걔네집)[가-힣]{0,6}찾아가", s
    )
    return bool(fights or goes_to_him) and not is_question(text)


# "쌤한테 말할까 말까 고민됨": whether to tell an adult.
def wonders_whether_to_tell(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"(쌤|선생님|담임|엄마|아빠|부모님|어른)[가-힣]{0,3}(한테|께|에게)?[가-힣]{0,3}"
            r"(말할까|말해야하나|말해도될까|말해야할까|얘기할까)",
            s,
        )
        # "쌤한테 말하면 나만 이상한애될까봐": afraid of what telling a teacher brings.
        or re.search(
            r"(쌤|선생님|담임)[가-힣]{0,3}(한테|께|에게)?(말하면|얘기하면|말씀드리면)[가-힣]{0,12}"
            r"(까봐|까바|어떡|어떻게돼|어케돼)",
            s,
        )
    )


# How to prove it is not her ("진짜 아니라는거 어떻게 증명함?").
def asks_prove_fake(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(re.search(r"(증명|가짜라는|합성이라는|아니라는)", s)) and is_question(text)


# Where to refer another adult ("그 선생님께서 상담을 받고 싶어 하시면 어디로
# 안내해 드리면 될까요?").
def asks_where_to_refer(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"(상담|도움|지원|치료)[가-힣]{0,14}(안내해드|안내하면|연결해드|알려드리면|소개해드|어디로)",
            s,
        )
    )


# Deleting a copy she holds: "휴지통까지 다 지워야 돼?", "구글포토 백업 지워야해?".
def asks_delete_copy(text: Optional[str]) -> bool:
    s = squash(text)
    where = re.search(r"(휴지통|갤러리|앨범|구글포토|백업|클라우드|폰에서|다운받은)", s)
    return bool(where) and bool(re.search(r"(지워|지우|삭제)", s))


# Saved without meaning to ("자동저장", "백업돼있음").
def saved_unawares(text: Optional[str]) -> bool:
    return bool(
        re.search(r"(자동저장|자동으로저장|백업돼|백업되|자동백업|저절로저장)", squash(text))
    )


# Deleting the chat with the one who threatens or shared ("걔랑 카톡 대화 다 지우고 싶어요").
def deletes_chat_with_them(text: Optional[str]) -> bool:
    s = squash(text)
    chat = re.search(
        r"(걔|그애|그사람|전남친|남친|가해자|그새끼|그놈)(랑|하고|와|과|이랑)[가-힣]{0,4}"
        r"(카톡|대화|dm|디엠|채팅|톡|문자)",
        s,
    )
    return bool(chat) and bool(re.search(r"(지우|지워|삭제|없애)", s))


# Asking how to come back later ("나중에 하고 싶으면 어떻게 해요?").
def asks_how_later(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(re.search(r"(나중에|다음에|이따)", s)) and bool(
        re.search(r"(어떻게|어케|뭐라고|하면돼)", s)
    )


# "나중에 다시 와서 이어서 할 수 있을까요?": coming back to it later.
def asks_come_back(text: Optional[str]) -> bool:
    s = squash(text)
    return (
        is_question(text)
        and bool(re.search(r"(나중에|다음에|내일|이따|다시와|다시들어)", s))
        and bool(re.search(r"(이어서|이어|계속|다시와|다시들어|다시해|다시할)", s))
    )


# Who the counsellor is ("그 상담쌤 우리학교 쌤임?", "누가 연락해요?").
def asks_who_counsellor(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(r"(우리학교|학교쌤|학교선생님|누구|어디선생님|어디쌤|어느기관|어디소속)", s)
    )


# What the friend (or the writer's child) should do: "걔는 어떻게 해야돼?",
# "친구가 어떻게 해야 될까요".
def asks_what_they_should_do(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"(걔|친구|그애|그친구|동생)[가-힣]{0,4}(는|가|은|이)?[가-힣]{0,6}(어떻게해야|어케해야|뭘해야|뭐해야|어떡해야)",
            s,
        )
    )


# "전화로 하면 되는 건가요 몇 번이라고요": the number just given, asked again.
def asks_number_again(text: Optional[str]) -> bool:
    s = squash(text)
    asked = is_question(text) or bool(re.search(r"(라고요|이라고요|였죠|였지|뭐였|였더라)$", s))
    # "그 번호 그냥 차단해도 돼?": his number, not one the bot gave.
    theirs = asks_block_or_leave(text) or re.search(r"(모르는|낯선|이상한)번호", s)
    return asked and bool(_ASKS_NUMBER.search(s)) and not hotlines_asked(text) and not theirs


# --- fresh12: doubt, adults' duties, a joke, sources ----------------------------------

_REPORT_WORDS = r"(신고|고소|경찰|112|117|1366|상담|알리|알려)"


# "확실하지도 않은데 신고해도 됨?", "확인도 하지 않고 신고했다가 사실이 아니면":
# reporting without being sure.
def unsure_to_report(text: Optional[str]) -> bool:
    s = squash(text)
    doubt = re.search(
        r"(확실하지|확실치|확실하진|확신이없|확신은없|확인도안|확인도하지않|확인안하|확인하지않|사실이아니|"
        r"아닐수도|아니면어떡|증거없이|증거가없|증거도없|긴가민가|잘못본|착각)",
        s,
    )
    return bool(doubt and re.search(_REPORT_WORDS, s))


# "나 같기도 하고 아닌거같기도함", "이거 나 맞나": whether the picture is of her.
def unsure_if_me(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"(나|저|내얼굴|제얼굴)(같기도|인지모르|인지잘모르|인지아닌지|맞나|맞는지모르|맞는지잘|인거같기도|"
            r"인것같기도|일수도)",
            s,
        )
        or re.search(r"(아닌거같기도|아닌것같기도|긴가민가)", s)
    )


# A teacher who wants a post quietly taken down so that it does not grow
# ("밴드 관리자에게 게시물만 조용히 내려 달라고 하면").
def wants_quiet_removal(text: Optional[str]) -> bool:
    s = squash(text)
    quiet = re.search(
        r"(조용히|조용하게|몰래|일이커지지|일커지지|소문안나|덮|없던일|알리지않고|신고하지않고)", s
    )
    removal = re.search(r"(내려|내리|지워|지우|삭제|처리|해결|정리)", s)
    return bool(quiet and removal)


# "117에 신고하면 아청법상 신고의무를 다한 것으로 볼 수 있는지요?"
def asks_117_duty(text: Optional[str]) -> bool:
    s = squash(text)
    return "117" in s and bool(
        re.search(
            r"(신고의무|의무를|의무가|의무는|의무도|갈음|대신|충분|다한|된건가|되나요|인정)", s
        )
    )


# "해당 교사를 수업에서 빼는 것은 조사가 끝난 뒤에 해도 되겠습니까?": when to
# separate the accused from the student.
def asks_separation(text: Optional[str]) -> bool:
    s = squash(text)
    apart = re.search(
        r"(분리|수업에서빼|수업에서제외|배제|격리|떼어놓|못만나게|접촉금지|업무에서빼|담임에서빼|교체)",
        s,
    )
    when = re.search(r"(조사|확인|끝난뒤|끝나고|나서|후에|언제|해도되|해야|기다려|지켜본)", s)
    return bool(apart and when)


# "그 집 부모한테 전화해서 사과는 받아야겠습니다": confronting the other family.
def confronts_family(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"(그집|그쪽|걔네|걔|그놈|그애|가해자|가해학생|상대)[가-힣]{0,3}(부모|집|엄마|아빠|어머니|아버지)"
            r"[가-힣]{0,8}(전화|찾아가|찾아갈|연락|만나|따지|사과|항의)",
            s,
        )
    )


# Someone sent her a picture of another person ("걔가 나한테 갠톡으로 사진
# 보냈는데 우리반 여자애 얼굴 합성한거임"): she received it.
def received_it(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"(걔|그놈|그새끼|누가|누군가|어떤애|남자애|애가|친구가|선배가|모르는사람|그사람)[가-힣]{0,8}"
            r"(나한테|저한테|내게|제게|나에게|저에게).{0,16}?(보냈|보내줬|보내왔|보냄|보내더|보내옴|줬|보여줬)",
            s,
        )
    )


# A bystander afraid of being called a snitch ("고자질한다고 애들이 욕할거같아요").
def fears_snitch(text: Optional[str]) -> bool:
    return bool(
        re.search(
            r"(고자질|일러바|꼰지|꼰질|배신자|찐따|쌤한테이른|이른다고|일렀다고)", squash(text)
        )
    )


# "걔네는 장난이라는데 그냥 웃고 넘길까요": called a joke.
def called_a_joke(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"(장난|농담|웃자고|재미로|장난으로)[가-힣]{0,3}"
            r"(이래|이라는데|이라고|래|라는데|라고|라면서|이라며|였대|였다고)",
            s,
        )
        or re.search(r"(웃고넘길|웃어넘길|그냥넘어갈|참고넘어갈|넘어가야)", s)
    )


# "그냥 신고 안 하고 조용히 있을까요": staying silent about it.
def thinks_of_silence(text: Optional[str]) -> bool:
    s = squash(text)
    return bool(
        re.search(
            r"(신고안하고|신고하지말고|신고하지않고|말안하고|아무한테도말안|그냥)[가-힣]{0,6}"
            r"(조용히|가만히|참을|참고|넘어갈|모른척|있을까|있어야|묻을|덮을)",
            s,
        )
    )


# "출처도 알려 줄 수 있어요?": where the facts come from.
def asks_sources(text: Optional[str]) -> bool:
    s = squash(text)
    if asks_law_file(text):
        return False  # "법 조문 pdf로 줄 수 있음?": a file, which the bot does not send
    return bool(re.search(r"(출처|근거|법조문|참고자료|어디서나온|자료어디|법령링크)", s)) and (
        is_question(text) or bool(re.search(r"(알려줘|보여줘|알려주세요|보여주세요|줘|주세요)$", s))
    )
