# One entry point for tooling. Each target that needs the environment builds it when missing,
# so `make bench` and `make test` each work alone on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv valgrind test test-slow lint bench nightly perf clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[servers,targets,dev,cluster]'
	touch $(STAMP)

# Instruction counts (loadgen inproc --instructions, the callgrind server, their tests) run
# under valgrind, with the target on jemalloc: Debian packages.
valgrind:
	@{ command -v valgrind && /sbin/ldconfig -p | grep -q libjemalloc.so.2; } >/dev/null || \
	  { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind libjemalloc2; }

test: $(STAMP) valgrind
	$(BIN)/python -m pytest -m 'not slow' -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow -q

lint: $(STAMP)
	$(BIN)/ruff check loadgen tests benchmarks targets
	$(BIN)/mypy

# The main job: the matrix of bench.toml in interleaved rounds, trials stored under results/,
# then the comparison with the baseline.
bench: $(STAMP)
	$(BIN)/loadgen bench bench.toml

# The nightly regression job ([nightly] in bench.toml): the branch's newest commit against the
# last accepted one. loadgen exits 0 accepted, 1 regression, 2 inconclusive, 3 harness error
# (make reports any of the last three as its own error 2; CI calls loadgen directly).
# REPO=path-or-url overrides the file's repository.
nightly: $(STAMP)
	$(BIN)/loadgen nightly bench.toml $(if $(REPO),--repository $(REPO))

# The toolkit's own performance: the self-check facing each of its causes, loadgen against wrk
# on nginx, memory over run length, the servers table, the A/A check, and the load from a Dask
# cluster against the local runner, and how far an instruction count moves with the memory
# layout alone.
perf: $(STAMP) valgrind
	$(BIN)/python benchmarks/selfcheck.py
	$(BIN)/python benchmarks/engine_vs_wrk.py
	$(BIN)/python benchmarks/protocols_vs_peers.py
	$(BIN)/python benchmarks/h2_status.py
	$(BIN)/python benchmarks/memory.py
	$(BIN)/python benchmarks/servers.py
	$(BIN)/python benchmarks/aa.py
	$(BIN)/python benchmarks/changepoints.py
	$(BIN)/python benchmarks/cluster_vs_local.py
	$(BIN)/python benchmarks/instruction_layout.py
	$(BIN)/python benchmarks/instruction_speed.py

clean:
	rm -rf $(VENV) results/*.json results/*.hlog results/*.log
