"""NLU benchmark: our pipeline beside today's and two whitespace baselines.

Every pipeline is trained on the same data (data/nlu_ko/) and measured the same
way, without the FallbackClassifier and the CrisisDetector, so that the
classifier itself is measured (`make bench-nlu`; `make bench-safety` measures
the detector):

- final:     the pipeline of bot/config.yml
- today:     the pipeline as it was before issue 14 (Kiwi morphemes, character
             n-grams inside each morpheme, DIET with its own entity model)
- stock:     today's with Rasa's stock WhitespaceTokenizer, which in 3.6 drops
             every Hangul word (what is left: character n-grams over the message)
- ws-hangul: today's with a whitespace tokenizer that keeps Hangul (eojeol tokens)

For each: k-fold cross-validation of the training data (stratified by intent,
the same folds for every pipeline), then one training on all of it, measured on
the three held-out sets (tests/data/nlu_heldout.yml, nlu_heldout_fresh.yml and
nlu_heldout_third.yml, never trained on). Printed: intent accuracy and macro-F1,
the share of wrong answers at or above the fallback threshold (0.5: the bot
answers them instead of asking again), expected calibration error (10 bins of
top confidence), platform entity F1 over (message, value) pairs, overall and by
kind of spelling (Korean name, Latin script, abbreviation, slang or misspelling,
generic description; kinds from bot/components/platforms.py), parse p50/p95 in
process (the fresh set, one message at a time) and training and load times.
Figures also go to bench-results/nlu.json, predictions to
bench-results/nlu-<pipeline>-<set>.jsonl.

A DIET pipeline takes hours to cross-validate on 2 cores, so each pipeline's
result is kept in bench/nlu/<pipeline>.result.json (committed: the figures
of record behind the README), and each cross-validation fold's predictions in
bench/nlu/<pipeline>.fold<i>of<k>.json as soon as the fold is done (and the
held-out figures of the training on all data in <pipeline>.all.json, its model
under bench-results/models/), with a
fingerprint of what decides it: the pipeline's steps, the number of folds, the
training data, the three held-out sets, the code of the components it uses and the
Rasa version. A later run reuses a result or a fold whose fingerprint matches
(and says so: a result's parse times were measured in its own run), so a run
cut short resumes where it stopped; --no-reuse trains everything again.
So the table is always like for like: same data, same sets, same folds.
The folds and the training on all data are separate processes, --jobs at a
time, so that one pipeline's folds train side by side.

Usage: make bench-nlu   (3-fold, four pipelines, two at a time: hours on 2 cores)
       python scripts/bench_nlu.py --folds 5 --jobs 4 --pipelines final today stock ws-hangul
       python scripts/bench_nlu.py --folds 0 --pipeline-config try=/tmp/config.yml --pipelines try
       python scripts/bench_nlu.py --measure --pipelines today   (a kept model's parse times,
           measured with nothing else running, kept in its all.json: a later run on a machine
           without the model reuses them)
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

THRESHOLD = 0.5  # the FallbackClassifier's, bot/config.yml
SKIPPED = ("FallbackClassifier", "bot.components.crisis_detector.CrisisDetector")
HELDOUT = {
    "old": ROOT / "tests" / "data" / "nlu_heldout.yml",
    "fresh": ROOT / "tests" / "data" / "nlu_heldout_fresh.yml",
    "third": ROOT / "tests" / "data" / "nlu_heldout_third.yml",
}
LABELS = {"old": "held-out", "fresh": "fresh held-out", "third": "third held-out"}
KINDS = ("korean", "latin", "abbreviated", "slang", "generic")

# The pipeline of bot/config.yml before issue 14 (commit 569cc52), without the
# fallback and the crisis detector: the "today" of the comparison.
TODAY = [
    {
        "name": "bot.components.korean_tokenizer.KoreanMorphemeTokenizer",
        "backend": "kiwi",
        "user_words": [
            "단톡",
            "오픈채팅",
            "오챗",
            "에타",
            "텔방",
            "딥페",
            "딥페방",
            "겹지인방",
            "능욕방",
            "지인능욕",
        ],
    },
    {"name": "RegexFeaturizer", "use_word_boundaries": False, "case_sensitive": False},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True, "random_seed": 42},
    {"name": "EntitySynonymMapper"},
]
TOKENIZERS = {
    "stock": {"name": "WhitespaceTokenizer"},
    "ws-hangul": {"name": "bot.components.whitespace_tokenizer.HangulWhitespaceTokenizer"},
}
# Not in the default run: today's pipeline with the konlpy (Okt) backend, the
# comparison that made Kiwi the default (README "The Korean tokenizer").
OKT = {
    "name": "bot.components.korean_tokenizer.KoreanMorphemeTokenizer",
    "backend": "konlpy",
    "konlpy_tagger": "Okt",
}


def pipeline_steps(name: str, extra: Dict[str, Path]) -> List[dict]:
    import yaml

    if name == "final" or name in extra:
        path = extra.get(name, ROOT / "bot" / "config.yml")
        steps = yaml.safe_load(path.read_text())["pipeline"]
        return [copy.deepcopy(s) for s in steps if s["name"] not in SKIPPED]
    if name == "today":
        return copy.deepcopy(TODAY)
    if name in TOKENIZERS or name == "today-okt":
        steps = copy.deepcopy(TODAY)
        steps[0] = dict(TOKENIZERS.get(name, OKT))
        return steps
    raise SystemExit(f"unknown pipeline {name}")


def write_config(steps: List[dict], path: Path) -> None:
    from rasa.shared.utils.io import write_yaml

    write_yaml(
        {
            "recipe": "default.v1",
            "language": "ko",
            "assistant_id": "bench",
            "pipeline": steps,
            "policies": [],
        },
        path,
    )


# --- reuse -----------------------------------------------------------------------


def fingerprint(steps: List[dict], data_path: Path, folds: int) -> str:
    """What decides a pipeline's figures: see the module docstring."""
    import rasa

    digest = hashlib.sha256()
    digest.update(json.dumps({"steps": steps, "folds": folds}, sort_keys=True).encode())
    digest.update(rasa.__version__.encode())
    files = sorted(data_path.rglob("*.yml")) if data_path.is_dir() else [data_path]
    files += list(HELDOUT.values())
    # Our components the steps name (the crisis detector is skipped), the
    # tokenizer the CoNg featurizer imports, and the platform matcher the gold
    # labels and the metrics use.
    modules = {s["name"].rpartition(".")[0] for s in steps if s["name"].startswith("bot.")}
    if "bot.components.cong_featurizer" in modules:
        modules.add("bot.components.korean_tokenizer")
    modules.add("bot.components.platforms")
    files += [ROOT / (m.replace(".", "/") + ".py") for m in sorted(modules)]
    for path in files:
        digest.update(str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def result_file(out: Path, name: str) -> Path:
    return out / f"{name}.result.json"


def reused(out: Path, name: str, fp: str) -> dict | None:
    """The kept result of this pipeline if its fingerprint still matches and it
    is whole (a result kept before its parse times were measured is rebuilt
    from its kept parts, training only what is missing)."""
    path = result_file(out, name)
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    whole = all(key in result for key in SPEED_KEYS)
    return result if whole and result.get("fingerprint") == fp else None


def write_atomically(path: Path, content: dict, indent: int | None = None) -> None:
    """A killed run leaves the old file or none, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(content, ensure_ascii=False, indent=indent, default=str))
    temporary.replace(path)


def keep(out: Path, result: dict) -> None:
    """Keep one pipeline's result for later runs."""
    write_atomically(
        result_file(out, result["pipeline"]),
        {k: v for k, v in result.items() if k != "model_path"},
        indent=1,
    )


# --- data ------------------------------------------------------------------------


def load(path: Path):
    from rasa.shared.nlu.training_data.loading import load_data

    return load_data(str(path))


def canonical(entity: dict, synonyms: Dict[str, str], matcher) -> str:
    from bot.components.platforms import VALUES

    value = str(entity.get("value", "")).lower()
    if value in VALUES:
        return value
    if value in synonyms:
        return synonyms[value]
    values = matcher.values(value)
    return values[0] if values else "other"


def gold_of(examples, synonyms: Dict[str, str]) -> List[dict]:
    """Text, intent and platform mentions (value, surface kind) of each example."""
    from bot.components.platforms import PlatformMatcher, spelling_kind

    matcher = PlatformMatcher()
    items = []
    for example in examples:
        text = example.get("text")
        mentions = []
        for entity in example.get("entities") or []:
            if entity.get("entity") != "platform":
                continue
            surface = text[entity["start"] : entity["end"]]
            mentions.append((canonical(entity, synonyms, matcher), spelling_kind(surface)))
        items.append({"text": text, "intent": example.get("intent"), "platform": mentions})
    return items


def write_training_data(data, examples, path: Path) -> None:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.training_data import TrainingData

    subset = TrainingData(
        training_examples=list(examples),
        entity_synonyms=data.entity_synonyms,
        regex_features=data.regex_features,
        lookup_tables=data.lookup_tables,
    )
    RasaYAMLWriter().dump(str(path), subset)


# --- training and prediction ---------------------------------------------------


def train(steps: List[dict], data_path: Path, out: Path, name: str) -> Tuple[str, float]:
    import rasa.model_training

    out.mkdir(parents=True, exist_ok=True)
    config = out / f"{name}-config.yml"
    write_config(steps, config)
    started = time.perf_counter()
    model = rasa.model_training.train_nlu(
        str(config), str(data_path), str(out), fixed_model_name=name
    )
    if not model:
        raise SystemExit(f"training {name} failed")
    return model, time.perf_counter() - started


class Model:
    def __init__(self, path: str) -> None:
        from rasa.core.agent import Agent

        from bot import speedups

        speedups.install()  # eager build step at load: same predictions, faster
        started = time.perf_counter()
        self.agent = Agent.load(path)
        self.load_seconds = time.perf_counter() - started
        self.loop = asyncio.new_event_loop()

    def parse(self, text: str) -> dict:
        return self.loop.run_until_complete(self.agent.parse_message(text))

    def predict(self, texts: Sequence[str], timed: bool = False) -> Tuple[List[dict], List[float]]:
        if timed:
            for text in texts[:20]:  # warm-up
                self.parse(text)
        results, latencies = [], []
        for text in texts:
            t0 = time.perf_counter()
            parsed = self.parse(text)
            latencies.append((time.perf_counter() - t0) * 1000)
            results.append(
                {
                    "intent": (parsed.get("intent") or {}).get("name"),
                    "confidence": float((parsed.get("intent") or {}).get("confidence") or 0),
                    "platform": [
                        (str(e["value"]).lower(), text[e["start"] : e["end"]])
                        for e in parsed.get("entities") or []
                        if e.get("entity") == "platform"
                    ],
                }
            )
        return results, latencies


# --- metrics -------------------------------------------------------------------


def intent_metrics(gold: List[dict], pred: List[dict]) -> dict:
    from sklearn.metrics import f1_score

    y = [g["intent"] for g in gold]
    p = [r["intent"] for r in pred]
    conf = [r["confidence"] for r in pred]
    wrong = [i for i in range(len(y)) if y[i] != p[i]]
    confident = [i for i in wrong if conf[i] >= THRESHOLD]
    labels = sorted(set(y))
    scores = f1_score(y, p, labels=labels, average=None, zero_division=0)
    per_intent = dict(zip(labels, scores, strict=True))
    return {
        "n": len(y),
        "accuracy": 1 - len(wrong) / len(y),
        "macro_f1": f1_score(
            y, p, labels=sorted(set(y) | set(p)), average="macro", zero_division=0
        ),
        "errors": len(wrong),
        "confident_errors": len(confident),
        "confident_error_share": len(confident) / len(wrong) if wrong else 0.0,
        "confident_error_rate": len(confident) / len(y),
        "answered_accuracy": (
            sum(1 for i in range(len(y)) if conf[i] >= THRESHOLD and y[i] == p[i])
            / max(1, sum(1 for c in conf if c >= THRESHOLD))
        ),
        "fallback_share": sum(1 for c in conf if c < THRESHOLD) / len(y),
        "ece": ece(conf, [y[i] == p[i] for i in range(len(y))]),
        "per_intent_f1": {k: round(float(v), 3) for k, v in per_intent.items()},
        "confusions": Counter(f"{y[i]} -> {p[i]}" for i in wrong).most_common(12),
    }


def ece(confidences: List[float], correct: List[bool], bins: int = 10) -> float:
    """Expected calibration error: the gap between confidence and accuracy,
    weighted over 10 equal-width bins of top confidence."""
    total = len(confidences)
    error = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(confidences) if lo < c <= hi or (b == 0 and c == 0)]
        if idx:
            acc = sum(correct[i] for i in idx) / len(idx)
            avg = sum(confidences[i] for i in idx) / len(idx)
            error += len(idx) / total * abs(acc - avg)
    return error


