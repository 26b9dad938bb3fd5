"""Issue 15, item 1: under `jikimi run` one process exiting stops nothing else.

Before: honcho stopped all three when one exited; with the action server
stopped (SIGTERM), 12 of 15 crisis messages got no answer at all. Now the
supervisor (jikimi/supervisor.py) restarts the child that exited and the others
keep answering; the crisis reply never needs the action server.
"""

from __future__ import annotations

import os
import signal
import time

import requests

CRISIS = "요즘 너무 힘들어서 죽고 싶어"


def texts(replies) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def wait_restarted(stack, name: str, old_pid: int, timeout: float = 240) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = stack.children().get(name)
        if pid and pid != old_pid:
            stack.wait_ready(timeout=max(1, deadline - time.monotonic()))
            return pid
        time.sleep(0.2)
    raise AssertionError(f"{name} was not restarted:\n{stack.output()[-3000:]}")


def test_the_action_server_stopped_is_restarted_and_crisis_messages_are_all_answered(healthy):
    stack = healthy
    before = stack.children()
    assert set(before) == {"rasa", "actions", "desk"}
    os.kill(before["actions"], signal.SIGTERM)
    answered = []
    for i in range(15):
        reply = texts(stack.say(f"fault-proc-crisis-{i}-{os.urandom(3).hex()}", CRISIS))
        answered.append("109" in reply)
    assert answered == [True] * 15, answered
    actions = wait_restarted(stack, "actions", before["actions"])
    after = stack.children()
    assert after["rasa"] == before["rasa"] and after["desk"] == before["desk"]
    assert "actions exited" in stack.output() and "restarting it" in stack.output()
    # The action server answers again: a lesson comes from it.
    assert requests.get(f"http://127.0.0.1:{stack.env['JIKIMI_ACTION_PORT']}/health").ok
    assert actions != before["actions"]


def test_the_desk_and_rasa_killed_are_restarted_one_at_a_time(healthy):
    stack = healthy
    before = stack.children()
    os.kill(before["desk"], signal.SIGKILL)
    # Rasa keeps answering while the desk is away.
    assert "109" in texts(stack.say("fault-proc-desk-" + os.urandom(3).hex(), CRISIS))
    wait_restarted(stack, "desk", before["desk"])
    assert stack.children()["rasa"] == before["rasa"]

    os.kill(before["rasa"], signal.SIGKILL)
    rasa = wait_restarted(stack, "rasa", before["rasa"])
    assert rasa != before["rasa"]
    assert "109" in texts(stack.say("fault-proc-rasa-" + os.urandom(3).hex(), CRISIS))
    after = stack.children()
    assert after["actions"] == before["actions"]
    assert stack.process.poll() is None, "jikimi run itself keeps running"
