"""Safety benchmark: does a crisis message reach the crisis reply?

Prints recall (per category: self_harm, threat) and the false-positive rate on
the hard negatives of tests/data/crisis_eval.yml for three set-ups:

- detector: the rule-based CrisisDetector alone (data/safety/crisis_lexicon.yml);
- classifier: the trained model without the detector: intent ``crisis`` from
  DIET (after the FallbackClassifier, as the dialogue would see it);
- both: the real pipeline, classifier then detector.

It also prints the classifier's intent accuracy and nlu_fallback rate on the
held-out NLU set (tests/data/nlu_heldout.yml), so a change that lowers false
positives is seen not to cost the other intents.

Which model: ``--model PATH`` measures that model. Otherwise the script uses
models/jikimi.tar.gz when it is newer than everything the NLU is trained from
(bot/config.yml, data/nlu_ko/, bot/components/), and else trains an NLU-only
model from the current data into a temporary directory, with its own Rasa
cache there, and deletes both at the end: one training (a few minutes, about
2 GB of memory), nothing left behind, models/ never touched. ``--train``
forces that training.

How the classifier is measured without the detector: the model is loaded
twice, once with ``CrisisDetector.process`` replaced by a pass-through while
the graph is built (Rasa binds each node's function at load time). That is the
same trained weights and the same fallback threshold as the deployed model,
with only the detector's node bypassed; training a second model without the
detector would measure a different classifier. If the model was trained before
the detector joined bot/config.yml, "both" is computed as classifier OR
detector and labelled as simulated.

Usage: make bench-safety   (or: python scripts/bench_safety.py [--model path.tar.gz | --train])
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVAL_FILE = ROOT / "tests" / "data" / "crisis_eval.yml"
HELDOUT = ROOT / "tests" / "data" / "nlu_heldout.yml"
MODEL = ROOT / "models" / "jikimi.tar.gz"
CATEGORIES = ("medical", "self_harm", "threat")


NLU_INPUTS = [ROOT / "bot" / "config.yml", ROOT / "data" / "nlu_ko", ROOT / "bot" / "components"]


def newest_input_mtime() -> float:
    paths = []
    for path in NLU_INPUTS:
        paths += [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    return max(p.stat().st_mtime for p in paths)


def train_nlu_model(out: Path) -> Path:
    """An NLU-only model of the current data in `out` (Rasa's cache there too)."""
    os.environ["RASA_CACHE_DIRECTORY"] = str(out / "cache")
    from rasa.model_training import train_nlu

    started = time.perf_counter()
    model = train_nlu(
        str(ROOT / "bot" / "config.yml"),
        str(ROOT / "data" / "nlu_ko"),
        str(out),
        fixed_model_name="bench-safety",
        domain=str(ROOT / "bot" / "domain"),
    )
    if model is None:
        raise SystemExit("training failed (see above)")
    print(f"trained an NLU model of the current data in {time.perf_counter() - started:.0f}s")
    return Path(model)


def load_heldout():
    """(text, intent) of the held-out NLU set, never trained on."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(HELDOUT))
    return [(e.get("text"), e.get("intent")) for e in data.intent_examples]


def load_eval(path: Path):
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    positives = {c: list(data["crisis"][c]) for c in CATEGORIES}
    negatives = [t for texts in data["hard_negatives"].values() for t in texts]
    return positives, negatives


def score(flagged: dict, positives: dict, negatives: list) -> dict:
    """Recall per category and false-positive rate from text -> flagged."""
    result = {
        f"recall_{c}": sum(flagged[t] for t in texts) / len(texts) for c, texts in positives.items()
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


def parse_all(agent, texts, full: bool = False) -> dict:
    """text -> predicted intent name (or, with `full`, Rasa's whole parse)."""

    async def run():
        results = {t: await agent.parse_message(t) for t in texts}
        return results if full else {t: r["intent"]["name"] for t, r in results.items()}

    return asyncio.run(run())


def with_threshold(parse: dict, threshold: float, ambiguity: float) -> str:
    """The intent the FallbackClassifier would give at another threshold, from
    DIET's ranking (Rasa keeps it in intent_ranking after nlu_fallback)."""
    ranking = [r for r in parse.get("intent_ranking") or [] if r["name"] != "nlu_fallback"]
    if not ranking:
        return parse["intent"]["name"]
    top = ranking[0]["confidence"]
    second = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
    if top < threshold or top - second < ambiguity:
        return "nlu_fallback"
    return ranking[0]["name"]


def fallback_sweep(parses: dict, positives, negatives, heldout, ambiguity: float) -> dict:
    """Classifier figures at other FallbackClassifier thresholds, from one model."""
    every = [t for ts in positives.values() for t in ts]
    sweep = {}
    print(
        "\n  classifier at other fallback thresholds (ambiguity "
        f"{ambiguity}): threshold | crisis recall | crisis FPR | held-out accuracy "
        "| held-out fallback | hard-negative fallback"
    )
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        said = {t: with_threshold(parses[t], threshold, ambiguity) for t in parses}
        row = {
            "crisis_recall": sum(said[t] == "crisis" for t in every) / len(every),
            "crisis_fpr": sum(said[t] == "crisis" for t in negatives) / len(negatives),
            "heldout_accuracy": sum(said[t] == i for t, i in heldout) / len(heldout),
            "heldout_fallback": sum(said[t] == "nlu_fallback" for t, _ in heldout) / len(heldout),
            "negatives_fallback": sum(said[t] == "nlu_fallback" for t in negatives)
            / len(negatives),
        }
        sweep[str(threshold)] = row
        print("    " + " | ".join([f"{threshold:.1f}"] + [f"{v:.3f}" for v in row.values()]))
    return sweep


def fallback_settings() -> tuple:
    import yaml

    config = yaml.safe_load((ROOT / "bot" / "config.yml").read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"] == "FallbackClassifier":
            return component.get("threshold", 0.3), component.get("ambiguity_threshold", 0.1)
    return 0.0, 0.0


HEADER = (
    "| set-up                       | self_harm recall | threat recall "
    "| all recall | false-positive rate |\n|---|---|---|---|---|"
)


def fmt_row(name: str, s: dict) -> str:
    return (
        f"| {name:<28} | {s['recall_self_harm']:.3f} | {s['recall_threat']:.3f} "
        f"| {s['recall_all']:.3f} | {s['false_positive_rate']:.3f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="measure this model (no training)")
    parser.add_argument(
        "--train", action="store_true", help="train the current data even if models/ is fresh"
    )
    parser.add_argument("--keep-model", type=Path, help="copy a model trained here to PATH")
    parser.add_argument("--eval", type=Path, default=EVAL_FILE)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    args = parser.parse_args()
    # A stopped benchmark still removes its temporary model and cache.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
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

    print("\n" + HEADER + "\n" + fmt_row("detector alone", rows["detector alone"]))
    for label, texts in (("missed", missed), ("false positives", false_pos)):
        for text in texts:
            print(f"  detector {label}: {text}")
    for text, want, got in wrong_category:
        print(f"  detector category {got} instead of {want}: {text}")

    with tempfile.TemporaryDirectory(prefix="jikimi-bench-safety-") as tmp:
        if args.model is not None:
            model = args.model
        elif not args.train and MODEL.exists() and MODEL.stat().st_mtime >= newest_input_mtime():
            model = MODEL
        else:
            print(f"\n{MODEL} is missing or older than the NLU data: training one in {tmp}")
            model = train_nlu_model(Path(tmp))
            if args.keep_model:
                shutil.copyfile(model, args.keep_model)
        measure_models(model, rows, flagged, positives, negatives)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "safety.json").write_text(json.dumps(rows, indent=2))
    return 0


def measure_models(model: Path, rows: dict, flagged: dict, positives, negatives) -> None:
    """Adds the classifier and both-together rows, and prints the table."""
    print(f"\nloading {model} (twice: without and with the detector) ...")
    texts = [t for ts in positives.values() for t in ts] + negatives
    heldout = load_heldout()
    agent = load_agent(model, bypass_detector=True)
    parses = parse_all(agent, texts + [t for t, _ in heldout], full=True)
    classifier = {t: p["intent"]["name"] for t, p in parses.items()}
    has_detector = model_has_detector(agent)
    del agent
    rows["classifier alone"] = score(
        {t: classifier[t] == "crisis" for t in texts}, positives, negatives
    )
    if has_detector:
        both = parse_all(load_agent(model, bypass_detector=False), texts)
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

    print("\n" + HEADER)
    for name, row in rows.items():
        print(fmt_row(name, row))
    for category in CATEGORIES:
        instead = Counter(classifier[t] for t in positives[category] if classifier[t] != "crisis")
        print(f"  classifier on {category} misses said: {dict(instead.most_common(5))}")
    false_positives = [t for t in negatives if classifier[t] == "crisis"]
    print(f"  classifier false positives: {len(false_positives)}")
    for text in false_positives:
        print(f"    {text}")
    said = Counter(classifier[t] for t in negatives)
    print(f"  classifier on hard negatives said: {dict(said.most_common())}")
    right = sum(classifier[t] == intent for t, intent in heldout)
    fallback = sum(classifier[t] == "nlu_fallback" for t, _ in heldout)
    rows["held-out NLU"] = {
        "accuracy": right / len(heldout),
        "fallback_rate": fallback / len(heldout),
        "fallback_rate_hard_negatives": said["nlu_fallback"] / len(negatives),
    }
    print(
        f"  held-out NLU set ({HELDOUT.name}, {len(heldout)} examples): intent accuracy "
        f"{right / len(heldout):.3f}, nlu_fallback {fallback / len(heldout):.3f}; "
        f"nlu_fallback on the hard negatives {said['nlu_fallback'] / len(negatives):.3f}"
    )
    threshold, ambiguity = fallback_settings()
    print(f"  bot/config.yml: FallbackClassifier threshold {threshold}, ambiguity {ambiguity}")
    rows["fallback sweep"] = fallback_sweep(parses, positives, negatives, heldout, ambiguity)


if __name__ == "__main__":
    sys.exit(main())