def platform_metrics(gold: List[dict], pred: List[dict]) -> dict:
    """F1 over (message, value) pairs, overall and by kind of spelling. A found
    value that matches a written one takes its kind; a wrong one, the kind of
    what the extractor matched."""
    from bot.components.platforms import spelling_kind

    counts = {k: Counter() for k in ("all",) + KINDS}
    for g, r in zip(gold, pred, strict=True):
        wanted: Dict[str, str] = {}
        for value, kind in g["platform"]:
            wanted.setdefault(value, kind)
        found: Dict[str, str] = {}
        for value, surface in r["platform"]:
            found.setdefault(value, surface)
        for value, kind in wanted.items():
            outcome = "tp" if value in found else "fn"
            counts["all"][outcome] += 1
            counts[kind][outcome] += 1
        for value, surface in found.items():
            if value not in wanted:
                counts["all"]["fp"] += 1
                counts[spelling_kind(surface)]["fp"] += 1
    result = {}
    for kind, c in counts.items():
        denominator = 2 * c["tp"] + c["fp"] + c["fn"]
        result[kind] = {
            "f1": (2 * c["tp"] / denominator) if denominator else None,
            "mentions": c["tp"] + c["fn"],
            **dict(c),
        }
    return result


# --- runs ----------------------------------------------------------------------


