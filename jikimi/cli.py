"""The `jikimi` command: run the assistant's processes and operate it.

`jikimi run` is what `make run` starts: the Rasa server, the action server and
the desk service as children, all stopped together on Ctrl-C. `jikimi serve
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
}


def endpoints_config(settings: Settings) -> Dict:
    """Rasa's endpoints (tracker store, lock store, action server) from settings."""
    config: Dict = {
        "action_endpoint": {"url": settings.action_url},
        # Rasa passes the endpoint's `url` to SQLTrackerStore as `host`, which
        # takes a full SQLAlchemy URL there (a `host` key would clash with it).
        "tracker_store": {"type": "SQL", "url": settings.tracker_store_url},
    }
    if settings.lock_store_url:
        from urllib.parse import urlsplit

        url = urlsplit(settings.lock_store_url)
        if url.scheme not in ("redis", "rediss"):
            raise ValueError("JIKIMI_LOCK_STORE_URL must be a redis:// URL.")
        lock_store = {
            "type": "redis",
            "url": url.hostname or "localhost",
            "port": url.port or 6379,
            "db": int(url.path.lstrip("/") or 0),
            "use_ssl": url.scheme == "rediss",
        }
        if url.password:
            lock_store["password"] = url.password
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


def serve_rasa(settings: Settings, model: Path) -> None:
    """Runs the Rasa server in this process (the token never appears in `ps`)."""
    os.environ.update(PROCESS_ENV)
    endpoints = write_endpoints(settings)
    import rasa.__main__

    sys.argv = [
        "rasa",
        "run",
        "--model",
        str(model),
        "--endpoints",
        str(endpoints),
        "--credentials",
        str(settings.root / "bot" / "credentials.yml"),
        "--interface",
        settings.host,
        "--port",
        str(settings.rasa_port),
        "--enable-api",
        # "=" form: a urlsafe token may start with "-", which argparse would
        # take for an option.
        f"--auth-token={settings.rasa_token}",
        "--cors",
        "*",
    ]
    rasa.__main__.main()


def serve_actions(settings: Settings) -> None:
    """Runs the action server (rasa-sdk) for the `actions` package."""
    os.environ["SANIC_HOST"] = settings.host
    from rasa_sdk.endpoint import run

    run("actions", port=settings.action_port)


def serve_desk(settings: Settings) -> None:
    """Runs the desk service."""
    from jikimi.desk.app import create_app

    create_app(settings).run(
        host=settings.host, port=settings.desk_port, access_log=False
    )


def run_all(settings: Settings, model: Path) -> int:
    """Starts the three processes and stops them all when one stops or on Ctrl-C."""
    from honcho.manager import Manager

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
    manager = Manager()
    env = {**os.environ, **PROCESS_ENV}
    exe = [sys.executable, "-m", "jikimi.cli", "serve"]
    for name, args in (
        ("rasa", ["rasa", "--model", str(model)]),
        ("actions", ["actions"]),
        ("desk", ["desk"]),
    ):
        manager.add_process(name, _shell_join(exe + args), env=env, cwd=str(settings.root))
    manager.loop()
    return manager.returncode or 0


def _shell_join(parts: List[str]) -> str:
    import shlex

    return " ".join(shlex.quote(p) for p in parts)


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

    db = sub.add_parser("db", help="the database of cases, handoffs and the SMS outbox")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="migrate the database to the newest schema")
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
    if args.command == "db":
        from jikimi.db.migrate import upgrade

        upgrade(settings.database_url)
        print("The database schema is up to date.")
        return 0
    if args.command == "endpoints":
        print(write_endpoints(settings))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
