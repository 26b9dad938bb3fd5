"""`jikimi run`'s supervisor with stand-in children (the real stack: tests/faults)."""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import time

from jikimi.supervisor import ChildSpec, Supervisor


def child(code: str) -> list:
    return [sys.executable, "-c", code]


def run_for(supervisor: Supervisor, seconds: float) -> int:
    """Runs the supervisor, with a SIGINT (Ctrl-C) after `seconds`."""
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        return supervisor.run()
    finally:
        timer.cancel()


def test_an_exiting_child_is_restarted_and_the_others_keep_running(tmp_path):
    marker = tmp_path / "steady.pid"
    out = io.StringIO()
    supervisor = Supervisor(
        [
            ChildSpec("flaky", child("import time; print('up', flush=True); time.sleep(0.3)")),
            ChildSpec(
                "steady",
                child(
                    f"import os, time; open({str(marker)!r}, 'a').write(str(os.getpid()) + '\\n');"
                    " time.sleep(60)"
                ),
            ),
        ],
        out=out,
        backoff_s=(0.2,),
        give_up_failures=100,
    )
    assert run_for(supervisor, 3.0) == 0
    log = out.getvalue()
    assert log.count("| up") >= 2, log
    assert "flaky exited (code 0)" in log and "restarting it in 0.2s" in log
    # The steady child was started once and stopped only by Ctrl-C.
    assert len(marker.read_text().split()) == 1
    assert "stopping all processes" in log


def test_a_child_that_keeps_failing_is_given_up_on_loudly():
    out = io.StringIO()
    supervisor = Supervisor(
        [
            ChildSpec("broken", child("raise SystemExit(3)")),
            ChildSpec("steady", child("import time; time.sleep(60)")),
        ],
        out=out,
        backoff_s=(0.05,),
        give_up_failures=3,
    )
    started = time.monotonic()
    assert run_for(supervisor, 2.0) == 0
    log = out.getvalue()
    assert log.count("started broken") == 3
    assert "broken exited (code 3) 3 times in a row" in log and "NOT restarting it" in log
    assert time.monotonic() - started < 10


def test_when_every_child_is_given_up_on_run_returns_1():
    out = io.StringIO()
    supervisor = Supervisor(
        [ChildSpec("broken", child("raise SystemExit(1)"))],
        out=out,
        backoff_s=(0.05,),
        give_up_failures=2,
    )
    assert run_for(supervisor, 10) == 1
    assert "every process was given up on" in out.getvalue()


def test_ctrl_c_stops_a_child_that_ignores_sigterm_by_killing_it():
    out = io.StringIO()
    stubborn = child(
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        " signal.signal(signal.SIGINT, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    )
    supervisor = Supervisor([ChildSpec("stubborn", stubborn)], out=out, stop_grace_s=0.5)
    started = time.monotonic()
    assert run_for(supervisor, 1.0) == 0
    assert "did not stop in time; killing it" in out.getvalue()
    assert time.monotonic() - started < 10