def folds_of(examples, k: int) -> List[List[int]]:
    from sklearn.model_selection import StratifiedKFold

    labels = [e.get("intent") for e in examples]
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=14)
    return [list(test) for _, test in splitter.split(labels, labels)]


def run_pipeline(
    name: str,
    steps: List[dict],
    data,
    data_path: Path,
    k: int,
    tmp: Path,
    out: Path,
    fp: str,
    kept: Path,
    unit: str | None = None,
) -> dict:
    """Cross-validation, then one training on all data. `unit` ("fold<i>" or
    "all") does that part alone and keeps it (a worker's share of the run);
    the parts already kept are read back, not trained again."""
    synonyms = {key.lower(): value for key, value in data.entity_synonyms.items()}
    examples = list(data.intent_examples)
    result: Dict[str, object] = {"pipeline": name, "examples": len(examples), "steps": steps}

    if k > 1 and unit != "all":
        gold, pred = [], []
        started = time.perf_counter()
        for index, test in enumerate(folds_of(examples, k)):
            if unit is not None and unit != f"fold{index + 1}":
                continue
            fold_gold = gold_of([examples[i] for i in test], synonyms)
            # A fold's predictions are kept as soon as they exist: a run cut
            # short (hours for DIET) resumes at the next fold.
            fold_file = kept / f"{name}.fold{index + 1}of{k}.json"
            fold_pred = None
            stored = kept_part(fold_file, fp)
            if stored and len(stored["predicted"]) == len(test):
                fold_pred = stored["predicted"]
            if fold_pred is None:
                held = set(test)
                fold_path = tmp / f"{name}-fold{index}.yml"
                write_training_data(
                    data, [e for i, e in enumerate(examples) if i not in held], fold_path
                )
                model_path, _ = train(steps, fold_path, tmp / f"{name}-fold{index}", name)
                fold_pred, _ = Model(model_path).predict([g["text"] for g in fold_gold])
                write_atomically(
                    fold_file, {"fingerprint": fp, "pipeline": name, "predicted": fold_pred}
                )
            gold += fold_gold
            pred += fold_pred
            print(
                f"   fold {index + 1}/{k}: accuracy "
                f"{intent_metrics(fold_gold, fold_pred)['accuracy']:.3f}",
                flush=True,
            )
        if unit is not None:
            return result
        result["cv"] = {
            **intent_metrics(gold, pred),
            "folds": k,
            "platform": platform_metrics(gold, pred),
            "seconds": round(time.perf_counter() - started),
        }

    # The training on all data is kept like a fold: its held-out figures in
    # bench/nlu/<pipeline>.all.json, its model under --out (needed for the
    # parse times, measured once every training has finished).
    all_file = kept / f"{name}.all.json"
    stored = kept_part(all_file, fp)
    if stored:
        result.update({key: stored[key] for key in ALL_PART_KEYS if key in stored})
        return result
    model_path, train_seconds = train(steps, data_path, out / "models" / f"{name}-all", name)
    model = Model(model_path)
    result["model_path"] = model_path
    result["train_seconds"] = round(train_seconds, 1)
    for set_name, path in HELDOUT.items():
        heldout = load(path)
        gold = gold_of(heldout.intent_examples, synonyms)
        pred, _ = model.predict([g["text"] for g in gold])
        result[set_name] = {**intent_metrics(gold, pred), "platform": platform_metrics(gold, pred)}
        with open(out / f"nlu-{name}-{set_name}.jsonl", "w") as f:
            for g, r in zip(gold, pred, strict=True):
                f.write(json.dumps({**g, "predicted": r}, ensure_ascii=False) + "\n")
    write_atomically(
        all_file,
        {"fingerprint": fp, "pipeline": name, "model_path": str(Path(model_path).resolve())}
        | {key: result[key] for key in ("train_seconds", *HELDOUT)},
    )
    return result


