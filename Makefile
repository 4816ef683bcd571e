# The two commands of the README. Each sets up .venv on first use (or when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	touch $(STAMP)

# The main job: characterise the source text's bipolar stage on the simulated bench (frequency, amplitude
# and DC sweeps), fit the models, judge the board's limits, archive it all and write the report.
# `diffbench run` exits 3 when a limit fails: the demo still writes its report then.
DEMO := out/demo
demo: $(STAMP)
	@mkdir -p out
	@rm -rf $(DEMO).h5 $(DEMO).h5.partial $(DEMO)-report
	$(BIN)/diffbench run configs/procedures/characterisation.toml --bench configs/benches/sim-keysight.toml \
		--board configs/boards/bjt-source-text.toml -o $(DEMO).h5 || [ $$? -eq 3 ]
	$(BIN)/diffbench report $(DEMO).h5 -o $(DEMO)-report
	@echo "archive: $(DEMO).h5"
	@echo "report:  $(DEMO)-report/report.html"

# The tests run in one process per core (at most 4; pytest-xdist), each test file whole in one of them so that a
# file's shared fixtures are built once.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

# ruff (pyflakes, pycodestyle, bugbear, isort, pyupgrade) over everything; mypy over src, strict for the
# models and the instruments (the layers everything else builds on).
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/mypy --strict -p models -p instruments

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache out
