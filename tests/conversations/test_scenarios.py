"""Every conversation scenario of tests/conversations/*.yml, through the real
stack (tests/conftest.py `stack`): one test per scenario, played side by side
once per session (runner.run_all)."""

from __future__ import annotations

import pytest

from tests.support import scenario_runner as runner

pytestmark = pytest.mark.slow

SCENARIOS = runner.load()


def test_there_are_enough_scenarios_in_every_group():
    groups = {s.group for s in SCENARIOS}
    assert len(SCENARIOS) >= 80
    assert {"crisis", "report_form", "confirmations", "sms"} <= groups


@pytest.fixture(scope="module")
def results(stack):
    return {r.scenario.id: r for r in runner.run_all(stack, SCENARIOS)}


def _case(scenario):
    if not scenario.known_failure:
        return scenario
    mark = pytest.mark.xfail(strict=True, reason=f"known failure: {scenario.known_failure}")
    return pytest.param(scenario, marks=mark)


@pytest.mark.parametrize("scenario", [_case(s) for s in SCENARIOS], ids=[s.id for s in SCENARIOS])
def test_scenario(results, scenario):
    result = results[scenario.id]
    assert result.passed, result.report()
