"""Shared fixtures: paths, the trained model, and quiet TensorFlow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "jikimi.tar.gz"
DATA = ROOT / "tests" / "data"
# ../shared (the team's shared documents) may be missing from a clone: tests read
# their copies in tests/data; test_wording.py checks the copies while it exists.
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def model_path() -> Path:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run the tests with `make test`, which trains it.")
    return MODEL


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The whole assistant running (`jikimi run` on free ports, a fake Twilio),
    once per session: the end-to-end tests and the conversation scenarios share it."""
    from tests.support.stack import running_stack

    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="session")
def agent(model_path):
    """The trained assistant, loaded once for in-process conversation tests."""
    from rasa.core.agent import Agent

    return Agent.load(str(model_path))
