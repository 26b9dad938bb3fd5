"""Load benchmark of the whole assistant (`make bench`).

Starts the three processes as production does (`jikimi serve rasa|actions|desk`)
on free loopback ports, on a throwaway PostgreSQL database and a Redis lock
store when those servers are reachable (else SQLite in a temporary directory
and Rasa's in-memory lock store), with one counsellor on call and the fake
Twilio (tests/support/fake_twilio.py) for the SMS the handoffs cause. Then:

- cold start: from starting the three processes to the first reply over REST;
- load: simulated students talk over the REST channel (a new sender id each,
  one message after another, no pause): lessons, the report form to the end,
  or a counsellor request, mixed 3:1:1. At each concurrency (1, 8, 32, 64 by
  default) for at most --duration seconds and --max-replies replies: p50 /
  p95 / p99 reply latency, replies per second, errors (a failed request, an
  empty answer, the action-failed apology or the rate-limit message), and the
  CPU time each process spent per reply;
- NLU alone: `POST /model/parse` one message at a time, p50 / p95;
- peak memory (VmHWM) of each process;
- model load: imports and `Agent.load` timed in a fresh process;
- training time: the last `--train` measurement (bench-results/train.json);
  `--train` times `rasa train` into a temporary directory (never models/);
- `--profile`: where the time of one reply goes (NLU, policies, action server
  round trips, tracker store, lock store), from an agent loaded in this
  process and talking to the same action server and database.

The guard's rate limits (per sender, per client address) are turned off for
the stack under test: every simulated student comes from 127.0.0.1. Results go
to bench-results/load.json and the plot of latency against concurrency to
bench-results/latency.png (`--plot docs/bench-latency.png` for the README's).

The machine's load average is recorded with the figures: other work on the
machine inflates them.

Usage: make bench   (or: python scripts/bench_load.py --concurrency 1 8 32 64 --duration 60)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = ROOT / "models" / "jikimi.tar.gz"
RESULTS = ROOT / "bench-results"
PG_ADMIN_URL = os.environ.get(
    "JIKIMI_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("JIKIMI_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
COUNSELLOR_PHONE = "010-5555-0199"
REQUEST_TIMEOUT_S = 30.0

# What simulated students say, one message after another. Real Korean, as the
# tests write it; every message gets at least one reply.
CONVERSATIONS: Dict[str, List[str]] = {
    "lessons": [
        "안녕",
        "딥페이크가 뭐야?",
        "더 알려줘",
        "합성만 해도 처벌돼?",
        "더 알려줘",
        "더 알려줘",
        "친구 사진이 합성돼서 돌고 있는데 어떻게 도와줘야 해?",
        "가짜인지 어떻게 알아봐?",
        "고마워",
    ],
    "report": [
        "제 얼굴로 합성된 사진이 돌아다녀요",
        "/start_report",
        "중2예요",
        "텔레그램",
        "어제",
        "아직 있어요",
        "같은 학교 친구예요",
        "https://t.me/benchroom/42",
        "다 보냈어요",
        "반 단톡방에 제 얼굴로 만든 사진이 올라왔어요",
        "맞아요",
    ],
    "handoff": [
        "안녕하세요",
        "누가 내 사진으로 이상한 합성을 했어요",
        "상담 선생님이랑 얘기하고 싶어요",
        "네 연결해 주세요",
        "알겠어요 기다릴게요",
    ],
}
MIX = ["lessons", "lessons", "lessons", "report", "handoff"]


# --- small helpers ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: List[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def proc_status(pid: int, field_name: str) -> Optional[int]:
    """A kB figure from /proc/PID/status (VmHWM: peak resident memory)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its reaped children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    ticks = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def system_cpu() -> Tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / ticks, sum(values) / ticks


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process on this machine (the bench's own database
    server, if it runs here; other work on it counts too)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" in text:
            total += cpu_seconds(int(stat.parent.name))
    return total


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


# --- the stack under test -----------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path


@dataclass
class Stack:
    env: Dict[str, str]
    processes: Dict[str, Process] = field(default_factory=dict)
    database: str = ""
    lock_store: str = ""
    cold_start_s: float = float("nan")
    rasa_urls: List[str] = field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        return self.rasa_urls[0]

    @property
    def token(self) -> str:
        return self.env["RASA_TOKEN"]


