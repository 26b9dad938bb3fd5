"""Rasa's own checks: the data validates, and the test stories hold on the trained model."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bot.policies.context import CONTEXT_ONLY
from jikimi.settings import ROOT

pytestmark = pytest.mark.slow

RASA = [sys.executable, "-m", "rasa"]

# Used by Rasa itself (action_default_fallback), which the validator cannot
# see, and replies only the context policy chooses (bot/policies/context.py).
USED_IMPLICITLY = {"utter_default", *CONTEXT_ONLY}
# Button and widget payloads and the desk's external events: never predicted
# from text, so they have no NLU examples (README "Intents beyond the NLU contract").
PAYLOAD_ONLY = {
    "start_report", "add_evidence", "just_talk", "show_sources",
    "EXTERNAL_handoff_accepted", "EXTERNAL_handoff_escalated",
    "EXTERNAL_handoff_unavailable", "EXTERNAL_counsellor_message", "EXTERNAL_handoff_closed",
}  # fmt: skip


def test_rasa_data_validate_is_clean():
    result = subprocess.run(
        RASA
        + [
            "data",
            "validate",
            "--domain",
            "bot/domain",
            "--config",
            "bot/config.yml",
            "--data",
            "data/nlu_ko",
            "bot/rules",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    warnings = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "UserWarning" in line and "rasa/shared/utils/io.py" in line
    ]
    unexplained = [
        w
        for w in warnings
        if not any(f"'{name}' is not used" in w for name in USED_IMPLICITLY)
        and not any(
            f"intent '{name}' is listed in the domain file, but is not found" in w
            for name in PAYLOAD_ONLY
        )
    ]
    assert unexplained == []


def test_stories_hold_on_the_trained_model(model_path, tmp_path):
    result = subprocess.run(
        RASA
        + [
            "test",
            "core",
            "--model",
            str(model_path),
            "--stories",
            "tests/stories",
            "--fail-on-prediction-errors",
            "--out",
            str(tmp_path),
            "--no-plot",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    failed = tmp_path / "failed_test_stories.yml"
    detail = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, detail + result.stdout[-3000:] + result.stderr[-3000:]
    # Every story in tests/stories/ was evaluated, and every one held.
    import yaml

    stories = sum(
        len(yaml.safe_load(path.read_text())["stories"])
        for path in (ROOT / "tests" / "stories").glob("*.yml")
    )
    log = result.stdout + result.stderr
    assert f"Evaluating {stories} stories" in log
    assert re.search(rf"Correct:\s+{stories} / {stories}", log), log[-3000:]


def test_no_response_is_chosen_at_random():
    # Rasa picks at random among a response's versions without a condition; a
    # reply in two bubbles is two responses, planned one after the other.
    import yaml

    responses = {
        f"{path.name}: {name}": versions
        for path in sorted((ROOT / "bot" / "domain").glob("*.yml"))
        for name, versions in (
            yaml.safe_load(path.read_text("utf-8")).get("responses") or {}
        ).items()
    }
    random = [
        where
        for where, versions in responses.items()
        if sum(not version.get("condition") for version in versions) > 1
    ]
    assert random == []
