"""The `jikimi` command: run the assistant's processes and operate it.

`jikimi run` is what `make run` starts: the Rasa server, the action server and
the desk service as children, each restarted when it exits, all stopped
together on Ctrl-C (jikimi/supervisor.py). `jikimi serve
NAME` runs one of them alone, as production does.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from jikimi.settings import Settings, load_settings

MODEL_PATH = Path("models") / "jikimi.tar.gz"

# Quiet, offline-friendly defaults for the processes that import TensorFlow.
PROCESS_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "RASA_TELEMETRY_ENABLED": "false",
    "PYTHONUNBUFFERED": "1",
    # One TensorFlow thread per Rasa process (read by `rasa run`): a reply's
    # DIET inference is too small to gain from more, and idle TensorFlow
    # threads spin, taking CPU from the other processes. Scale with more Rasa
    # processes, one per core (README "Speed").
    "TF_INTRA_OP_PARALLELISM_THREADS": "1",
    "TF_INTER_OP_PARALLELISM_THREADS": "1",
}


def endpoints_config(settings: Settings) -> Dict:
    """Rasa's endpoints (tracker store, lock store, action server) from settings."""
    config: Dict = {
        "action_endpoint": {"url": settings.action_url},
        # Rasa passes the endpoint's `url` to SQLTrackerStore as `host`, which
        # takes a full SQLAlchemy URL there (a `host` key would clash with it).
        # Ours encrypts every event with JIKIMI_SECRET_KEY, read from the
        # settings by the store itself: the key is not written to this file.
        "tracker_store": {
            "type": "bot.tracker_store.EncryptedSQLTrackerStore",
            "url": settings.tracker_store_url,
        },
    }
    if settings.lock_store_url:
        from urllib.parse import urlsplit

        url = urlsplit(settings.lock_store_url)
        if url.scheme not in ("redis", "rediss"):
            raise ValueError("JIKIMI_LOCK_STORE_URL must be a redis:// URL.")
        lock_store = {
            # Rasa's RedisLockStore, with every change to a lock made atomic:
            # the stock one lets two instances serve one conversation at once.
            "type": "bot.lock_store.AtomicRedisLockStore",
            "url": url.hostname or "localhost",
            "port": url.port or 6379,
            "db": int(url.path.lstrip("/") or 0),
            "use_ssl": url.scheme == "rediss",
        }
        # Redis AUTH: JIKIMI_REDIS_PASSWORD (kept out of URLs), else the URL's;
        # an ACL user name from the URL. TLS (rediss://) is verified against
        # JIKIMI_REDIS_CA_CERTS when set, else the system's CAs.
        password = settings.redis_password or url.password
        if url.username:
            lock_store["username"] = url.username
        if password:
            lock_store["password"] = password
        if url.scheme == "rediss" and settings.redis_ca_certs:
            lock_store["ssl_ca_certs"] = settings.redis_ca_certs
        config["lock_store"] = lock_store
    return config


