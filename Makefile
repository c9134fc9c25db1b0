# Learnline: the two commands a fresh machine needs.
#   make serve   run the gateway with the bundled course (http://127.0.0.1:8000)
#   make test    install everything the tests need, then run ruff, the layout's import
#                contracts (lint-imports) and pytest
#   make coverage  the suite under coverage (branches of gateway/ and carrier_adapters/,
#                in every process the suite starts): a report, and htmlcov/ to browse
#   make mutation  mutation-test gateway/sms_text.py and gateway/ratelimit.py (docs/testing.md)
# Needs python3 (>= 3.11) and, for the tests, node and npm (Twilio's segment calculator, the
# Nu Html Checker), Java, Chromium, Kannel and PostgreSQL (.ci/run installs them from Debian).

VENV ?= .venv
PYTHON ?= python3
SEGMENTS_CALCULATOR = sms-segments-calculator@1.3.0
# The Nu Html Checker (vnu.jar, needs Java 11+) for validating the lite pages.
HTML_CHECKER = vnu-jar@26.9.27
CALCULATOR_DIR = tests/tools/node
# The Open Badges validator's own venv (tests/test_badges_validator.py runs it).
OPENBADGES_VENV = tests/tools/openbadges-venv
LRS_VENV = tests/tools/lrs-venv
LRS_PACKAGES = "ralph-malph[cli,lrs]==5.1.0" "requests>=2.31"

.PHONY: serve test coverage mutation install install-test chat clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip

install: $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet -e .

install-test: $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet -e '.[test,hub,parquet]'
# pip compiles what it installs, but an editable install leaves the checkout as source:
# where writing bytecode is off (PYTHONDONTWRITEBYTECODE, as in many containers and CI
# runners) every process the tests start (serve, its workers, each command) would compile
# it again, a quarter of a command's start. Python recompiles any module changed since.
	$(VENV)/bin/python -m compileall -q -x '/node_modules/|tests/tools/' gateway carrier_adapters tests
	npm install --silent --no-audit --no-fund --prefix $(CALCULATOR_DIR) $(SEGMENTS_CALCULATOR) $(HTML_CHECKER)
# The IMS Open Badges validator in a venv of its own (its pins clash with the project's;
# tests/tools/openbadges-requirements.txt lists every package it needs, installed as is).
	$(PYTHON) -m venv $(OPENBADGES_VENV)
	$(OPENBADGES_VENV)/bin/python -m pip install --quiet --no-deps -r tests/tools/openbadges-requirements.txt
# The LRS the tests send xAPI statements to (tests/lrs_server.py): Ralph, in a venv of its own
# (its pins clash with the gateway's). Its server's OIDC module imports requests, which
# none of its extras installs.
	test -x $(LRS_VENV)/bin/ralph || ($(PYTHON) -m venv $(LRS_VENV) && \
	  $(LRS_VENV)/bin/python -m pip install --quiet $(LRS_PACKAGES))

serve: install
	$(VENV)/bin/learnline serve

chat: install
	$(VENV)/bin/learnline chat +221770000000

test: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest -n auto

# Developer tooling, not part of `make test`: several times slower than the plain suite.
# [tool.coverage.*] in pyproject.toml says what is measured and how subprocesses are.
coverage: install-test
	rm -f .coverage .coverage.*
	$(VENV)/bin/python -m coverage run -m pytest
	$(VENV)/bin/python -m coverage combine --quiet
	$(VENV)/bin/python -m coverage report
	$(VENV)/bin/python -m coverage html --quiet

# Developer tooling, not part of `make test` or CI: each module's mutants run against its own
# tests (tool.mutmut in pyproject.toml), one module after the other; then the mutants that
# survived. A few minutes each on two cores.
mutation: install-test
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	$(VENV)/bin/mutmut run "gateway.ratelimit*"
	$(VENV)/bin/mutmut run "gateway.sms_text*"
	$(VENV)/bin/mutmut run "carrier_adapters.gsm0338*"
	$(VENV)/bin/mutmut results

clean:
	rm -rf $(VENV) $(CALCULATOR_DIR)/node_modules $(OPENBADGES_VENV) $(LRS_VENV) .pytest_cache .ruff_cache .coverage .coverage.* htmlcov mutants
