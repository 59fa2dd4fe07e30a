# Every target first brings ./.venv up to date (tools/setup_env.sh is
# idempotent: a no-op when nothing changed).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
LINT_PATHS := mmmobilemamba tools tests configs demo setup.py
LINT := $(PY) -m flake8 $(LINT_PATHS) \
	&& $(PY) -m isort --check-only --diff $(LINT_PATHS) \
	&& $(PY) -m yapf --diff --recursive $(LINT_PATHS)

.PHONY: setup test lint

setup:
	MMM_VENV=$(VENV) bash tools/setup_env.sh

# The unit tests, then the style checks.
test: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)
	$(LINT)

lint: setup
	$(LINT)
