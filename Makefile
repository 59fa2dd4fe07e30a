# Every target first brings ./.venv up to date (tools/setup_env.sh is
# idempotent: a no-op when nothing changed).
VENV ?= .venv
PYTEST_ARGS ?=

.PHONY: setup test

setup:
	MMM_VENV=$(VENV) bash tools/setup_env.sh

test: setup
	$(VENV)/bin/python -m pytest tests $(PYTEST_ARGS)
