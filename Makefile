# Set-up is automatic: every target creates .venv (Python >= 3.11) and installs the project.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= default
TIER   ?= smoke

.PHONY: sweep scan test test-all lint docs verify bench clean help

help:
	@echo "make sweep [PROFILE=smoke|default|full]   run scripts/scaling_sweep.py -> results/sweep-PROFILE"
	@echo "make scan                                 the step scan (best step per N) -> results/sweep-scan"
	@echo "make test                                 fast test tier (under 10 min on 2 CPU cores: 398 s measured cold)"
	@echo "make test-all                             all tests, including those marked slow"
	@echo "make verify [TIER=smoke|default|full]     run every registered claim -> results/verify-TIER/report.md"
	@echo "make bench                                engine benchmarks (prints measured ratios)"
	@echo "make lint | make docs | make clean"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

sweep: $(STAMP)
	$(BIN)/python scripts/scaling_sweep.py --profile $(PROFILE) --out results/sweep-$(PROFILE)

scan: $(STAMP)
	$(BIN)/python scripts/scaling_sweep.py --profile scan --out results/sweep-scan

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup -m "slow or not slow"

verify: $(STAMP)
	$(BIN)/python scripts/verify.py --tier $(TIER)

bench: $(STAMP)
	$(BIN)/python scripts/bench_engine.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check theory sims claims scripts tests

docs: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	$(BIN)/python scripts/make_theory_docs.py
	$(BIN)/mkdocs build --strict

clean:
	rm -rf results site .pytest_cache