def postgres_database(stack: ExitStack) -> Optional[str]:
    """A throwaway PostgreSQL database (dropped at exit), or None without a server."""
    try:
        import psycopg2
        from sqlalchemy.engine import make_url
    except ImportError:
        return None
    try:
        admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
    except psycopg2.OperationalError:
        return None
    admin.autocommit = True
    name = f"jikimi_bench_{secrets.token_hex(6)}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")

    def drop() -> None:
        from jikimi.db import dispose_engines

        dispose_engines()
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()

    stack.callback(drop)
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg2", database=name)
    return url.render_as_string(hide_password=False)


def redis_reachable(url: str) -> bool:
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means: do without
        return False


def start_stack(exits: ExitStack, tmp: Path, args) -> Stack:
    from cryptography.fernet import Fernet

    from jikimi.db import add_counsellor, dispose_engines, session_scope, upgrade
    from jikimi.settings import load_settings
    from tests.support.fake_twilio import FakeTwilio

    database = None if args.sqlite else postgres_database(exits)
    kind = "PostgreSQL"
    if database is None:
        database, kind = f"sqlite:///{tmp / 'jikimi.db'}", "SQLite"
    lock = REDIS_URL if kind == "PostgreSQL" and redis_reachable(REDIS_URL) else None
    if lock is None and args.rasa_instances > 1:
        # Several Rasa processes need the shared database and lock store.
        print("No PostgreSQL and Redis: one Rasa process, SQLite, in-memory lock store.")
        args.rasa_instances = 1
    fake = exits.enter_context(FakeTwilio())
    env = {
        **os.environ,
        **fake.env(),
        "JIKIMI_RASA_PORT": str(free_port()),
        "JIKIMI_ACTION_PORT": str(free_port()),
        "JIKIMI_DESK_PORT": str(free_port()),
        "JIKIMI_DATABASE_URL": database,
        "JIKIMI_TRACKER_STORE_URL": database,
        "JIKIMI_SECRET_KEY": Fernet.generate_key().decode(),
        "RASA_TOKEN": secrets.token_urlsafe(24),
        # Every simulated student comes from 127.0.0.1: the guard's limits are off.
        "JIKIMI_SENDER_MESSAGES_PER_MINUTE": "0",
        "JIKIMI_IP_REQUESTS_PER_MINUTE": "0",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "RASA_TELEMETRY_ENABLED": "false",
    }
    if lock:
        env["JIKIMI_LOCK_STORE_URL"] = lock
    for name, value in args.env:
        env[name] = value
    upgrade(database)
    settings = load_settings(environ=env)
    with session_scope(settings) as session:
        add_counsellor(session, "부하 시험 상담 선생님", COUNSELLOR_PHONE)
    dispose_engines()

    stack = Stack(env, database=kind, lock_store="Redis" if lock else "in-memory")
    exits.callback(stop_stack, stack)

    def launch(name: str, process_env: Dict[str, str]) -> None:
        log = tmp / f"{name}.log"
        command = [sys.executable, "-m", "jikimi.cli", "serve", name.split("-")[0]]
        if name.startswith("rasa") and args.baseline:
            command = [sys.executable, "-c", BASELINE_RASA]
        if name == "rasa" and args.rasa_cprofile:
            command[1:1] = ["-m", "cProfile", "-o", str(args.rasa_cprofile)]
        with log.open("w") as out:
            popen = subprocess.Popen(
                command,
                cwd=ROOT, env=process_env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        stack.processes[name] = Process(name, popen, log)

    # Cold start: the three processes, as `jikimi run` or a deployment starts them.
    started = time.monotonic()
    for name in ("actions", "desk", "rasa"):
        launch(name, env)
    stack.rasa_urls.append(f"http://127.0.0.1:{env['JIKIMI_RASA_PORT']}")
    stack.cold_start_s = first_reply(stack, stack.rasa_url, started)
    # Further Rasa instances on the same database, lock store and action server.
    for number in range(2, args.rasa_instances + 1):
        port = str(free_port())
        launch(f"rasa-{number}", {**env, "JIKIMI_RASA_PORT": port})
        stack.rasa_urls.append(f"http://127.0.0.1:{port}")
        first_reply(stack, stack.rasa_urls[-1], time.monotonic())
    return stack


# `--baseline`: the Rasa server as it was before the speed work (README "Speed"):
# Rasa's own validation, model load and event lookup, TensorFlow's default threads.
BASELINE_RASA = """
import sys
import jikimi.cli as cli
import bot.speedups as speedups
speedups.install = lambda: None
for name in ("TF_INTRA_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS"):
    cli.PROCESS_ENV.pop(name, None)
sys.exit(cli.main(["serve", "rasa"]))
"""


def first_reply(stack: Stack, url: str, started: float, timeout: float = 600.0) -> float:
    """Seconds from `started` until `url`'s REST channel answers a greeting."""
    import requests

    deadline = started + timeout
    while time.monotonic() < deadline:
        for process in stack.processes.values():
            if process.popen.poll() is not None:
                raise SystemExit(
                    f"jikimi serve {process.name} exited:\n{process.log.read_text()[-3000:]}"
                )
        try:
            answer = requests.post(
                f"{url}/webhooks/rest/webhook",
                json={"sender": f"cold-{uuid.uuid4().hex}", "message": "안녕"},
                timeout=REQUEST_TIMEOUT_S,
            )
            if answer.ok and answer.json():
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit(f"no reply within {timeout:.0f}s")


def stop_stack(stack: Stack) -> None:
    for process in stack.processes.values():
        if process.popen.poll() is None:
            process.popen.send_signal(signal.SIGINT)
    for process in stack.processes.values():
        try:
            process.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.popen.pid, signal.SIGKILL)
            process.popen.wait()


