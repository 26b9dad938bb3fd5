"""Plays the conversation scenarios of tests/conversations/*.yml through a real
stack (Rasa, action server, desk, database, a fake Twilio) and checks what the
person saw and what was stored or sent.

A scenario is a whole conversation: user turns (over the REST channel, as the
web widget's text reaches Rasa, or by SMS through the desk's signed webhook)
and counsellor SMS, each with what the bot's turn must and must not do. What
the bot did in a turn is read from the conversation itself (Rasa's tracker,
through its token-protected HTTP API): the actions it ran and the messages it
sent, whatever the channel. Every turn is also checked for what must never
happen: no reply, "당신", a bubble over 300 characters, a crisis reply the turn
did not expect, the same long reply twice in a row. Scenarios run side by
side (each is its own conversation); those that need a counsellor on call run
together, the others with nobody on call.

Used by tests/conversations/test_scenarios.py and scripts/bench_dialogue.py.
"""

from __future__ import annotations

import concurrent.futures
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml
from sqlalchemy import select

from jikimi.desk.sms import ERASE
from jikimi.desk.sms import keyword as desk_keyword

# The scenarios: tests/conversations/*.yml.
HERE = Path(__file__).resolve().parents[1] / "conversations"
MAX_BUBBLE = 300
# A reply at least this long sent again unchanged in the next turn is a loop.
LONG_REPLY = 80
CRISIS_REPLIES = {
    "utter_crisis", "utter_threat", "utter_crisis_medical", "utter_crisis_check",
    "utter_crisis_other",
}  # fmt: skip
FALLBACKS = {"action_clarify", "utter_default", "action_default_fallback"}
# Talking with a counsellor: the student's message goes to the counsellor, and
# the answer is the counsellor's (no bot reply in between).
RELAYED = {"handoff_form", "action_forward_to_counsellor"}
# known_failure: why the bot still fails it (a held-out scenario not fixed yet);
# the test is then a strict xfail: it reports the failure, and passing fails it
# until the note is removed.
SCENARIO_KEYS = {"name", "channel", "counsellors_on_call", "turns", "after", "known_failure"}
TURN_KEYS = {"user", "counsellor", "expect"}
EXPECT_KEYS = {"actions", "not_actions", "says", "says_any", "not_says"}
AFTER_KEYS = {
    "handoffs", "urgent", "cases", "case", "counsellor_sms_says", "counsellor_sms_not_says",
    "erased",
}  # fmt: skip
CASE_KEYS = {"platform", "relation", "age", "when"}
TURN_TIMEOUT_S = 60.0


# --- loading ------------------------------------------------------------------


@dataclass
class Scenario:
    group: str
    name: str
    channel: str
    counsellors_on_call: bool
    turns: List[Dict[str, Any]]
    after: Dict[str, Any]
    known_failure: Optional[str] = None

    @property
    def id(self) -> str:
        return f"{self.group}: {self.name}"


def load(folder: Path = HERE) -> List[Scenario]:
    """Every scenario of every file, checked for the keys the runner knows."""
    scenarios: List[Scenario] = []
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        group = data["group"]
        for raw in data["scenarios"]:
            where = f"{path.name}: {raw.get('name')!r}"
            _check_keys(raw, SCENARIO_KEYS, where)
            if raw.get("channel") not in ("rest", "sms"):
                raise ValueError(f"{where}: channel must be rest or sms")
            for turn in raw["turns"]:
                _check_keys(turn, TURN_KEYS, where)
                if ("user" in turn) == ("counsellor" in turn):
                    raise ValueError(f"{where}: a turn is either user or counsellor")
                _check_keys(turn.get("expect") or {}, EXPECT_KEYS, where)
            after = raw.get("after") or {}
            _check_keys(after, AFTER_KEYS, where)
            _check_keys(after.get("case") or {}, CASE_KEYS, where)
            scenarios.append(
                Scenario(
                    group=group,
                    name=raw["name"],
                    channel=raw["channel"],
                    counsellors_on_call=bool(raw.get("counsellors_on_call")),
                    turns=raw["turns"],
                    after=after,
                    known_failure=raw.get("known_failure"),
                )
            )
    names = [s.id for s in scenarios]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"duplicate scenario names: {sorted(duplicates)}")
    return scenarios