# What the training on all data leaves in <pipeline>.all.json: the held-out
# figures, and once measured, the model's load and parse times.
SPEED_KEYS = ("load_seconds", "parse_ms_p50", "parse_ms_p95")
ALL_PART_KEYS = ("model_path", "train_seconds", *HELDOUT, *SPEED_KEYS)


def kept_part(path: Path, fp: str) -> dict | None:
    """A kept fold or training on all data, if its fingerprint still matches;
    a training on all data only while its model is here to measure or it was
    measured (a machine reset loses bench-results/, not bench/nlu/)."""
    if not path.exists():
        return None
    stored = json.loads(path.read_text())
    if stored.get("fingerprint") != fp:
        return None
    if "model_path" in stored and not (
        Path(stored["model_path"]).exists() or all(k in stored for k in SPEED_KEYS)
    ):
        return None
    return stored


def measure_kept(keep_dir: Path, name: str, fp: str) -> bool:
    """--measure: the load and parse times of a kept training on all data whose
    model is still here, written into its <pipeline>.all.json."""
    path = keep_dir / f"{name}.all.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    if stored.get("fingerprint") != fp or not Path(stored.get("model_path", "")).exists():
        return False
    measure_speed(stored)
    write_atomically(path, stored)
    print(f"{name}: parse p50 {stored['parse_ms_p50']} ms, p95 {stored['parse_ms_p95']} ms")
    return True


