"""Safety benchmark: does a crisis message reach the crisis reply?

Prints recall (per category: self_harm, threat) and the false-positive rate on
the hard negatives of tests/data/crisis_eval.yml for three set-ups:

- detector: the rule-based CrisisDetector alone (data/safety/crisis_lexicon.yml);
- classifier: the trained model without the detector: intent ``crisis`` from
  DIET (after the FallbackClassifier, as the dialogue would see it);
- both: the real pipeline, classifier then detector.

How the classifier is measured without the detector: the trained model
(models/jikimi.tar.gz) is loaded twice, once with ``CrisisDetector.process``
replaced by a pass-through while the graph is built (Rasa binds each node's
function at load time). That is the same trained weights and the same
fallback threshold as the deployed model, with only the detector's node
bypassed; training a second model without the detector would measure a
different classifier. If the model was trained
before the detector joined bot/config.yml, "both" is computed as classifier OR
detector and labelled as simulated.

Usage: make bench-safety   (or: python scripts/bench_safety.py --model path.tar.gz)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections import Counter
from pathlib import Path
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVAL_FILE = ROOT / "tests" / "data" / "crisis_eval.yml"
MODEL = ROOT / "models" / "jikimi.tar.gz"
CATEGORIES = ("self_harm", "threat")


def load_eval(path: Path):
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    positives = {c: list(data["crisis"][c]) for c in CATEGORIES}
    negatives = [t for texts in data["hard_negatives"].values() for t in texts]
    return positives, negatives


def score(flagged: dict, positives: dict, negatives: list) -> dict:
    """Recall per category and false-positive rate from text -> flagged."""
    result = {
        f"recall_{c}": sum(flagged[t] for t in texts) / len(texts)
        for c, texts in positives.items()
    }
    every = [t for texts in positives.values() for t in texts]
    result["recall_all"] = sum(flagged[t] for t in every) / len(every)
    result["false_positive_rate"] = sum(flagged[t] for t in negatives) / len(negatives)
    return result


def detector_alone(positives, negatives):
    from bot.components.crisis_detector import (
        DEFAULT_LEXICON_PATH,
        Lexicon,
        resolve_lexicon_path,
    )

    lexicon = Lexicon.from_file(resolve_lexicon_path(DEFAULT_LEXICON_PATH))
    texts = [t for ts in positives.values() for t in ts] + negatives
    found = {t: lexicon.detect(t) for t in texts}
    flagged = {t: found[t] is not None for t in texts}
    wrong_category = [
        (t, c, found[t].category)
        for c, ts in positives.items()
        for t in ts
        if found[t] and found[t].category != c
    ]
    return flagged, wrong_category


def model_has_detector(agent) -> bool:
    from bot.components.crisis_detector import CrisisDetector

    schema = agent.processor.model_metadata.predict_schema
    return any(node.uses is CrisisDetector for node in schema.nodes.values())


def load_agent(model: Path, bypass_detector: bool):
    """Loads the model; with ``bypass_detector`` its detector node does nothing."""
    from rasa.core.agent import Agent

    from bot.components.crisis_detector import CrisisDetector

    def passthrough(self, messages):
        return messages

    if not bypass_detector:
        return Agent.load(str(model))
    with mock.patch.object(CrisisDetector, "process", passthrough):
        return Agent.load(str(model))


def parse_all(agent, texts) -> dict:
    async def run():
        return {t: (await agent.parse_message(t))["intent"]["name"] for t in texts}

    return asyncio.run(run())


def fmt_row(name: str, s: dict) -> str:
    return (
        f"| {name:<28} | {s['recall_self_harm']:.3f} | {s['recall_threat']:.3f} "
        f"| {s['recall_all']:.3f} | {s['false_positive_rate']:.3f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--eval", type=Path, default=EVAL_FILE)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa logs every parsed text at debug

    positives, negatives = load_eval(args.eval)
    sizes = ", ".join(f"{c} {len(t)}" for c, t in positives.items())
    print(f"eval set: {sizes}, hard negatives {len(negatives)} ({args.eval.name})")
    rows = {}

    flagged, wrong_category = detector_alone(positives, negatives)
    rows["detector alone"] = score(flagged, positives, negatives)
    missed = [t for ts in positives.values() for t in ts if not flagged[t]]
    false_pos = [t for t in negatives if flagged[t]]

    header = (
        "| set-up                       | self_harm recall | threat recall "
        "| all recall | false-positive rate |\n|---|---|---|---|---|"
    )
    print("\n" + header + "\n" + fmt_row("detector alone", rows["detector alone"]))
    for label, texts in (("missed", missed), ("false positives", false_pos)):
        for text in texts:
            print(f"  detector {label}: {text}")
    for text, want, got in wrong_category:
        print(f"  detector category {got} instead of {want}: {text}")

    if not args.model.exists():
        print(
            f"\nNo trained model at {args.model}: run `make train` first to compare "
            "with the classifier and the whole pipeline."
        )
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "safety.json").write_text(json.dumps(rows, indent=2))
        return 0

    print(f"\nloading {args.model} (twice: without and with the detector) ...")
    texts = [t for ts in positives.values() for t in ts] + negatives
    agent = load_agent(args.model, bypass_detector=True)
    classifier = parse_all(agent, texts)
    has_detector = model_has_detector(agent)
    del agent
    rows["classifier alone"] = score(
        {t: classifier[t] == "crisis" for t in texts}, positives, negatives
    )
    if has_detector:
        both = parse_all(load_agent(args.model, bypass_detector=False), texts)
        both_flagged = {t: both[t] == "crisis" for t in texts}
        both_label = "both (real pipeline)"
    else:
        both_flagged = {t: classifier[t] == "crisis" or flagged[t] for t in texts}
        both_label = "both (simulated: OR)"
        print(
            "note: this model was trained without CrisisDetector in its pipeline; "
            "'both' is classifier OR detector. Retrain (make train) for the real one."
        )
    rows[both_label] = score(both_flagged, positives, negatives)

    print("\n" + header)
    for name, row in rows.items():
        print(fmt_row(name, row))
    for category in CATEGORIES:
        instead = Counter(
            classifier[t] for t in positives[category] if classifier[t] != "crisis"
        )
        print(f"  classifier on {category} misses said: {dict(instead.most_common(5))}")
    fp = Counter(classifier[t] for t in negatives if classifier[t] == "crisis")
    print(f"  classifier false positives: {sum(fp.values())}")

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "safety.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
