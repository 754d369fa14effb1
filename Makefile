# Two commands from a fresh clone (README):
#   make demo   set up .venv (torch for this machine, the package) and run the main job: prepare, train, sample
#   make test   set up .venv with the dev extras (and Chromium) and run the test command, scripts/test.sh
# Each reuses .venv when it is up to date (scripts/setup.sh says what it does).
VENV ?= .venv
export NANOGPT_VENV := $(VENV)
RUN := PATH="$(abspath $(VENV))/bin:$$PATH" VIRTUAL_ENV="$(abspath $(VENV))"

.PHONY: demo test setup setup-dev
demo: setup
	$(RUN) bash scripts/demo.sh

test: setup-dev
	$(RUN) bash scripts/test.sh

setup:
	bash scripts/setup.sh

setup-dev:
	bash scripts/setup.sh --dev