def measure_speed(result: dict) -> None:
    """Model load and parse latency of the model trained on all data, one
    pipeline at a time after every training has finished (no training of
    ours runs beside it): the fresh held-out messages, one by one, twice."""
    model = Model(result["model_path"])
    texts = [e.get("text") for e in load(HELDOUT["fresh"]).intent_examples]
    _, latencies = model.predict(texts + texts, timed=True)
    latencies.sort()
    result["load_seconds"] = round(model.load_seconds, 1)
    result["parse_ms_p50"] = round(statistics.median(latencies), 1)
    result["parse_ms_p95"] = round(latencies[int(len(latencies) * 0.95) - 1], 1)


# --- report --------------------------------------------------------------------


def fmt(value, digits=3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(results: List[dict]) -> str:
    names = [r["pipeline"] for r in results]

    def get(r, *path):
        for key in path:
            if not isinstance(r, dict) or key not in r:
                return None
            r = r[key]
        return r

    def pair(r, where, a, b, digits=3):
        return f"{fmt(get(r, where, a), digits)} / {fmt(get(r, where, b), digits)}"

    ws = [r for r in results if r["pipeline"] in TOKENIZERS]
    best_ws_platform = max(
        (get(r, "fresh", "platform", "all", "f1") or 0 for r in ws), default=None
    )
    folds = next((get(r, "cv", "folds") for r in results if get(r, "cv")), None)
    rows = [
        (
            f"{folds}-fold CV macro-F1 / accuracy" if folds else "CV macro-F1 / accuracy",
            [pair(r, "cv", "macro_f1", "accuracy") for r in results],
        ),
        (
            "CV wrong at >= 0.5: of errors / of messages",
            [pair(r, "cv", "confident_error_share", "confident_error_rate", 2) for r in results],
        ),
        ("CV calibration error (ECE)", [fmt(get(r, "cv", "ece")) for r in results]),
        ("CV platform F1", [fmt(get(r, "cv", "platform", "all", "f1")) for r in results]),
    ]
    for set_name, label in LABELS.items():
        n = next((get(r, set_name, "n") for r in results if get(r, set_name)), "")
        rows += [
            (
                f"{label} ({n}) macro-F1 / accuracy",
                [pair(r, set_name, "macro_f1", "accuracy") for r in results],
            ),
            (
                f"{label} wrong at >= 0.5: of errors / of messages",
                [
                    pair(r, set_name, "confident_error_share", "confident_error_rate", 2)
                    for r in results
                ],
            ),
            (f"{label} calibration error (ECE)", [fmt(get(r, set_name, "ece")) for r in results]),
        ]
    for set_name in ("fresh", "third"):
        best = max((get(r, set_name, "macro_f1") or 0 for r in ws), default=None)
        if best:
            rows.append(
                (
                    f"{set_name} macro-F1 / better whitespace baseline's",
                    [fmt((get(r, set_name, "macro_f1") or 0) / best, 2) + "x" for r in results],
                )
            )
    for set_name, label in LABELS.items():
        m = next(
            (get(r, set_name, "platform", "all", "mentions") for r in results if get(r, set_name)),
            "",
        )
        rows.append(
            (
                f"{label} platform F1 ({m} mentions)",
                [fmt(get(r, set_name, "platform", "all", "f1")) for r in results],
            )
        )
    for set_name, kind in [(s, k) for s in ("fresh", "third") for k in KINDS]:
        m = next(
            (get(r, set_name, "platform", kind, "mentions") for r in results if get(r, set_name)),
            "",
        )
        rows.append(
            (
                f"  {set_name}, {kind} spellings ({m})",
                [fmt(get(r, set_name, "platform", kind, "f1")) for r in results],
            )
        )
    if best_ws_platform:
        rows.append(
            (
                "fresh platform F1 / better whitespace baseline's",
                [
                    fmt((get(r, "fresh", "platform", "all", "f1") or 0) / best_ws_platform, 2) + "x"
                    for r in results
                ],
            )
        )
    rows += [
        (
            "parse p50 / p95, ms (in process)",
            [f"{fmt(r.get('parse_ms_p50'), 1)} / {fmt(r.get('parse_ms_p95'), 1)}" for r in results],
        ),
        (
            "train (all data) / model load, s",
            [
                f"{fmt(r.get('train_seconds'), 0)} / {fmt(r.get('load_seconds'), 1)}"
                for r in results
            ],
        ),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [
        "| " + " | ".join(["metric".ljust(width)] + names) + " |",
        "|" + "---|" * (len(names) + 1),
    ]
    lines += ["| " + " | ".join([label.ljust(width)] + values) + " |" for label, values in rows]
    return "\n".join(lines)


def summary_line(result: dict) -> str:
    summary = {
        s: {
            k: round(result[s][k], 3)
            for k in ("accuracy", "macro_f1", "ece", "confident_error_share")
        }
        for s in ("cv", *HELDOUT)
        if s in result
    }
    return f"{result['pipeline']}: {json.dumps(summary)}"


def missing_units(keep_dir: Path, name: str, fp: str, k: int) -> List[str]:
    """The parts of a pipeline's run not kept yet: its folds, then all data."""

    units = [
        f"fold{i}"
        for i in range(1, k + 1)
        if k > 1 and kept_part(keep_dir / f"{name}.fold{i}of{k}.json", fp) is None
    ]
    return units + (["all"] if kept_part(keep_dir / f"{name}.all.json", fp) is None else [])


def run_workers(args, units: List[Tuple[str, str]], extra_args: List[str]) -> None:
    """One process per part of a run (a fold, or the training on all data), at
    most --jobs at a time, so that one pipeline's folds train side by side
    (DIET trains on about one core). Each keeps its part in --keep."""
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    def one(job: Tuple[str, str]) -> None:
        name, unit = job
        log_file = args.out / f"bench-nlu-{name}-{unit}.log"
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            unit,
            "--pipelines",
            name,
            "--folds",
            str(args.folds),
            "--data",
            str(args.data),
            "--out",
            str(args.out),
            "--keep",
            str(args.keep),
            *extra_args,
        ]
        # One TensorFlow thread per worker: the workers share the cores.
        env = {
            **os.environ,
            "TF_INTRA_OP_PARALLELISM_THREADS": "1",
            "TF_INTER_OP_PARALLELISM_THREADS": "1",
        }
        started = time.perf_counter()
        with open(log_file, "w") as log:
            code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        if code != 0:
            raise SystemExit(f"{name} {unit} failed (exit {code}); see {log_file}")
        print(f"   {name} {unit}: done in {time.perf_counter() - started:.0f} s", flush=True)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(one, units))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=3, help="0: held-out sets only")
    parser.add_argument("--pipelines", nargs="+", default=["final", "today", "stock", "ws-hangul"])
    parser.add_argument(
        "--pipeline-config",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="an extra pipeline from a config file",
    )
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "nlu_ko")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    parser.add_argument("--tag", default="", help="suffix of the results file")
    parser.add_argument(
        "--keep",
        type=Path,
        default=ROOT / "bench" / "nlu",
        help="where each pipeline's result and cross-validation folds are kept for reuse",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="trainings at the same time (folds and all data), one process each",
    )
    parser.add_argument(
        "--no-reuse",
        action="store_true",
        help="train every pipeline again, even one whose kept result still matches",
    )
    parser.add_argument(
        "--measure",
        action="store_true",
        help="only measure the load and parse times of kept trainings on all data "
        "(one at a time, with nothing else running) and keep them",
    )
    parser.add_argument("--worker", metavar="UNIT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # no debug line per parsed message
    extra = {}
    extra_args: List[str] = []
    for item in args.pipeline_config:
        name, _, path = item.partition("=")
        extra[name] = Path(path).resolve()
        extra_args += ["--pipeline-config", f"{name}={extra[name]}"]
    args.out.mkdir(parents=True, exist_ok=True)
    args.keep = args.keep.resolve()
    args.data = args.data.resolve()
    data = load(args.data)
    started = time.strftime("%Y-%m-%d %H:%M")

    prints = {
        name: fingerprint(pipeline_steps(name, extra), args.data, args.folds)
        for name in args.pipelines
    }

    def run_one(name: str, tmp: Path, unit: str | None = None) -> dict:
        return run_pipeline(
            name,
            pipeline_steps(name, extra),
            data,
            args.data,
            args.folds,
            tmp,
            args.out,
            prints[name],
            args.keep,
            unit,
        )

    if args.worker:
        (name,) = args.pipelines
        with tempfile.TemporaryDirectory(prefix="bench-nlu-") as tmp_name:
            run_one(name, Path(tmp_name), args.worker)
        return 0

    if args.measure:
        measured = [measure_kept(args.keep, name, prints[name]) for name in args.pipelines]
        return 0 if any(measured) else 1

    kept = {}
    for name in args.pipelines:
        if args.no_reuse:
            for path in args.keep.glob(f"{name}.*.json"):
                path.unlink()  # every part of it trained again
        else:
            result = reused(args.keep, name, prints[name])
            if result is not None:
                kept[name] = result
                print(
                    f"Reusing {name} (same data, sets, steps, folds and code; run of "
                    f"{result.get('finished', '?')}): {summary_line(result)}",
                    flush=True,
                )
    names = [name for name in args.pipelines if name not in kept]
    fresh: List[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-nlu-") as tmp_name:
        tmp = Path(tmp_name)
        units = [
            (name, unit)
            for name in names
            for unit in missing_units(args.keep, name, prints[name], args.folds)
        ]
        if units:
            print(
                f"Training {', '.join(f'{n} {u}' for n, u in units)} on "
                f"{len(data.intent_examples)} examples ({args.jobs} at a time) ...",
                flush=True,
            )
        if args.jobs > 1 and len(units) > 1:
            run_workers(args, units, extra_args)
        # Every part kept now (or trained here, one after another): the result.
        for name in names:
            result = run_one(name, tmp)
            result["fingerprint"] = prints[name]
            keep(args.keep, result)  # kept even if the speed measurement never comes
            fresh.append(result)
            print(summary_line(result), flush=True)
        if any(not all(key in r for key in SPEED_KEYS) for r in fresh):
            print("Measuring model load and parse latency, one pipeline at a time ...", flush=True)
        for result in fresh:
            if not all(key in result for key in SPEED_KEYS):  # not measured with its all.json
                measure_speed(result)
            result["finished"] = time.strftime("%Y-%m-%d %H:%M")
            keep(args.keep, result)
            kept[result["pipeline"]] = result
    results = [kept[name] for name in args.pipelines]
    for result in results:
        result.pop("model_path", None)
    (args.out / f"nlu{args.tag}.json").write_text(
        json.dumps(
            {
                "started": started,
                "finished": time.strftime("%Y-%m-%d %H:%M"),
                "data": str(args.data),
                "examples": len(data.intent_examples),
                "folds": args.folds,
                "results": results,
            },
            ensure_ascii=False,
            indent=1,
            default=str,
        )
    )
    print(
        f"\nTrained on {len(data.intent_examples)} examples ({args.data}); "
        f"started {started}, finished {time.strftime('%H:%M')}."
    )
    print(table(results))
    if any(name not in names for name in args.pipelines):
        print(
            "Reused (parse times from their own run): "
            + ", ".join(
                f"{r['pipeline']} ({r.get('finished', '?')})"
                for r in results
                if r["pipeline"] not in names
            )
        )
    for r in results:
        for set_name in ("cv", "fresh", "third"):
            if set_name in r:
                weakest = sorted(r[set_name]["per_intent_f1"].items(), key=lambda kv: kv[1])[:5]
                print(
                    f"\n{r['pipeline']} {set_name}: weakest "
                    + ", ".join(f"{k} {v:.2f}" for k, v in weakest)
                    + "; most common confusions "
                    + ", ".join(f"{k} ({n})" for k, n in r[set_name]["confusions"][:6])
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