def write_endpoints(settings: Settings) -> Path:
    """Writes var/endpoints-PORT.yml (mode 600: it may hold database passwords)."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    # One file per Rasa port, so a test run never rewrites a running instance's.
    path = settings.var_dir / f"endpoints-{settings.rasa_port}.yml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(endpoints_config(settings), handle, sort_keys=False)
    return path


def limit_request_size(settings: Settings) -> None:
    """Sanic reads SANIC_* settings from the environment when an app is made:
    bodies over JIKIMI_MAX_REQUEST_BYTES get 413 before any handler runs."""
    os.environ["SANIC_REQUEST_MAX_SIZE"] = str(settings.max_request_bytes)


def serve_rasa(settings: Settings, model: Path) -> None:
    """Runs the Rasa server in this process (the token never appears in `ps`).

    Channels come from settings.credentials_path (bot/credentials.yml, or
    bot/credentials-production.yml without REST when JIKIMI_ENV=production);
    browsers may call it only from the widget's origins (JIKIMI_WIDGET_ORIGIN).
    """
    from jikimi import logs

    logs.install()
    os.environ.update(PROCESS_ENV)
    limit_request_size(settings)
    endpoints = write_endpoints(settings)
    # Jikimi's changes to Rasa (the version checked; README "Speed"): bot/install.py.
    from bot import install

    install.install()
    import rasa.__main__

    sys.argv = [
        "rasa",
        "run",
        "--model",
        str(model),
        "--endpoints",
        str(endpoints),
        "--credentials",
        str(settings.credentials_path),
        "--interface",
        settings.host,
        "--port",
        str(settings.rasa_port),
        "--enable-api",
        # "=" form: a urlsafe token may start with "-", which argparse would
        # take for an option.
        f"--auth-token={settings.rasa_token}",
        "--cors",
        *settings.widget_origins,
    ]
    rasa.__main__.main()


def serve_actions(settings: Settings) -> None:
    """Runs the action server (rasa-sdk) for the `actions` package."""
    from jikimi import logs

    logs.configure()
    os.environ["SANIC_HOST"] = settings.host
    from rasa_sdk.endpoint import run

    run("actions", port=settings.action_port)


def serve_desk(settings: Settings) -> None:
    """Runs the desk service."""
    from jikimi import logs

    logs.configure()
    limit_request_size(settings)
    from jikimi.desk.app import create_app

    create_app(settings).run(host=settings.host, port=settings.desk_port, access_log=False)


def run_all(settings: Settings, model: Path) -> int:
    """Starts the three processes, restarts any that exits (jikimi/supervisor.py),
    and stops them all on Ctrl-C."""
    from jikimi.supervisor import ChildSpec, Supervisor

    if not model.exists():
        print(
            f"No trained model at {model}: run `make train` (or `make run`) first.",
            file=sys.stderr,
        )
        return 2
    # One local command runs everything: the schema is brought up to date first
    # (production runs `jikimi db upgrade` as a release step).
    from jikimi.db.migrate import upgrade

    upgrade(settings.database_url)
    env = {**os.environ, **PROCESS_ENV}
    exe = [sys.executable, "-m", "jikimi.cli", "serve"]
    children = [
        ChildSpec(name, exe + args, env=env, cwd=str(settings.root))
        for name, args in (
            ("rasa", ["rasa", "--model", str(model)]),
            ("actions", ["actions"]),
            ("desk", ["desk"]),
        )
    ]
    return Supervisor(children).run()


def purge(settings: Settings, days: Optional[int]) -> int:
    """`jikimi purge`: what retention no longer justifies, counted by kind."""
    from jikimi.retention import purge as purge_all

    days = settings.retention_days if days is None else days
    if days < 0:
        print("jikimi: --older-than must not be negative.", file=sys.stderr)
        return 2
    counts = purge_all(settings, days)
    summary = ", ".join(f"{name} {count}" for name, count in counts.items())
    print(f"Deleted what was finished more than {days} days ago: {summary}.")
    return 0


def reencrypt(settings: Settings) -> int:
    """`jikimi db reencrypt`: the key rotation step (README "Rotating the key")."""
    from bot.tracker_store import reencrypt_trackers
    from jikimi.db import reencrypt_all, session_scope

    with session_scope(settings) as session:
        rows = reencrypt_all(session)
    events = reencrypt_trackers(settings.tracker_store_url, settings.secret_key)
    print(f"Re-encrypted with the first key: {rows} rows, {events} conversation events.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jikimi", description="지킴이 operator tools")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the Rasa server, action server and desk")
    run.add_argument("--model", type=Path, help=f"default: {MODEL_PATH}")

    serve = sub.add_parser("serve", help="run one process in the foreground")
    serve.add_argument("process", choices=["rasa", "actions", "desk"])
    serve.add_argument("--model", type=Path, help=f"default: {MODEL_PATH}")

    sub.add_parser(
        "endpoints", help="write Rasa's endpoints file from the settings and print its path"
    )

    purge = sub.add_parser(
        "purge",
        help="delete closed cases, evidence, SMS and conversations past the retention period",
    )
    purge.add_argument(
        "--older-than",
        type=int,
        metavar="DAYS",
        help="retention in days (default: JIKIMI_RETENTION_DAYS, 90)",
    )

    db = sub.add_parser("db", help="the database of cases, handoffs and the SMS outbox")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="migrate the database to the newest schema")
    db_sub.add_parser(
        "reencrypt",
        help="after a new key was put first in JIKIMI_SECRET_KEY: rewrite every encrypted "
        "value (cases, SMS, conversations) with it",
    )
    # counsellor add|list|disable|enable, dispatch (jikimi/sms_cli.py)
    from jikimi import sms_cli

    sms_cli.add_parsers(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ValueError as error:
        print(f"jikimi: {error}", file=sys.stderr)
        return 2
    model = args.model or settings.root / MODEL_PATH if "model" in args else None
    if args.command == "run":
        return run_all(settings, model)
    if args.command == "serve":
        if args.process == "rasa":
            serve_rasa(settings, model)
        elif args.process == "actions":
            serve_actions(settings)
        else:
            serve_desk(settings)
        return 0
    if args.command == "db" and args.db_command == "reencrypt":
        return reencrypt(settings)
    if args.command == "db":
        from jikimi.db.migrate import upgrade

        upgrade(settings.database_url)
        print("The database schema is up to date.")
        return 0
    if args.command == "purge":
        return purge(settings, args.older_than)
    if args.command == "endpoints":
        print(write_endpoints(settings))
        return 0
    if args.command in ("counsellor", "dispatch"):
        from jikimi import sms_cli

        return sms_cli.run(settings, args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
