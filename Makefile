# Every target first brings ./.venv up to date (tools/setup_env.sh is
# idempotent: a no-op when nothing changed).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
DEMO_ARGS ?=
# Folders that do not exist (yet) are left out.
LINT_PATHS := $(wildcard mmmobilemamba tools tests configs demo projects \
	setup.py)
LINT := $(PY) -m flake8 $(LINT_PATHS) \
	&& $(PY) -m isort --check-only --diff $(LINT_PATHS) \
	&& $(PY) -m yapf --diff --recursive $(LINT_PATHS)

.PHONY: setup demo test lint

setup:
	MMM_VENV=$(VENV) bash tools/setup_env.sh

# The main job: train, evaluate and run inference for detection,
# segmentation and classification on built-in data (no download), then
# summarise in work_dirs/quickstart/summary.md.
demo: setup
	$(PY) tools/quickstart.py $(DEMO_ARGS)

# The unit tests, then the style checks.
test: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)
	$(LINT)

lint: setup
	$(LINT)
