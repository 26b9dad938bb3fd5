# Jikimi: one entry point for people and CI (see README).
#   make run        install, train if needed, start all three processes
#   make test       install, lint, train if needed, run every test
#   make lint       ruff check and ruff format --check
#   make setup      install into .venv only
#   make train      train into models/ only (skipped when nothing changed)
#   make bench-nlu  four NLU pipelines: 3-fold cross-validation, then the three held-out sets
#   make bench-safety  crisis recall / false positives: detector, classifier, both
#   make bench-handoff  SMS latency through the stack (fake Twilio): median, p95
#   make bench-dialogue  the conversation scenarios: pass rate per group, fallbacks, repeats
#   make bench      load: simulated students at concurrency 1/8/32/64, latency, replies/s
#   make content-review  every sentence Jikimi can say, with sources, in content-review.md

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODEL := models/jikimi.tar.gz
# What the model is trained from (channels and credentials are not: they are
# read when the server starts).
TRAIN_INPUTS := bot/config.yml $(shell find bot/domain bot/rules bot/components data/nlu_ko \
	-type f \( -name '*.yml' -o -name '*.py' \) 2>/dev/null)
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup train run test bench bench-nlu bench-safety bench-handoff bench-dialogue content-review lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/find-python.sh
	@command -v java >/dev/null 2>&1 || [ -x "$${JAVA_HOME:-/nonexistent}/bin/java" ] || { \
	  echo "error: konlpy needs a Java runtime and none was found." >&2; \
	  echo "Install one (e.g. sudo apt-get install default-jre-headless) or set JAVA_HOME." >&2; \
	  exit 1; }
	@if ! [ -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then \
	  python=$$(scripts/find-python.sh) || exit 1; \
	  echo "Creating $(VENV) with $$python"; \
	  rm -rf $(VENV) && $$python -m venv $(VENV) || exit 1; \
	fi
	$(PY) -m pip install --disable-pip-version-check -q -c constraints.txt -e '.[dev]'
	@touch $@

train: $(MODEL)

# Order-only on the install: a new dependency alone does not retrain.
$(MODEL): $(TRAIN_INPUTS) | $(STAMP)
	$(VENV)/bin/rasa train --config bot/config.yml --domain bot/domain \
	  --data data/nlu_ko bot/rules --out models --fixed-model-name jikimi
	@touch $@

run: $(MODEL)
	$(VENV)/bin/jikimi run

# The browser tests (tests/browser) drive Debian's Chromium: install the package
# when it is missing and apt is there (CI runs as root); a no-op when present.
test: lint $(MODEL)
	@if ! [ -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian's chromium for the browser tests"; \
	  sudo=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$sudo apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q chromium \
	  || exit 1; \
	fi
	$(PY) -m pytest

bench-nlu: $(STAMP)
	$(PY) scripts/bench_nlu.py

bench-safety: $(STAMP)
	$(PY) scripts/bench_safety.py

bench-handoff: $(MODEL)
	$(PY) scripts/bench_handoff.py

# BENCH_ARGS passes options, e.g. BENCH_ARGS="--show-failures".
bench-dialogue: $(MODEL)
	$(PY) scripts/bench_dialogue.py $(BENCH_ARGS)

# Loopback only, at most 60 s and 4000 replies per level (README "Speed").
# BENCH_ARGS passes options, e.g. make bench BENCH_ARGS="--train --profile 3".
bench: $(MODEL)
	$(PY) scripts/bench_load.py $(BENCH_ARGS)

# One Markdown file for a school's review and sign-off (README "Reviewing what Jikimi says").
content-review: $(STAMP)
	$(PY) scripts/content_review.py

# ruff (pinned in constraints.txt, a dev extra): lint rules and formatting,
# as configured in pyproject.toml. `make test` runs it first.
LINT_DIRS := jikimi bot actions tests scripts
lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINT_DIRS)
	$(VENV)/bin/ruff format --check $(LINT_DIRS)

clean:
	rm -rf models .rasa results
