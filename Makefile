# pvd — the two commands a newcomer runs are `make demo` and `make test`; each sets up
# what it needs on first use (.venv/, node_modules/, solc, brownie networks).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.DEFAULT_GOAL := help
# Each deployable contract with everything it imports (slither.config.json holds the options).
SLITHER_TARGETS := contracts/token/YuanToken.sol contracts/settlement/PvdSettlement.sol \
	contracts/trade/TradeRegistry.sol contracts/bridge/Inbox.sol contracts/bridge/Outbox.sol

.PHONY: help setup demo test test-contracts test-pvd test-brownie test-integration test-docs test-explorer explorer-deps lint bench bench-quick bench-peers chains chains-down up down relayers relayers-down clean postgres-deps

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# First use only: each step says what it installs and where, and shows progress (pip's
# "Collecting" lines numbered against the lock file's count). Later runs print nothing.
$(BIN)/.installed: requirements.lock pyproject.toml
	@echo "== set-up 1/3: Python $(PYTHON) virtualenv in $(VENV)/ and the $$(grep -c '==' requirements.lock) packages pinned by requirements.lock (the longest step) =="
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@set -o pipefail; $(BIN)/pip install --disable-pip-version-check --progress-bar off -r requirements.lock \
		| awk -v total=$$(grep -c '==' requirements.lock) \
			'/^Requirement already satisfied/{n++; next} \
			 /^Collecting /{n++; printf "  [%d/%d] %s\n", n, total, $$2; fflush(); next} \
			 /^(Installing|Successfully)/{print "  " substr($$0, 1, 160); fflush()}'
	@$(BIN)/pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	@touch $@

node_modules/.installed: package.json package-lock.json
	@echo "== set-up 2/3: npm packages pinned by package-lock.json in node_modules/ (solc-js, OpenZeppelin, anvil, solhint) =="
	@npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(BIN)/.installed node_modules/.installed ## install everything (first use only; then a fast no-op)
	@ln -sf "$$(readlink -f "$$(ls -d $(CURDIR)/node_modules/@foundry-rs/anvil-*/bin/anvil | head -n 1)")" $(BIN)/anvil
	@$(BIN)/python tools/install_solc.py --quiet-if-present
	@$(BIN)/python tools/brownie_hook.py
	@$(BIN)/python tools/brownie_networks.py

demo: setup ## a full settlement between two in-process chains
	$(BIN)/pvd demo

test: setup test-contracts test-pvd test-brownie test-integration test-docs test-explorer ## the whole test suite

test-contracts: setup ## brownie's contract tests (on anvil, a free port)
	$(BIN)/brownie test

test-pvd: setup postgres-deps ## the pvd package's tests (plain pytest, brownie's plugin off)
	$(BIN)/pytest -p no:pytest-brownie -q tests/pvd

test-brownie: setup ## brownie as a user runs it: scripts, console loader, the docs/console.md session
	$(BIN)/pytest -p no:pytest-brownie -q tests/pvd_brownie

test-integration: setup ## two anvils, pvd relay subprocesses as attesters, faults
	$(BIN)/pytest -p no:pytest-brownie -q tests/integration

test-docs: setup ## the docs: self-contained, every ```sh block runs, design numbers match the code
	$(BIN)/pytest -p no:pytest-brownie -q tests/docs

# Debian's packages for the dashboard and browser tests (root, or sudo): promtool checks the
# alerting rules, chromium + chromedriver run the explorer's browser test. No browser download.
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
explorer-deps: ## Debian's promtool, chromium and chromedriver (installed once)
	@command -v promtool >/dev/null && command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q \
			--no-install-recommends prometheus chromium chromium-driver; }

test-explorer: setup explorer-deps ## dashboards (promtool) and the explorer in headless Chromium
	$(BIN)/pytest -p no:pytest-brownie -q tests/dashboards tests/browser

