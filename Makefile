# Two commands: `make run` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit chromium bench bench-quick clean test-deep mutation mutation-canaries

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy optimizer api tests benchmarks

unit: $(STAMP) chromium
	$(BIN)/pytest -q

# The web view's browser tests drive Debian's Chromium (never a downloaded browser); install it
# where it is missing (CI runs as root). Nothing is done when it is already there.
chromium:
	@command -v chromium >/dev/null 2>&1 || ( \
	  echo "installing Debian's chromium for the browser tests" && \
	  apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-nanum >/dev/null )

test: lint typecheck unit

# The property tests with 20 times their examples (the seed is printed: replay a failure
# with PYTEST_ADDOPTS=--hypothesis-seed=N; tests/hypothesis_profile.py).
test-deep: $(STAMP)
	ALLOT_TEST_DEPTH=20 $(BIN)/pytest -q tests/independent tests/test_backends.py \
	  tests/test_partition.py tests/test_thresholds.py tests/test_apportion.py \
	  tests/test_certificate.py tests/test_exact.py

# Mutation testing of the core modules with mutmut (pyproject.toml [tool.mutmut]): hours on
# two cores; MUTANTS='optimizer.rules.*' runs only the mutants whose names match. Then
# `.venv/bin/mutmut results` lists the survivors, `.venv/bin/mutmut show NAME` one diff.
mutation: $(STAMP)
	$(BIN)/mutmut run --max-children 2 $(MUTANTS)
	$(BIN)/mutmut export-cicd-stats && cat mutants/mutmut-cicd-stats.json

# The issue-18 canaries (tie order reversed, each rule one unit tighter, divisor rounding
# changed), each in a scratch copy against the tests that must catch it: CI runs these.
mutation-canaries: $(STAMP)
	$(BIN)/python -m tests.independent.canaries

# The benchmark suite: Allot beside a plain PuLP + CBC model of the same problem, measured
# in the same run. `bench-quick` is CI's (a minute or two; exits 1 when a check fails or an
# Allot / baseline ratio is over its gate); `bench` is the full table of README "Performance"
# and the whole-process Parquet rows against their floor pipeline (benchmarks/columnar.py).
# The columnar quick rows (about 30 s) report issue 17's gates and fail when the Parquet
# and JSON runs allocate differently or an enforced gate fails.
bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks run --quick --out $${TMPDIR:-/tmp}/allot-benchmarks-quick.json
	$(BIN)/python -m benchmarks.columnar --quick --gate --out $${TMPDIR:-/tmp}/allot-columnar-quick.json

bench: $(STAMP)
	$(BIN)/python -m benchmarks run --out docs/benchmarks.json --markdown docs/benchmarks.md --plot docs/performance.png
	$(BIN)/python -m benchmarks.columnar --million --out docs/benchmarks-columnar.json

# The service on http://127.0.0.1:8000 with the example scenarios loaded and a fresh local
# admin token printed (database: ALLOT_DATABASE_URL, default ./allot.db).
run: $(STAMP)
	@token=$$(cat .allot/admin-token 2>/dev/null); \
	if [ -z "$$token" ] || ! echo "$$token" | $(BIN)/allot token check >/dev/null 2>&1; then \
	  out=$$($(BIN)/allot token create --role admin --name "make run") && \
	  token=$$(echo "$$out" | tail -n 1) && \
	  mkdir -p .allot && (umask 077 && echo "$$token" > .allot/admin-token); \
	fi && \
	echo "" && \
	echo "  Local admin token (saved in .allot/admin-token, reused by the next make run):" && \
	echo "" && \
	echo "      $$token" && \
	echo "" && \
	echo "  Try:  curl -H 'Authorization: Bearer $$token' http://127.0.0.1:8000/v1/scenarios" && \
	echo "  Docs: http://127.0.0.1:8000/docs  (Authorize with the token above)" && \
	echo ""
	$(BIN)/allot load-examples scenarios
	$(BIN)/allot load-examples scenarios/plan-2023
	$(BIN)/allot serve --host 127.0.0.1 --port 8000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis mutants
