"""Handoff benchmark: how long SMS take through the whole service.

Starts the real stack (`jikimi run`: Rasa server, action server, desk service)
on free ports with its own database, twilio's client pointed at the fake Twilio
of tests/support/fake_twilio.py, and one counsellor on call. Then, 50 times (`--runs`):

1. a new student texts "상담 선생님이랑 얘기하고 싶어요" (a signed inbound webhook);
   measured: until the counsellor's SMS reaches the fake Twilio
   (desk -> Rasa -> action server -> outbox -> dispatcher -> Twilio API);
2. the counsellor accepts, then texts the student a line;
   measured: from that inbound SMS until the student's SMS reaches the fake
   Twilio (desk -> trigger_intent -> action -> SMS channel -> outbox -> Twilio);
3. the counsellor ends the handoff.

Prints median and p95 of both, and writes bench-results/handoff.json. The
dispatcher polls the outbox every 0.5 s, which is part of both figures.

Usage: make bench-handoff   (or: python scripts/bench_handoff.py [--runs N])
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from jikimi.db import CODE_PATTERN, add_counsellor, session_scope  # noqa: E402
from jikimi.settings import load_settings  # noqa: E402
from tests.support.fake_twilio import FakeTwilio  # noqa: E402
from tests.support.processes import MODEL, NotUp, stack_env, start_run, stop, urls  # noqa: E402

RESULTS = ROOT / "bench-results" / "handoff.json"
COUNSELLOR = "+821090000001"
ASK = "상담 선생님이랑 얘기하고 싶어요"


def p95(values: List[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def start_stack(tmp: Path, twilio: FakeTwilio):
    env = stack_env(
        tmp,
        **twilio.env(),
        JIKIMI_HANDOFF_TIMEOUT_S="3600",  # nothing escalates while we measure
        LOG_LEVEL="WARNING",
    )
    desk = urls(env)["desk"]
    env["JIKIMI_PUBLIC_URL"] = desk
    log = tmp / "run.log"
    try:
        process = start_run(env, log)
    except NotUp as error:
        sys.exit(str(error))
    settings = load_settings(environ=env)
    with session_scope(settings) as session:
        add_counsellor(session, "벤치 상담", COUNSELLOR, priority=1)
    return process, desk, log


class Clock:
    """Waits for SMS at the fake Twilio and reads when they arrived."""

    def __init__(self, twilio: FakeTwilio) -> None:
        self.twilio = twilio

    def next_to(self, number: str, contains: str, after: int, timeout: float = 120):
        def found(messages):
            mine = [m for m in messages if m.to == number][after:]
            return next((m for m in mine if contains in m.body), None)

        return self.twilio.wait_for(found, timeout, f"an SMS containing {contains!r}")

    def count_to(self, number: str) -> int:
        return len(self.twilio.to(number))


def one_handoff(twilio: FakeTwilio, desk: str, clock: Clock, index: int) -> Dict[str, float]:
    student = "+8210" + f"{index:08d}"
    # Jikimi offers a counsellor first and pages on a yes: the time measured is
    # from that yes to the counsellor's SMS.
    seen_student = clock.count_to(student)
    assert twilio.inbound(desk, student, ASK).status_code == 200
    clock.next_to(student, "연결해 줄까요", seen_student)
    seen_counsellor = clock.count_to(COUNSELLOR)
    started = time.monotonic()
    assert twilio.inbound(desk, student, "네").status_code == 200
    offer = clock.next_to(COUNSELLOR, "상담 요청", seen_counsellor)
    request_s = offer.received - started
    code = CODE_PATTERN.search(offer.body).group(0)

    seen_student = clock.count_to(student)
    twilio.inbound(desk, COUNSELLOR, f"수락 {code}")
    clock.next_to(student, "연결됐어요", seen_student)

    seen_student = clock.count_to(student)
    line = f"안녕하세요, 상담 선생님이에요 ({index})"
    started = time.monotonic()
    assert twilio.inbound(desk, COUNSELLOR, f"{code} {line}").status_code == 200
    relayed = clock.next_to(student, line, seen_student)
    relay_s = relayed.received - started

    seen_student = clock.count_to(student)
    twilio.inbound(desk, COUNSELLOR, f"종료 {code}")
    clock.next_to(student, "", seen_student)  # the bot's closing line
    return {"request_to_counsellor_s": request_s, "counsellor_to_student_s": relay_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    if not MODEL.exists():
        sys.exit(f"{MODEL} is missing: run `make train` first.")
    with tempfile.TemporaryDirectory(prefix="jikimi-bench-") as tmp, FakeTwilio() as twilio:
        tmp = Path(tmp)
        print("Starting the stack (jikimi run) with the fake Twilio ...", flush=True)
        process, desk, log = start_stack(tmp, twilio)
        clock = Clock(twilio)
        runs: List[Dict[str, float]] = []
        try:
            one_handoff(twilio, desk, clock, 0)  # warm-up, not counted
            for index in range(1, args.runs + 1):
                runs.append(one_handoff(twilio, desk, clock, index))
                if index % 10 == 0:
                    print(f"  {index}/{args.runs} handoffs", flush=True)
        finally:
            stop(process, timeout=60)
    summary = {}
    for key, label in (
        ("request_to_counsellor_s", "student's request -> counsellor's SMS at Twilio"),
        ("counsellor_to_student_s", "counsellor's SMS -> student's SMS at Twilio"),
    ):
        values = [run[key] for run in runs]
        summary[key] = {
            "median": statistics.median(values),
            "p95": p95(values),
            "min": min(values),
            "max": max(values),
        }
        figures = summary[key]
        print(f"{label:52s} median {figures['median']:.2f} s   p95 {figures['p95']:.2f} s")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"runs": len(runs), "summary": summary, "measured_at": time.strftime("%Y-%m-%d")},
            indent=2,
        )
    )
    print(f"({len(runs)} handoffs; written to {RESULTS.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