def _check_keys(mapping: Dict[str, Any], allowed: set, where: str) -> None:
    unknown = set(mapping) - allowed
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")


# --- results ---------------------------------------------------------------------


@dataclass
class TurnResult:
    said: str  # who spoke and what, for the report
    actions: List[str]
    texts: List[str]
    failures: List[str] = field(default_factory=list)
    fallback: bool = False
    repeat: bool = False
    unexpected_crisis: bool = False


@dataclass
class Result:
    scenario: Scenario
    turns: List[TurnResult] = field(default_factory=list)
    failures: List[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures and not any(t.failures for t in self.turns)

    def report(self) -> str:
        lines = [self.scenario.id]
        for number, turn in enumerate(self.turns, start=1):
            lines.append(f"  {number}. {turn.said}")
            lines.append(f"     actions: {turn.actions}")
            for text in turn.texts:
                lines.append(f"     bot: {text[:160]!r}")
            lines += [f"     FAIL {f}" for f in turn.failures]
        lines += [f"  FAIL {f}" for f in self.failures]
        return "\n".join(lines)


# --- playing --------------------------------------------------------------------


class Conversation:
    """One person talking to the stack, over REST or SMS."""

    def __init__(self, stack, channel: str) -> None:
        self.stack = stack
        self.replies: List[Dict[str, Any]] = []  # the REST channel's answer
        self.turns = 0
        self.just_erased = False  # the previous turn erased the conversation
        self.channel = channel
        self.phone = "+8210" + "".join(secrets.choice("0123456789") for _ in range(8))
        self.sender: Optional[str] = (
            f"scenario-{secrets.token_hex(6)}" if channel == "rest" else None
        )

    def _events(self) -> List[Dict[str, Any]]:
        if self.sender is None:
            return []
        return self.stack.tracker(self.sender)["events"]

    def _sms_sender(self) -> Optional[str]:
        from jikimi.db import SmsContact, keyring_for, session_scope

        with session_scope(self.stack.settings) as session:
            digest = keyring_for(session).digest(self.phone)
            return session.execute(
                select(SmsContact.sender_id).where(SmsContact.phone_hash == digest)
            ).scalar_one_or_none()

    def _wait_for_turn(self, sent_at: float, known: int = 0) -> List[Dict[str, Any]]:
        """The events of the bot's turn for a message sent at `sent_at`, once it
        has finished (its last event is action_listen). `known`: how many events
        the conversation had before the message, none of which can start it."""
        deadline = time.monotonic() + TURN_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.sender is None:
                self.sender = self._sms_sender()
            events = self._events()
            after = known if len(events) >= known else 0  # erased: all is new
            may_erase = self.turns > 0 and not self.just_erased
            turn = _turn_since(events, sent_at, may_erase=may_erase, after=after)
            if turn is not None:
                self.turns += 1
                return turn
            time.sleep(0.3)
        raise TimeoutError("the bot did not finish its turn in time")

    def say(self, text: str) -> List[Dict[str, Any]]:
        known = len(self._events())
        sent_at = time.time()
        if self.channel == "rest":
            self.replies = self.stack.say(self.sender, text)
        else:
            answer = self.stack.twilio.inbound(self.stack.desk_url, self.phone, text)
            if answer.status_code != 200:
                raise AssertionError(f"the desk answered {answer.status_code}")
            word = desk_keyword(text)
            if word is not None:
                # `삭제` and `그만` are the desk's own: no Rasa turn follows; the
                # phone gets the desk's reply (read by sms_received).
                self.turns += 1
                self.just_erased = word == ERASE
                if word == ERASE:
                    self.sender = None
                return list(ERASED_TURN) if word == ERASE else []
        turn = self._wait_for_turn(sent_at, known)
        # Erased: the next message starts a new session, which is not another
        # erasure; by SMS it may come under a new sender id.
        self.just_erased = any(e.get("name") == "action_delete_my_data" for e in turn)
        if self.just_erased and self.channel != "rest":
            self.sender = None
        return turn

    def sms_received(self, already: int) -> List[str]:
        """The SMS this phone got after the first `already` ones, once the
        dispatcher has sent what the turn queued (no new one for a while)."""
        last_count, quiet_since = -1, time.monotonic()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            count = len(self.stack.twilio.to(self.phone))
            if count != last_count:
                last_count, quiet_since = count, time.monotonic()
            elif count > already and time.monotonic() - quiet_since > 1.5:
                break
            time.sleep(0.3)
        return [m.body for m in self.stack.twilio.to(self.phone)][already:]

    def counsellor(self, text: str) -> List[Dict[str, Any]]:
        """A counsellor's SMS ({code}: this conversation's newest handoff code);
        the bot's turn is what the student's conversation did about it."""
        code = self.handoff_codes()[-1] if "{code}" in text else None
        known = len(self._events())
        sent_at = time.time()
        phone = self.stack.counsellors[0]
        answer = self.stack.twilio.inbound(
            self.stack.desk_url, phone, text.replace("{code}", code or "")
        )
        if answer.status_code != 200:
            raise AssertionError(f"the desk answered {answer.status_code}")
        turn = self._wait_for_turn(sent_at, known)
        # One SMS may cause two turns ("CODE words" to a request not accepted yet:
        # accepted, then the words), delivered one after the other: let them settle.
        settle = time.monotonic() + 2.0
        while time.monotonic() < settle:
            time.sleep(0.3)
            later = _turn_since(self._events(), sent_at, may_erase=False, after=known, whole=True)
            if later is not None and len(later) > len(turn):
                turn, settle = later, time.monotonic() + 2.0
        return turn

    # what was stored and sent

    def _hash(self, session) -> str:
        from jikimi.db import sender_hash

        return sender_hash(session, self.sender or "")

    def handoff_codes(self) -> List[str]:
        from jikimi.db import Handoff, session_scope

        with session_scope(self.stack.settings) as session:
            return list(
                session.execute(
                    select(Handoff.code)
                    .where(Handoff.sender_hash == self._hash(session))
                    .order_by(Handoff.id)
                ).scalars()
            )

    def handoffs(self) -> List[Any]:
        from jikimi.db import Handoff, session_scope

        with session_scope(self.stack.settings) as session:
            rows = session.execute(
                select(Handoff.urgent, Handoff.escalated_from_id)
                .where(Handoff.sender_hash == self._hash(session))
                .order_by(Handoff.id)
            ).all()
            return [row for row in rows if row.escalated_from_id is None]

    def cases(self) -> List[Dict[str, Any]]:
        from jikimi.db import Case, session_scope

        with session_scope(self.stack.settings) as session:
            rows = (
                session.execute(
                    select(Case).where(Case.sender_hash == self._hash(session)).order_by(Case.id)
                )
                .scalars()
                .all()
            )
            return [
                {
                    "platform": row.platform,
                    "relation": row.perpetrator_relation,
                    "age": None if row.minor is None else ("minor" if row.minor else "adult"),
                    "when": row.when_happened,
                }
                for row in rows
            ]

    def counsellor_sms(self) -> List[str]:
        codes = self.handoff_codes()
        counsellors = set(self.stack.counsellors)
        return [
            m.body
            for m in self.stack.twilio.messages
            if m.to in counsellors and any(code in m.body for code in codes)
        ]


# Only "delete my data" restarts a conversation (action_delete_my_data returns
# Restarted), and the tracker store then deletes everything before it, that
# turn's own events included: a restart after the message stands for them.
ERASED_TURN = [{"event": "action", "name": "action_delete_my_data"}]


def _turn_since(
    events: List[Dict[str, Any]],
    sent_at: float,
    may_erase: bool = True,
    after: int = 0,
    whole: bool = False,
) -> Optional[List[Dict[str, Any]]]:
    """The bot's turn that answered a message sent at `sent_at`, or None while
    it is not finished (its last event must be action_listen). Events before
    index `after` were there before the message was sent: the turn's user
    event is never one of them, whatever its timestamp."""
    actions = [e for e in events if e.get("event") == "action"]
    if not actions or actions[-1].get("name") != "action_listen":
        return None
    slack = sent_at - 0.05  # the same machine's clock: only rounding
    users = [
        i for i, e in enumerate(events)
        if i >= after and e.get("event") == "user" and (e.get("timestamp") or 0) >= slack
    ]  # fmt: skip
    if users:
        # whole: every turn the message caused (one SMS may cause two), not the last.
        turn = events[users[0 if whole else -1] + 1 :]
        return turn if any(e.get("event") == "action" for e in turn) else None
    # After the restart the tracker store keeps only what follows it: a new
    # session (action_session_start) that Rasa starts at once.
    restarted = any(
        e.get("event") in ("restart", "session_started") and (e.get("timestamp") or 0) >= slack
        for e in events
    )
    # (The first message of a conversation starts a session too: no erasure.)
    return ERASED_TURN + events if restarted and may_erase else None


def _texts(turn: List[Dict[str, Any]]) -> List[str]:
    texts = []
    for event in turn:
        if event.get("event") != "bot":
            continue
        text = event.get("text") or ((event.get("data") or {}).get("custom") or {}).get("text")
        if text:
            texts.append(text)
    return texts


def _actions(turn: List[Dict[str, Any]]) -> List[str]:
    skipped = {"action_listen", "action_extract_slots"}
    return [e["name"] for e in turn if e.get("event") == "action" and e.get("name") not in skipped]


_URL = re.compile(r"https?://\S+")


def bubble_length(text: str) -> int:
    """Characters a person reads in a bubble: a link counts as one word (it is
    tapped, not read; the evidence-log link alone is over 200 characters)."""
    return len(_URL.sub("링크", text))


def _in_order(wanted: List[str], actions: List[str]) -> bool:
    position = 0
    for action in actions:
        if position < len(wanted) and action == wanted[position]:
            position += 1
    return position == len(wanted)


def check_turn(
    expect: Dict[str, Any],
    actions: List[str],
    texts: List[str],
    previous: List[str],
    sms: Optional[List[str]] = None,
) -> TurnResult:
    result = TurnResult("", actions, texts + [f"[SMS] {body}" for body in sms or []])
    joined = "\n".join(texts + list(sms or []))
    failures = result.failures
    if not texts and not sms and not set(actions) & RELAYED:
        failures.append("no reply")
    for text in texts:
        if "당신" in text:
            failures.append(f"'당신' in {text[:40]!r}")
        if bubble_length(text) > MAX_BUBBLE:
            failures.append(f"a bubble of {len(text)} characters: {text[:40]!r}")
    wanted = list(expect.get("actions") or [])
    if wanted and not _in_order(wanted, actions):
        failures.append(f"expected actions {wanted} in order, got {actions}")
    for action in expect.get("not_actions") or []:
        if action in actions:
            failures.append(f"unexpected action {action}")
    for word in expect.get("says") or []:
        if str(word) not in joined:
            failures.append(f"does not say {word!r}")
    any_of = [str(w) for w in expect.get("says_any") or []]
    if any_of and not any(word in joined for word in any_of):
        failures.append(f"says none of {any_of}")
    for word in expect.get("not_says") or []:
        if str(word) in joined:
            failures.append(f"says {word!r}")
    crisis = CRISIS_REPLIES & set(actions)
    if crisis - set(wanted):
        result.unexpected_crisis = True
        failures.append(f"a crisis reply nobody expected: {sorted(crisis - set(wanted))}")
    result.fallback = bool(FALLBACKS & set(actions))
    repeats = [t for t in texts if len(t) >= LONG_REPLY and t in previous]
    if repeats:
        result.repeat = True
        failures.append(f"the same long reply again: {repeats[0][:40]!r}")
    return result


def play(stack, scenario: Scenario) -> Result:
    result = Result(scenario)
    conversation = Conversation(stack, scenario.channel)
    previous: List[str] = []
    try:
        for turn in scenario.turns:
            by_sms = scenario.channel == "sms"
            sms_before = len(stack.twilio.to(conversation.phone)) if by_sms else 0
            conversation.replies = []
            if "user" in turn:
                events = conversation.say(str(turn["user"]))
                said = f"user: {turn['user']}"
            else:
                events = conversation.counsellor(str(turn["counsellor"]))
                said = f"counsellor: {turn['counsellor']}"
            texts = _texts(events)
            if not texts and conversation.replies:
                # The turn that erased the conversation: its messages are gone
                # from the tracker; the REST channel's answer still has them.
                texts = [r["text"] for r in conversation.replies if r.get("text")]
            # Over SMS, what the phone got (split, numbered, with the intro)
            # is what the student read: words are looked for there too.
            received = conversation.sms_received(sms_before) if by_sms else []
            checked = check_turn(
                turn.get("expect") or {}, _actions(events), texts, previous, received
            )
            checked.said = said
            result.turns.append(checked)
            previous = texts
        result.failures += check_after(conversation, scenario.after)
    except Exception as error:  # noqa: BLE001 - a broken turn fails the scenario, with why
        result.failures.append(f"{type(error).__name__}: {error}")
    return result


def check_after(conversation: Conversation, after: Dict[str, Any]) -> List[str]:
    failures: List[str] = []
    if not after:
        return failures
    handoffs = conversation.handoffs()
    if "handoffs" in after and len(handoffs) != after["handoffs"]:
        failures.append(f"{len(handoffs)} counsellor pages, expected {after['handoffs']}")
    if "urgent" in after and handoffs and bool(handoffs[0].urgent) != bool(after["urgent"]):
        failures.append(f"the page was urgent={handoffs[0].urgent}, expected {after['urgent']}")
    if "urgent" in after and not handoffs and after["urgent"]:
        failures.append("no urgent page")
    cases = conversation.cases()
    if "cases" in after and len(cases) != after["cases"]:
        failures.append(f"{len(cases)} saved reports, expected {after['cases']}")
    if after.get("case"):
        if not cases:
            failures.append("no saved report")
        else:
            newest = cases[-1]
            for key, wanted in after["case"].items():
                got = newest.get(key)
                if key == "when":
                    if str(wanted) not in (got or ""):
                        failures.append(f"when is {got!r}, expected it to hold {wanted!r}")
                elif got != wanted:
                    failures.append(f"{key} is {got!r}, expected {wanted!r}")
    wants_sms = any(key.startswith("counsellor_sms") for key in after)
    sms = conversation.counsellor_sms() if wants_sms else []
    deadline = time.monotonic() + 15
    while (
        wants_sms
        and time.monotonic() < deadline
        and not all(
            any(str(word) in body for body in sms)
            for word in after.get("counsellor_sms_says") or []
        )
    ):
        time.sleep(0.5)  # the dispatcher sends what the last turn queued
        sms = conversation.counsellor_sms()
    for word in after.get("counsellor_sms_says") or []:
        if not any(str(word) in body for body in sms):
            failures.append(f"no counsellor SMS says {word!r}")
    for word in after.get("counsellor_sms_not_says") or []:
        if any(str(word) in body for body in sms):
            failures.append(f"a counsellor SMS says {word!r}")
    if "erased" in after:
        # The tracker store deletes what came before the Restarted event.
        erased = (
            not cases
            and not handoffs
            and not any(e.get("event") == "user" for e in conversation._events())
        )
        if erased != bool(after["erased"]):
            failures.append(f"erased={erased}, expected {after['erased']}")
    return failures


def run_all(stack, scenarios: List[Scenario], workers: int = 4) -> List[Result]:
    """Plays every scenario, side by side; those needing a counsellor on call
    together, with the stack's counsellors on call, then the others."""
    from tests.support.stack import counsellors_on_call

    results: Dict[str, Result] = {}

    def batch(items: List[Scenario]) -> None:
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            played = pool.map(lambda s: play(stack, s), items)
            for scenario, result in zip(items, played, strict=True):
                results[scenario.id] = result

    with counsellors_on_call(stack):
        batch([s for s in scenarios if s.counsellors_on_call])
    batch([s for s in scenarios if not s.counsellors_on_call])
    return [results[s.id] for s in scenarios]


def summary(results: List[Result]) -> Dict[str, Any]:
    """Pass rate per group, and the turns whose reply was the fallback, an
    identical repeat, or a crisis reply where none was expected."""
    groups: Dict[str, Dict[str, int]] = {}
    for result in results:
        group = groups.setdefault(result.scenario.group, {"scenarios": 0, "passed": 0})
        group["scenarios"] += 1
        group["passed"] += int(result.passed)
    turns = [t for r in results for t in r.turns]
    return {
        "groups": groups,
        "scenarios": len(results),
        "passed": sum(r.passed for r in results),
        "turns": len(turns),
        "fallback_turns": sum(t.fallback for t in turns),
        "repeat_turns": sum(t.repeat for t in turns),
        "unexpected_crisis_turns": sum(t.unexpected_crisis for t in turns),
        "failed_turns": sum(bool(t.failures) for t in turns),
    }