# --- load -------------------------------------------------------------------------


@dataclass
class Level:
    concurrency: int
    latencies_ms: List[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: Dict[str, int] = field(default_factory=dict)
    conversations: int = 0
    elapsed_s: float = 0.0
    cpu_s: Dict[str, float] = field(default_factory=dict)
    load_average: str = ""
    machine_busy: float = float("nan")

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def summary(self) -> Dict:
        replies = len(self.latencies_ms)
        return {
            "concurrency": self.concurrency,
            "replies": replies,
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "conversations": self.conversations,
            "elapsed_s": round(self.elapsed_s, 2),
            "replies_per_s": round(replies / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            "p50_ms": round(percentile(self.latencies_ms, 50), 1),
            "p95_ms": round(percentile(self.latencies_ms, 95), 1),
            "p99_ms": round(percentile(self.latencies_ms, 99), 1),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 1) if replies else None,
            "cpu_ms_per_reply": {
                name: round(1000 * seconds / replies, 1) if replies else None
                for name, seconds in self.cpu_s.items()
            },
            "load_average": self.load_average,
            "machine_cpu_busy_pct": round(100 * self.machine_busy, 1),
        }


def bad_texts() -> Tuple[str, str]:
    from jikimi import content

    return content.message("action_failed").text, content.message("rate_limited").text


async def run_level(
    stack: Stack, concurrency: int, duration: float, max_replies: int, seed: int
) -> Level:
    import aiohttp

    level = Level(concurrency)
    apology, limited = bad_texts()
    rng = random.Random(seed)
    urls = [f"{base}/webhooks/rest/webhook" for base in stack.rasa_urls]
    deadline = time.monotonic() + duration
    sent = 0

    async def student(session: aiohttp.ClientSession, number: int) -> None:
        """One simulated student after another; all of this one's conversations go
        to one Rasa instance, as a load balancer with sticky sessions sends them."""
        nonlocal sent
        url = urls[number % len(urls)]
        while time.monotonic() < deadline and sent < max_replies:
            script = CONVERSATIONS[rng.choice(MIX)]
            sender = f"bench-{uuid.uuid4().hex}"
            level.conversations += 1
            for text in script:
                if time.monotonic() >= deadline or sent >= max_replies:
                    return
                sent += 1
                began = time.perf_counter()
                try:
                    async with session.post(url, json={"sender": sender, "message": text}) as r:
                        body = await r.json(content_type=None) if r.status == 200 else None
                        status = r.status
                except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                    level.error(type(error).__name__)
                    continue
                latency = (time.perf_counter() - began) * 1000
                if status != 200:
                    level.error(f"HTTP {status}")
                elif not body:
                    level.error("no reply")
                elif any(m.get("text") in (apology, limited) for m in body):
                    level.error("apology" if apology in [m.get("text") for m in body] else "limit")
                else:
                    level.latencies_ms.append(latency)

    pids = {name: p.popen.pid for name, p in stack.processes.items()}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    before["postgres (all)"] = postgres_cpu()
    before["this load generator"] = time.process_time()
    machine_before = system_cpu()
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=concurrency)
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await asyncio.gather(*(student(session, number) for number in range(concurrency)))
    level.elapsed_s = time.monotonic() - started
    level.cpu_s = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    level.cpu_s["postgres (all)"] = postgres_cpu() - before["postgres (all)"]
    level.cpu_s["this load generator"] = time.process_time() - before["this load generator"]
    machine_after = system_cpu()
    level.machine_busy = (machine_after[0] - machine_before[0]) / max(
        1e-9, machine_after[1] - machine_before[1]
    )
    level.load_average = load_average()
    return level


