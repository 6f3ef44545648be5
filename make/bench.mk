# Benchmarks (issue 6): need MariaDB at 127.0.0.1:3306 (root, or BENCH_MYSQL_USER) and wrk; about 50 minutes.
.PHONY: bench
bench: venv ## load, start-up, memory, token-cleanup and table-size benchmarks (benchmarks/README.md)
	cd benchmarks && PATH="$(CURDIR)/$(BIN):$$PATH" $(CURDIR)/$(BIN)/python run.py

.PHONY: bench-instructions
bench-instructions: venv ## CPU instructions per request in-process under valgrind: API, baseline, FastAPI floor (~10-17 min)
	cd benchmarks && PATH="$(CURDIR)/$(BIN):$$PATH" $(CURDIR)/$(BIN)/python instructions.py

.PHONY: bench-framework
bench-framework: venv ## FastAPI's own cost per request on a constant route: Starlette, FastAPI with and without a dependency, a header, a response_model (~30 s)
	cd benchmarks && $(CURDIR)/$(BIN)/python framework.py
