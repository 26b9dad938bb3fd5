"""bot/speedups.py changes how fast Rasa works, never what it does.

Each replacement is compared with Rasa's own function on the same input. The
replacements are called directly and Rasa's own are found with `inspect.unwrap`
(another test may have installed the speed-ups in this process: building a
channel's blueprint does); the model load runs in a fresh process with and
without `install()`, as `jikimi serve rasa` does.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

from bot import speedups

ACTION = RemoteAction("action_lesson", None)
STOCK_VALIDATE = inspect.unwrap(RemoteAction._validate_action_result)
STOCK_RESOLVE = inspect.unwrap(Event.resolve_by_type)

GOOD_RESPONSES = [
    {"events": [], "responses": []},
    {
        "events": [
            {"event": "slot", "name": "platform", "value": "telegram", "timestamp": None},
            {"event": "active_loop", "name": None},
            {"event": "followup", "name": "action_clarify"},
        ],
        "responses": [{"text": "안녕하세요", "buttons": [{"title": "더", "payload": "/affirm"}]}],
    },
]
BAD_RESPONSES = [
    {"events": [{"event": "slot", "name": 5}]},
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": [1, 2]},
]


def stock_error(response):
    with pytest.raises(ValidationError) as stock:
        STOCK_VALIDATE(ACTION, response)
    return stock.value


@pytest.mark.parametrize("response", GOOD_RESPONSES)
def test_good_action_answers_pass_as_before(response):
    assert STOCK_VALIDATE(ACTION, response) is True
    assert speedups.validate_action_result(ACTION, response) is True


@pytest.mark.parametrize("response", BAD_RESPONSES)
def test_bad_action_answers_fail_with_the_same_error(response):
    expected = stock_error(response)
    with pytest.raises(ValidationError) as ours:
        speedups.validate_action_result(ACTION, response)
    assert ours.value.message == expected.message
    assert list(ours.value.path) == list(expected.path)


def test_event_classes_are_found_as_before():
    resolve = speedups.remembering_resolve_by_type(STOCK_RESOLVE).__func__
    names = {cls.type_name for cls in all_subclasses(Event)}
    assert len(names) > 20
    for _ in range(2):  # found, then remembered
        for name in names:
            assert resolve(name) is STOCK_RESOLVE(name), name
    assert resolve("topic") is None
    assert resolve("no_such_event", default=Event) is Event
    with pytest.raises(ValueError, match="Unknown event name"):
        resolve("no_such_event")


LOAD_AND_PARSE = """
import asyncio, json, sys
if sys.argv[1] == "speedups":
    from bot import speedups
    speedups.install()
from rasa.core.agent import Agent
agent = Agent.load(sys.argv[2])
texts = json.loads(sys.argv[3])
out = []
for text in texts:
    parsed = asyncio.run(agent.parse_message(text))
    out.append({
        "intent": parsed["intent"]["name"],
        "ranking": [[i["name"], i["confidence"]] for i in parsed["intent_ranking"]],
        "entities": [[e["entity"], e["start"], e["end"], e["value"]] for e in parsed["entities"]],
    })
print("RESULT " + json.dumps(out, ensure_ascii=False))
"""


def parse_in_fresh_process(mode: str, model_path, texts):
    from tests.conftest import ROOT

    done = subprocess.run(
        [sys.executable, "-c", LOAD_AND_PARSE, mode, str(model_path), json.dumps(texts)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


@pytest.mark.slow
def test_a_model_loaded_with_the_eager_build_step_predicts_the_same(model_path):
    import yaml

    from tests.conftest import ROOT

    heldout = yaml.safe_load((ROOT / "tests" / "data" / "nlu_heldout.yml").read_text())
    texts = [
        line.strip()[2:]
        for block in heldout["nlu"]
        for line in block["examples"].splitlines()[:3]
        if line.strip().startswith("- ")
    ]
    texts += ["텔레그램 방에 제 사진이 올라왔어요", "반 단톡방에서 돌고 있어요"]
    stock = parse_in_fresh_process("stock", model_path, texts)
    ours = parse_in_fresh_process("speedups", model_path, texts)
    assert len(ours) == len(texts)
    for text, a, b in zip(texts, stock, ours, strict=True):
        assert a["intent"] == b["intent"], text
        assert a["entities"] == b["entities"], text
        for (name_a, conf_a), (name_b, conf_b) in zip(a["ranking"], b["ranking"], strict=True):
            assert name_a == name_b and conf_a == pytest.approx(conf_b, abs=1e-5), text
