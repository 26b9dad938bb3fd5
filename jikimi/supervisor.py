"""`jikimi run`'s supervisor: three children, each restarted when it exits.

Under `make run` one child exiting must not silence the others (a red-team run
stopped the action server and honcho stopped Rasa and the desk with it: 12 of
15 crisis messages then got no answer). So:

- a child that exits while we are not stopping is started again after a pause
  that doubles with each quick failure (1, 2, 4, ... 30 s), with a log line;
- a child that keeps failing (GIVE_UP_FAILURES exits, each within
  QUICK_EXIT_S of its start, in a row) is given up on loudly, and the others
  keep running; when every child has been given up on, `run` returns 1;
- everything stops only on Ctrl-C (SIGINT) or SIGTERM: the children are sent
  SIGTERM, given STOP_GRACE_S, then killed.

The children share our process group, so a terminal's Ctrl-C reaches them too,
and a test that kills the group kills them all. Their output is passed through
line by line, prefixed with the child's name.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, TextIO

BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
# A child that lived at least this long before exiting was working: its next
# failure starts the count (and the pause) afresh.
QUICK_EXIT_S = 60.0
GIVE_UP_FAILURES = 5
STOP_GRACE_S = 20.0


@dataclass
class ChildSpec:
    name: str
    argv: Sequence[str]
    env: Optional[Dict[str, str]] = None
    cwd: Optional[str] = None


@dataclass
class _Child:
    spec: ChildSpec
    process: Optional[subprocess.Popen] = None
    started_at: float = 0.0
    quick_failures: int = 0
    restart_at: Optional[float] = None
    gave_up: bool = False
    readers: List[threading.Thread] = field(default_factory=list)


class Supervisor:
    def __init__(
        self,
        children: Sequence[ChildSpec],
        out: Optional[TextIO] = None,
        backoff_s: Sequence[float] = BACKOFF_S,
        quick_exit_s: float = QUICK_EXIT_S,
        give_up_failures: int = GIVE_UP_FAILURES,
        stop_grace_s: float = STOP_GRACE_S,
    ) -> None:
        self._children = [_Child(spec) for spec in children]
        self._out = out or sys.stdout
        self._backoff_s = tuple(backoff_s)
        self._quick_exit_s = quick_exit_s
        self._give_up_failures = give_up_failures
        self._stop_grace_s = stop_grace_s
        self._stopping = threading.Event()
        self._write_lock = threading.Lock()
        self._width = max(len("jikimi"), *(len(spec.name) for spec in children))

    # --- output ----------------------------------------------------------------

    def say(self, name: str, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        with self._write_lock:
            self._out.write(f"{stamp} {name:<{self._width}} | {line.rstrip()}\n")
            self._out.flush()

    def _pump(self, name: str, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.say(name, raw.decode("utf-8", errors="replace"))
        stream.close()

    # --- children --------------------------------------------------------------

    def _start(self, child: _Child) -> None:
        spec = child.spec
        child.process = subprocess.Popen(
            list(spec.argv),
            env=spec.env,
            cwd=spec.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        reader = threading.Thread(
            target=self._pump, args=(spec.name, child.process.stdout), daemon=True
        )
        reader.start()
        child.readers = [reader]
        self.say("jikimi", f"started {spec.name} (pid {child.process.pid})")

    def _exited(self, child: _Child, code: int) -> None:
        """A child ended while we were not stopping: plan its restart, or give up."""
        now = time.monotonic()
        lived = now - child.started_at
        child.process = None
        if lived >= self._quick_exit_s:
            child.quick_failures = 0
        child.quick_failures += 1
        how = f"signal {-code}" if code < 0 else f"code {code}"
        if child.quick_failures >= self._give_up_failures:
            child.gave_up = True
            banner = "!" * 60
            for line in (
                banner,
                f"{child.spec.name} exited ({how}) {child.quick_failures} times in a row, "
                "each soon after it started: NOT restarting it.",
                "The other processes keep running. Read the lines above for the cause, "
                "then stop with Ctrl-C and start again.",
                banner,
            ):
                self.say("jikimi", line)
            return
        pause = self._backoff_s[min(child.quick_failures - 1, len(self._backoff_s) - 1)]
        child.restart_at = now + pause
        self.say(
            "jikimi",
            f"{child.spec.name} exited ({how}) after {lived:.1f}s; restarting it in {pause:g}s",
        )

    def _signal(self, signum: int, _frame) -> None:
        self._stopping.set()

    # --- the loop --------------------------------------------------------------

    def run(self) -> int:
        """Runs until Ctrl-C / SIGTERM (0) or until every child was given up on (1)."""
        previous = {
            signum: signal.signal(signum, self._signal)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            for child in self._children:
                self._start(child)
            while not self._stopping.is_set():
                now = time.monotonic()
                for child in self._children:
                    if child.process is not None:
                        code = child.process.poll()
                        if code is not None and not self._stopping.is_set():
                            self._exited(child, code)
                    elif child.restart_at is not None and now >= child.restart_at:
                        self._start(child)
                if all(child.gave_up for child in self._children):
                    self.say("jikimi", "every process was given up on; stopping.")
                    return 1
                self._stopping.wait(0.2)
            self.say("jikimi", "stopping all processes")
            return 0
        finally:
            self._stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _stop_all(self) -> None:
        running = [c for c in self._children if c.process is not None and c.process.poll() is None]
        for child in running:
            try:
                child.process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + self._stop_grace_s
        for child in running:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("jikimi", f"{child.spec.name} did not stop in time; killing it")
                child.process.kill()
                child.process.wait()
        for child in self._children:
            for reader in child.readers:
                reader.join(timeout=2)


__all__ = ["ChildSpec", "Supervisor"]
