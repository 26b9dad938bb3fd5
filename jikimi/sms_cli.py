"""Operator commands for counsellors and the SMS outbox (part of the `jikimi` CLI).

    jikimi counsellor add NAME PHONE [--priority N]   lower N is asked first (default 100)
    jikimi counsellor list                            phones masked
    jikimi counsellor disable ID|PHONE                no new handoffs; live ones can finish
    jikimi counsellor enable ID|PHONE
    jikimi dispatch [--once]                          send the outbox (the desk does this too)

Phones are validated and stored in E.164 (010-1234-5678 -> +821012345678),
encrypted; the list shows them masked.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from jikimi.db import (
    Counsellor,
    add_counsellor,
    counsellor_by_phone,
    normalise_phone,
    session_scope,
)
from jikimi.dispatcher import Dispatcher, dispatch_until_idle, run_forever
from jikimi.settings import Settings
from jikimi.sms import mask_phone


def add_parsers(sub) -> None:
    counsellor = sub.add_parser("counsellor", help="counsellors who take handoffs by SMS")
    commands = counsellor.add_subparsers(dest="counsellor_command", required=True)
    add = commands.add_parser("add", help="register a counsellor")
    add.add_argument("name")
    add.add_argument("phone", help="a Korean mobile number, e.g. 010-1234-5678")
    add.add_argument("--priority", type=int, default=100, help="lower is asked first (default 100)")
    commands.add_parser("list", help="the roster, in the order counsellors are asked")
    for name, what in (("disable", "stop asking"), ("enable", "ask again")):
        command = commands.add_parser(name, help=f"{what} a counsellor")
        command.add_argument("counsellor", metavar="ID|PHONE")

    dispatch = sub.add_parser(
        "dispatch", help="send queued SMS (the desk service does this in the background)"
    )
    dispatch.add_argument("--once", action="store_true", help="send what is due now, then stop")


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        if args.command == "dispatch":
            return _dispatch(settings, args.once)
        return {
            "add": lambda: _add(settings, args.name, args.phone, args.priority),
            "list": lambda: _list(settings),
            "disable": lambda: _set_active(settings, args.counsellor, False),
            "enable": lambda: _set_active(settings, args.counsellor, True),
        }[args.counsellor_command]()
    except (OperationalError, ProgrammingError):
        print(
            "jikimi: the database is not reachable or not migrated: run `jikimi db upgrade`.",
            file=sys.stderr,
        )
        return 1


def _add(settings: Settings, name: str, phone: str, priority: int) -> int:
    if not name.strip():
        print("jikimi: the name must not be empty.", file=sys.stderr)
        return 2
    try:
        with session_scope(settings) as session:
            counsellor = add_counsellor(session, name, phone, priority)
            number, ident = counsellor.phone, counsellor.id
    except ValueError as error:
        print(f"jikimi: {error}", file=sys.stderr)
        return 2
    print(f"Added counsellor #{ident} {name.strip()} ({mask_phone(number)}), priority {priority}.")
    return 0


def _list(settings: Settings) -> int:
    with session_scope(settings) as session:
        rows = [
            (c.id, c.name, mask_phone(c.phone), c.priority, c.active)
            for c in session.execute(
                select(Counsellor).order_by(
                    Counsellor.active.desc(), Counsellor.priority, Counsellor.id
                )
            ).scalars()
        ]
    if not rows:
        print("No counsellors yet: `jikimi counsellor add NAME PHONE`.")
        return 0
    print(f"{'ID':>4}  {'PRIORITY':>8}  {'STATUS':8}  {'PHONE':15}  NAME")
    for ident, name, phone, priority, active in rows:
        status = "on call" if active else "disabled"
        print(f"{ident:>4}  {priority:>8}  {status:8}  {phone:15}  {name}")
    return 0


def _find(session, ident: str):
    try:
        return counsellor_by_phone(session, normalise_phone(ident))
    except ValueError:
        pass
    if ident.strip().lstrip("#").isdigit():
        return session.get(Counsellor, int(ident.strip().lstrip("#")))
    return None


def _set_active(settings: Settings, ident: str, active: bool) -> int:
    with session_scope(settings) as session:
        counsellor = _find(session, ident)
        if counsellor is None:
            print(
                f"jikimi: no counsellor {ident!r} (an ID from `jikimi counsellor list`, "
                "or their phone number).",
                file=sys.stderr,
            )
            return 1
        counsellor.active = active
        label = f"#{counsellor.id} {counsellor.name} ({mask_phone(counsellor.phone)})"
    if active:
        print(f"Counsellor {label} is on call again.")
    else:
        print(
            f"Counsellor {label} is disabled: no new handoffs. Handoffs they have accepted "
            "can still be finished; ones waiting for them pass on when they time out."
        )
    return 0


def _dispatch(settings: Settings, once: bool) -> int:
    dispatcher = Dispatcher(settings)
    if dispatcher.transport.name == "local":
        print("Twilio credentials are not all set: SMS are recorded, NOT sent.", file=sys.stderr)
    if once:
        results = dispatch_until_idle(dispatcher)
        sent = sum(r.sent + r.found_sent for r in results)
        retrying = sum(r.retrying for r in results)
        given_up = sum(r.given_up for r in results)
        print(f"Sent {sent}; {retrying} to retry later; {given_up} given up.")
        return 0

    async def forever() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run_forever(dispatcher, stop)

    asyncio.run(forever())
    return 0
