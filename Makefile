# One command each: `make demo` sets up and runs the relay on the sample shop telemetry,
# `make test` sets up and runs the tests. Both create .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := .demo

.PHONY: setup demo demo-files test lint bench proto clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: setup
	$(BIN)/python examples/relay_demo.py $(DEMO)

demo-files: setup
	mkdir -p $(DEMO)
	test -f $(DEMO)/demo.key || $(BIN)/otelpriv keygen $(DEMO)/demo.key
	for signal in traces logs metrics; do \
		$(BIN)/otelpriv sanitize --key-file $(DEMO)/demo.key \
			-o $(DEMO)/shop-$$signal.jsonl examples/shop-$$signal.jsonl || exit 1; \
	done
	$(BIN)/python examples/compare.py examples $(DEMO)
	$(BIN)/otelpriv sanitize --report --key-file $(DEMO)/demo.key examples/shop-traces.jsonl

test: setup
	$(BIN)/python -m pytest tests

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: setup
	$(BIN)/python benchmarks/sanitize_bench.py
	$(BIN)/python benchmarks/relay_bench.py --workers 1

proto: setup
	$(BIN)/python scripts/generate_proto.py

clean:
	rm -rf $(VENV) $(DEMO)
