"""NLU benchmark: 5-fold cross-validation of our pipeline against stock Rasa.

Prints accuracy, macro-F1, the weakest five intents and platform entity F1
for each pipeline, plus training and parse timings, and writes the figures to
bench-results/nlu.json. Pipelines compared (all from bot/config.yml, without the
FallbackClassifier and the CrisisDetector, so that the classifier itself is
measured; `make bench-safety` measures the detector):

- kiwi:  ours, Kiwi backend (the default)
- okt:   ours, konlpy Okt backend
- stock: Rasa's WhitespaceTokenizer in place of ours, everything else equal
- kiwi-small: ours (Kiwi) with a smaller DIET (one transformer layer of 128
  units instead of two of 256): faster inference, to weigh against accuracy

Usage: make bench-nlu   (or: python scripts/bench_nlu.py --folds 5 --pipelines kiwi okt stock)
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKENIZER = "bot.components.korean_tokenizer.KoreanMorphemeTokenizer"


def pipeline_config(name: str) -> dict:
    import yaml

    config = yaml.safe_load((ROOT / "bot" / "config.yml").read_text())
    config.pop("policies", None)
    skipped = ("FallbackClassifier", "bot.components.crisis_detector.CrisisDetector")
    steps = [s for s in config["pipeline"] if s["name"] not in skipped]
    tokenizer = next(s for s in steps if s["name"] == TOKENIZER)
    if name in ("kiwi", "kiwi-small"):
        tokenizer["backend"] = "kiwi"
        if name == "kiwi-small":
            diet = next(s for s in steps if s["name"] == "DIETClassifier")
            diet.update(number_of_transformer_layers=1, transformer_size=128)
    elif name == "okt":
        tokenizer.update(backend="konlpy", konlpy_tagger="Okt")
    elif name == "stock":
        steps[steps.index(tokenizer)] = {"name": "WhitespaceTokenizer"}
    else:
        raise SystemExit(f"unknown pipeline {name}")
    config["pipeline"] = steps
    return copy.deepcopy(config)


def load_data():
    from rasa.shared.nlu.training_data.loading import load_data as rasa_load

    return rasa_load(str(ROOT / "data" / "nlu_ko"))


async def run_cv(name: str, folds: int, out: Path) -> dict:
    from rasa.nlu.test import cross_validate

    data = load_data()
    started = time.perf_counter()
    intents, entities, _ = await cross_validate(
        data,
        folds,
        pipeline_config(name),
        output=str(out / name),
        disable_plotting=True,
        report_as_dict=True,
    )
    elapsed = time.perf_counter() - started
    report = intents.evaluation["report"]
    per_intent = {
        k: v["f1-score"]
        for k, v in report.items()
        if isinstance(v, dict) and k not in ("macro avg", "weighted avg", "micro avg")
    }
    platform_f1 = None
    for extractor_eval in entities.evaluation.values():
        platform = extractor_eval.get("report", {}).get("platform")
        if platform:
            platform_f1 = platform["f1-score"]
    return {
        "pipeline": name,
        "folds": folds,
        "examples": len(data.intent_examples),
        "accuracy": intents.evaluation["accuracy"],
        "macro_f1": report["macro avg"]["f1-score"],
        "weakest": sorted(per_intent.items(), key=lambda kv: kv[1])[:5],
        "per_intent_f1": per_intent,
        "platform_f1": platform_f1,
        "cv_seconds": round(elapsed, 1),
    }


async def timings(name: str, out: Path) -> dict:
    """Trains once on all data; measures train time, model load and parse latency."""
    import rasa.model_training
    from rasa.core.agent import Agent
    from rasa.shared.utils.io import write_yaml

    config_path = out / f"{name}-config.yml"
    write_yaml(pipeline_config(name), config_path)
    started = time.perf_counter()
    model = rasa.model_training.train_nlu(
        str(config_path), str(ROOT / "data" / "nlu_ko"), str(out), fixed_model_name=name
    )
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    agent = Agent.load(model)
    load_s = time.perf_counter() - started
    texts = [e.get("text") for e in load_data().intent_examples][:300]
    for text in texts[:20]:  # warm-up
        await agent.parse_message(text)
    latencies = []
    for text in texts:
        t0 = time.perf_counter()
        await agent.parse_message(text)
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    return {
        "train_nlu_seconds": round(train_s, 1),
        "model_load_seconds": round(load_s, 1),
        "parse_ms_p50": round(statistics.median(latencies), 1),
        "parse_ms_p95": round(latencies[int(len(latencies) * 0.95) - 1], 1),
    }


def fmt(value, digits=3):
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(results: list) -> None:
    names = [r["pipeline"] for r in results]
    rows = [
        ("intent accuracy", [fmt(r["accuracy"]) for r in results]),
        ("intent macro-F1", [fmt(r["macro_f1"]) for r in results]),
        ("platform entity F1", [fmt(r["platform_f1"]) for r in results]),
        ("crisis F1", [fmt(r["per_intent_f1"].get("crisis")) for r in results]),
        ("train (rasa train nlu), s", [fmt(r.get("train_nlu_seconds"), 1) for r in results]),
        ("model load, s", [fmt(r.get("model_load_seconds"), 1) for r in results]),
        ("parse p50 / p95, ms", [
            f"{fmt(r.get('parse_ms_p50'), 1)} / {fmt(r.get('parse_ms_p95'), 1)}"
            for r in results
        ]),
        ("5-fold CV wall time, s", [fmt(r["cv_seconds"], 0) for r in results]),
    ]
    width = 26
    print()
    print("| " + " | ".join(["metric".ljust(width)] + names) + " |")
    print("|" + "---|" * (len(names) + 1))
    for label, values in rows:
        print("| " + " | ".join([label.ljust(width)] + values) + " |")
    for r in results:
        weakest = ", ".join(f"{k} {v:.2f}" for k, v in r["weakest"])
        print(f"\nweakest five intents ({r['pipeline']}): {weakest}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--pipelines", nargs="+", default=["kiwi", "okt", "stock"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.pipelines:
            print(f"== {name}: {args.folds}-fold cross-validation ...", flush=True)
            result = asyncio.run(run_cv(name, args.folds, Path(tmp)))
            result.update(asyncio.run(timings(name, Path(tmp))))
            results.append(result)
            print(json.dumps({k: v for k, v in result.items() if k != "per_intent_f1"},
                             ensure_ascii=False), flush=True)
    (args.out / "nlu.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