def nlu_latency(stack: Stack, count: int) -> Dict:
    import requests

    texts = [t for script in CONVERSATIONS.values() for t in script if not t.startswith("/")]
    latencies = []
    with requests.Session() as session:
        for number in range(count):
            began = time.perf_counter()
            answer = session.post(
                f"{stack.rasa_url}/model/parse",
                params={"token": stack.token},
                json={"text": texts[number % len(texts)]},
                timeout=REQUEST_TIMEOUT_S,
            )
            answer.raise_for_status()
            latencies.append((time.perf_counter() - began) * 1000)
    return {
        "count": count,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
    }


MODEL_LOAD_CODE = """
import json, sys, time
began = time.perf_counter()
if sys.argv[1] == "speedups":
    from bot import speedups
    speedups.install()
from rasa.core.agent import Agent
imported = time.perf_counter()
agent = Agent.load(sys.argv[2])
loaded = time.perf_counter()
print(json.dumps({"imports_s": round(imported - began, 1), "load_s": round(loaded - imported, 1)}))
"""


def model_load_time(env: Dict[str, str]) -> Dict:
    """Imports and Agent.load, timed in a fresh process (nothing cached in it): as
    `jikimi serve rasa` loads (with bot/speedups.py), and as stock Rasa does."""
    timings = {}
    for mode in ("speedups", "stock"):
        out = subprocess.run(
            [sys.executable, "-c", MODEL_LOAD_CODE, mode, str(MODEL)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        if out.returncode != 0:
            timings[mode] = {"error": out.stderr[-500:]}
        else:
            timings[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    return timings


def training_time(train: bool) -> Dict:
    """`rasa train` into a temporary directory when asked; else the last measurement."""
    record = RESULTS / "train.json"
    if not train:
        if record.exists():
            return {**json.loads(record.read_text()), "source": str(record.relative_to(ROOT))}
        return {"source": "not measured yet: run with --train"}
    with tempfile.TemporaryDirectory(prefix="jikimi-bench-train-") as out:
        command = [
            str(Path(sys.executable).with_name("rasa")), "train",
            "--config", "bot/config.yml", "--domain", "bot/domain",
            "--data", "data/nlu_ko", "bot/rules", "--out", out,
            "--fixed-model-name", "bench", "--force",
        ]  # fmt: skip
        began = time.monotonic()
        popen = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        peak = 0
        while popen.poll() is None:
            peak = max(peak, proc_status(popen.pid, "VmHWM") or 0)
            time.sleep(1)
        seconds = time.monotonic() - began
    if popen.returncode != 0:
        return {"error": f"rasa train failed ({popen.returncode})"}
    measured = {
        "train_s": round(seconds, 1),
        "peak_rss_mb": round(peak / 1024),
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "load_average": load_average(),
    }
    RESULTS.mkdir(exist_ok=True)
    record.write_text(json.dumps(measured, indent=2))
    return {**measured, "source": "measured now"}


# --- where the time of one reply goes -------------------------------------------------


def profile_replies(stack: Stack, rounds: int, cprofile: Optional[Path] = None) -> Dict:
    """Times the parts of replies made by an agent loaded in this process.

    The agent uses the stack's endpoints (its database, lock store and action
    server); the channel guard and rate limits are not in this path.
    """
    import functools
    import logging

    from rasa.core.actions.action import RemoteAction
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.processor import MessageProcessor
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    from bot import speedups
    from bot.tracker_store import EncryptedSQLTrackerStore
    from jikimi.cli import write_endpoints
    from jikimi.settings import load_settings

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    speedups.install()  # as `jikimi serve rasa` does
    os.environ.update(
        {k: v for k, v in stack.env.items() if k.startswith(("JIKIMI_", "RASA_", "TF_"))}
    )
    settings = load_settings()
    endpoints = AvailableEndpoints.read_endpoints(str(write_endpoints(settings)))
    spent: Dict[str, float] = {}
    calls: Dict[str, int] = {}

    def timed(owner, name: str, part: str) -> None:
        original = getattr(owner, name)

        def add(seconds: float) -> None:
            spent[part] = spent.get(part, 0.0) + seconds
            calls[part] = calls.get(part, 0) + 1

        if asyncio.iscoroutinefunction(original):

            @functools.wraps(original)
            async def wrapper(*a, **k):
                began = time.perf_counter()
                try:
                    return await original(*a, **k)
                finally:
                    add(time.perf_counter() - began)

        else:

            @functools.wraps(original)
            def wrapper(*a, **k):
                began = time.perf_counter()
                try:
                    return original(*a, **k)
                finally:
                    add(time.perf_counter() - began)

        setattr(owner, name, wrapper)

    timed(MessageProcessor, "_parse_message_with_graph", "NLU (tokenizer, featurizers, DIET)")
    timed(MessageProcessor, "_predict_next_with_tracker", "policies (RulePolicy)")
    timed(RemoteAction, "run", "action server round trips")
    for name in ("retrieve", "retrieve_full_tracker", "save"):
        timed(EncryptedSQLTrackerStore, name, "tracker store (load + save)")

    async def run() -> Tuple[float, int]:
        agent = await load_agent(model_path=str(MODEL), endpoints=endpoints)
        for name in ("issue_ticket", "_acquire_lock", "cleanup"):
            timed(type(agent.lock_store), name, "lock store")
        total, replies = 0.0, 0
        for round_number in range(rounds + 1):
            if round_number == 1:  # the first round warms up: not counted
                spent.clear()
                calls.clear()
                total, replies = 0.0, 0
            for script_name in ("lessons", "report", "handoff"):
                sender = f"profile-{uuid.uuid4().hex}"
                for text in CONVERSATIONS[script_name]:
                    began = time.perf_counter()
                    await agent.handle_message(
                        UserMessage(text, CollectingOutputChannel(), sender, input_channel="rest")
                    )
                    total += time.perf_counter() - began
                    replies += 1
        return total, replies

    if cprofile is None:
        total, replies = asyncio.run(run())
    else:
        import cProfile

        profiler = cProfile.Profile()
        total, replies = profiler.runcall(asyncio.run, run())
        profiler.dump_stats(str(cprofile))
    parts = {
        part: {
            "ms_per_reply": round(1000 * seconds / replies, 2),
            "calls_per_reply": round(calls[part] / replies, 2),
        }
        for part, seconds in sorted(spent.items(), key=lambda item: -item[1])
    }
    other = total - sum(spent.values())
    parts["everything else (Rasa's own work)"] = {
        "ms_per_reply": round(1000 * other / replies, 2),
        "calls_per_reply": None,
    }
    return {"replies": replies, "ms_per_reply": round(1000 * total / replies, 2), "parts": parts}


# --- report -----------------------------------------------------------------------------


def plot(results: List[Dict], path: Path) -> None:
    """Latency and replies per second against concurrency: p50, p95 and p99 of
    the first run (this one), p95 of the others (--compare), one line style per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (latency, throughput) = plt.subplots(1, 2, figsize=(10, 4.2), dpi=110)
    colours = {"p50_ms": "tab:blue", "p95_ms": "tab:orange", "p99_ms": "tab:red"}
    for number, result in enumerate(results):
        levels = result["levels"]
        x = [level["concurrency"] for level in levels]
        style = ("o-", "s--", "^:")[number % 3]
        label = result.get("label") or result["stack"].split(",")[0]
        for key, colour in colours.items():
            if number and key != "p95_ms":
                continue
            latency.plot(
                x, [level[key] for level in levels], style, color=colour,
                label=f"{key[:3]}, {label}",
            )  # fmt: skip
        throughput.plot(
            x, [level["replies_per_s"] for level in levels], style, color="black", label=label
        )
    latency.axhline(150, color="grey", linestyle=":", linewidth=1)
    throughput.axhline(40, color="grey", linestyle=":", linewidth=1)
    for axis in (latency, throughput):
        axis.set_xscale("log", base=2)
        ticks = sorted({lv["concurrency"] for r in results for lv in r["levels"]})
        axis.set_xticks(ticks)
        axis.set_xticklabels([str(t) for t in ticks])
        axis.set_xlabel("concurrent students (no pause between messages)")
        axis.legend(fontsize=7, loc="lower right" if axis is latency else "upper left")
    latency.set_yscale("log")
    latency.set_ylabel("reply latency, ms (log scale; dotted: 150 ms)")
    throughput.set_ylabel("replies per second (dotted: 40)")
    throughput.set_ylim(bottom=0)
    main = results[0]
    fig.suptitle(
        f"Jikimi under load, {main['when']}: {main['stack']}; {main['machine']}", fontsize=8
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def print_report(result: Dict) -> None:
    print()
    print(f"Stack: {result['stack']}; machine: {result['machine']}")
    print(f"Cold start (three processes started -> first reply): {result['cold_start_s']} s")
    print()
    print(
        f"{'conc':>4} {'replies':>7} {'rep/s':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6}  cpu ms/reply (all rasa/actions/desk)  load avg"
    )
    for level in result["levels"]:
        cpu = level["cpu_ms_per_reply"]
        rasa_cpu = round(sum(v for k, v in cpu.items() if k.startswith("rasa") and v), 1)
        print(
            f"{level['concurrency']:>4} {level['replies']:>7} {level['replies_per_s']:>6} "
            f"{level['p50_ms']:>7} {level['p95_ms']:>7} {level['p99_ms']:>7} "
            f"{level['errors']:>6}  {rasa_cpu}/{cpu.get('actions')}/{cpu.get('desk')}"
            f"{'':>18}{level['load_average']}"
        )
        if level["error_kinds"]:
            print(f"{'':>6}errors: {level['error_kinds']}")
    print()
    nlu = result.get("nlu_parse")
    if nlu:
        print(
            f"NLU parse alone (POST /model/parse): p50 {nlu['p50_ms']} ms, p95 {nlu['p95_ms']} ms"
        )
    print(
        "Peak memory (VmHWM): "
        + ", ".join(f"{name} {mb} MB" for name, mb in result["peak_memory_mb"].items())
    )
    for mode, load in (result.get("model_load") or {}).items():
        print(
            f"Model load, {mode} (fresh process): imports {load.get('imports_s')} s, "
            f"Agent.load {load.get('load_s')} s"
        )
    print(f"Training (rasa train): {result['training']}")
    profile = result.get("profile")
    if profile:
        print()
        print(
            f"One reply, in-process ({profile['replies']} replies): "
            f"{profile['ms_per_reply']} ms on average"
        )
        for part, figures in profile["parts"].items():
            per = figures["calls_per_reply"]
            print(
                f"  {part:<40} {figures['ms_per_reply']:>7} ms"
                + (f"  ({per} calls/reply)" if per is not None else "")
            )
    targets = result["targets"]
    print()
    for name, (ok, what) in targets.items():
        print(f"[{'ok' if ok else 'MISSED'}] {name}: {what}")


def targets(result: Dict) -> Dict:
    by_conc = {level["concurrency"]: level for level in result["levels"]}
    checks = {}
    if 8 in by_conc:
        p95 = by_conc[8]["p95_ms"]
        checks["p95 at concurrency 8 < 150 ms"] = (p95 < 150, f"{p95} ms")
    if 32 in by_conc:
        level = by_conc[32]
        ok = level["replies_per_s"] >= 40 and level["errors"] == 0
        checks[">= 40 replies/s at concurrency 32, no errors"] = (
            ok,
            f"{level['replies_per_s']} replies/s, {level['errors']} errors",
        )
    cold = result["cold_start_s"]
    checks["cold start < 40 s"] = (cold < 40, f"{cold} s")
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per level (max)")
    parser.add_argument("--max-replies", type=int, default=4000, help="replies per level (max)")
    parser.add_argument("--warmup", type=int, default=60, help="replies before measuring")
    parser.add_argument("--nlu-count", type=int, default=200)
    parser.add_argument("--sqlite", action="store_true", help="SQLite and no Redis")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="Rasa without bot/speedups.py and the TensorFlow thread settings",
    )
    parser.add_argument(
        "--rasa-instances",
        type=int,
        default=os.cpu_count() or 1,
        help="Rasa servers sharing the database, lock store and action server "
        "(default: one per core, as README 'Production deployment' advises)",
    )
    parser.add_argument("--train", action="store_true", help="time `rasa train` (minutes)")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="also profile ROUNDS rounds of the three conversations in-process",
    )
    parser.add_argument("--cprofile", type=Path, help="with --profile: write pstats here")
    parser.add_argument(
        "--rasa-cprofile",
        type=Path,
        help="run the Rasa server under cProfile, stats written here at exit",
    )
    parser.add_argument("--logs", type=Path, help="copy the three processes' logs here")
    parser.add_argument("--no-model-load", action="store_true", help="skip the model load timing")
    parser.add_argument("--plot", type=Path, default=RESULTS / "latency.png")
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json")
    parser.add_argument("--label", help="this run's name in the plot")
    parser.add_argument(
        "--compare",
        type=Path,
        nargs="*",
        default=[],
        help="earlier results (JSON) to draw beside this run",
    )
    parser.add_argument(
        "--env",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="an extra setting for the stack under test (repeatable)",
    )
    args = parser.parse_args()
    if not MODEL.exists():
        print(f"No trained model at {MODEL}: run `make train` first.", file=sys.stderr)
        return 2
    if max(args.concurrency) > 256 or args.duration > 600:
        parser.error("at most 256 concurrent students and 600 s per level")

    result: Dict = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{os.cpu_count()} cores, load average at start {load_average()}",
        "extra_env": dict(args.env),
        "label": args.label,
    }
    with ExitStack() as exits, tempfile.TemporaryDirectory(prefix="jikimi-bench-") as tmp:
        stack = start_stack(exits, Path(tmp), args)
        result["stack"] = (
            f"{len(stack.rasa_urls)} x Rasa, 1 x actions, 1 x desk (jikimi serve), "
            f"{stack.database}, lock store {stack.lock_store}"
        )
        result["cold_start_s"] = round(stack.cold_start_s, 1)
        print(f"Up after {result['cold_start_s']} s ({result['stack']}).", flush=True)
        asyncio.run(run_level(stack, 4, 120.0, args.warmup, seed=0))  # warm up
        levels = []
        for number, concurrency in enumerate(args.concurrency, start=1):
            level = asyncio.run(
                run_level(stack, concurrency, args.duration, args.max_replies, seed=number)
            )
            summary = level.summary()
            levels.append(summary)
            print(
                f"concurrency {concurrency}: {summary['replies_per_s']} replies/s, "
                f"p95 {summary['p95_ms']} ms, {summary['errors']} errors "
                f"(load average {summary['load_average']})",
                flush=True,
            )
        result["levels"] = levels
        result["nlu_parse"] = nlu_latency(stack, args.nlu_count)
        if args.profile:
            result["profile"] = profile_replies(stack, args.profile, args.cprofile)
        result["peak_memory_mb"] = {
            name: round((proc_status(p.popen.pid, "VmHWM") or 0) / 1024)
            for name, p in stack.processes.items()
        }
        env = stack.env
        if args.logs:
            stop_stack(stack)
            args.logs.mkdir(parents=True, exist_ok=True)
            for process in stack.processes.values():
                shutil.copy(process.log, args.logs / process.log.name)
    if not args.no_model_load:
        from jikimi.cli import PROCESS_ENV

        result["model_load"] = model_load_time({**env, **PROCESS_ENV})
    result["training"] = training_time(args.train)
    result["load_average_at_end"] = load_average()
    result["targets"] = targets(result)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    compared = [json.loads(path.read_text()) for path in args.compare]
    plot([result, *compared], args.plot)
    print_report(result)
    print(f"\nWritten: {args.out}, {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