lint: setup ## ruff, mypy, solhint, slither
	$(BIN)/ruff check pvd pvd_brownie tests tools scripts
	$(BIN)/ruff format --check pvd pvd_brownie tests tools scripts
	$(BIN)/mypy
	node_modules/.bin/solhint --disc --max-warnings 50 'contracts/**/*.sol'
	@solc=$$($(BIN)/python -c "from pvd.deploy.compiler import solc_binary; print(solc_binary())"); \
	for target in $(SLITHER_TARGETS); do \
		echo "slither $$target"; $(BIN)/slither $$target --solc $$solc --fail-medium 2>&1 | tail -n 1; \
		test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# What `make bench` and `make bench-quick` pass so that each stays within its time (15 and
# 2 minutes on 2 cores; docs/bench.md "Time"): the relay's catch-up is short (growth
# measures 1,000 to 100,000 blocks), 3 trades per depth figure, a 10 s idle window, 10
# polling trades; the index's history is 10^3 trades (`python -m pvd.bench.index --sizes
# 1000,10000` adds 10^4: about 7 minutes more); the peer's latency is 50 messages;
# quick: 10 latency trades, 1 polling, a 5 s idle window, a backlog of 100, 1 depth trade.
BENCH_RELAY ?= --catch-up-blocks 1000 --depth-trades 3 --idle-seconds 10 --polling-trades 10
BENCH_INDEX ?= --sizes 1000
BENCH_PEERS ?= --latency-messages 50
BENCH_RELAY_QUICK ?= --latency-trades 10 --polling-trades 1 --idle-seconds 5 --backlog 100 --depth-trades 1 --catch-up-blocks 1000

bench: setup postgres-deps bench-peers ## gas, relay latency/throughput/catch-up, growth, the peer, CLI waits, index, reconcile and explorer pages: bench/report.json
	$(BIN)/python scripts/bench_gas.py
	$(BIN)/python -m pvd.bench.relay $(BENCH_RELAY)
	$(BIN)/python -m pvd.bench.growth
	$(BIN)/python -m pvd.bench.peers $(BENCH_PEERS)
	$(BIN)/python -m pvd.bench.cli
	$(BIN)/python -m pvd.bench.index $(BENCH_INDEX)
	$(BIN)/python -m pvd.bench.explorer
	$(BIN)/python -m pvd.bench.render bench/report.json

bench-quick: setup bench-peers ## relay, growth and peer figures, small: bench/report-quick.json and .md
	$(BIN)/python -m pvd.bench.relay --quick $(BENCH_RELAY_QUICK)
	$(BIN)/python -m pvd.bench.growth --quick
	$(BIN)/python -m pvd.bench.peers --quick
	$(BIN)/python -m pvd.bench.render bench/report-quick.json

# The bench's peer relayer, installed into its own folder from its own lockfile (never a
# pvd dependency; bench/peers/axelar/node_modules is not tracked).
bench/peers/axelar/node_modules/.installed: bench/peers/axelar/package.json bench/peers/axelar/package-lock.json
	@echo "== bench peer: @axelar-network/axelar-local-dev in bench/peers/axelar/ (npm ci) =="
	@cd bench/peers/axelar && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

bench-peers: bench/peers/axelar/node_modules/.installed ## install the bench's peer relayer (axelar-local-dev) into bench/peers/axelar/ only

chains: setup ## start two anvil chains (payment, business) on free ports
	$(BIN)/pvd chains up

chains-down: ## stop exactly the anvil chains `make chains` started (and drop their default index)
	$(BIN)/pvd chains down
	rm -f .pvd/index.db .pvd/index.db-wal .pvd/index.db-shm .pvd/index.db.writer.lock

up: setup ## a local stack: two anvils, pvd deployed, three relayers (state in .pvd/)
	$(BIN)/pvd up

down: ## stop exactly what `make up` started
	$(BIN)/pvd down

postgres-deps: ## install Debian's PostgreSQL server for the index tests (apt-get; a no-op if present)
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
		  $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

relayers: setup ## three local relayers for `make chains` after scripts/deploy.py (docs/console.md)
	source .pvd/chains.env && $(BIN)/python -m pvd_brownie.relayers up

relayers-down: ## stop exactly the relayers `make relayers` started
	$(BIN)/python -m pvd_brownie.relayers down

clean: ## remove build outputs (keeps .venv and node_modules)
	rm -rf build reports .pvd
