"""`make bench-dialogue`: plays every conversation scenario (tests/conversations)
through a real stack and prints the pass rate per group, and how many turns
were answered with the fallback, an identical repeat of the previous long
reply, or a crisis reply where none was expected.

    python scripts/bench_dialogue.py                    # this checkout, models/jikimi.tar.gz
    python scripts/bench_dialogue.py --root DIR --model M   # another checkout (a "before")
    python scripts/bench_dialogue.py --show-failures

Results also go to bench-results/dialogue.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import scenario_runner as runner  # noqa: E402
from tests.support.processes import MODEL  # noqa: E402
from tests.support.stack import running_stack  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to run (default: this)")
    parser.add_argument("--model", type=Path, default=MODEL, help="model file to serve")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "dialogue.json")
    parser.add_argument("--show-failures", action="store_true")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--logs", type=Path, help="keep the stack's logs in this folder")
    parser.add_argument("--group", action="append", help="only these groups (repeatable)")
    args = parser.parse_args(argv)

    scenarios = [s for s in runner.load() if not args.group or s.group in args.group]
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.logs or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        root, model = args.root.resolve(), args.model.resolve()
        with running_stack(folder, root=root, model=model) as stack:
            results = runner.run_all(stack, scenarios, workers=args.workers)
    figures = runner.summary(results)
    figures["seconds"] = round(time.monotonic() - started, 1)
    figures["root"] = str(args.root)

    print(f"{'group':<18} {'passed':>7} {'of':>4} {'rate':>6}")
    for group, counts in sorted(figures["groups"].items()):
        rate = counts["passed"] / counts["scenarios"]
        print(f"{group:<18} {counts['passed']:>7} {counts['scenarios']:>4} {rate:>6.0%}")
    print(
        f"{'all':<18} {figures['passed']:>7} {figures['scenarios']:>4} "
        f"{figures['passed'] / figures['scenarios']:>6.0%}"
    )
    print(
        f"turns {figures['turns']}: failed {figures['failed_turns']}, fallback "
        f"{figures['fallback_turns']}, identical repeat {figures['repeat_turns']}, "
        f"unexpected crisis reply {figures['unexpected_crisis_turns']} "
        f"({figures['seconds']} s)"
    )
    if args.show_failures:
        for result in results:
            if not result.passed:
                print("\n" + result.report())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
