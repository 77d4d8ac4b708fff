# The course's front door. On a fresh clone, two commands are all you need:
#   make lab    set up (first time only) and open the course in JupyterLab
#   make test   set up (first time only) and run every test
# Everything is installed into ./.venv from pyproject.toml; nothing global.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
# Tools shell out to their siblings (nbgrader runs `alembic`), so the
# environment's bin/ goes first on PATH for every recipe.
export PATH := $(CURDIR)/$(BIN):$(PATH)
# 2 cores on the course machines; override with `make test JOBS=4`.
JOBS   ?= 2
# Slow cells (training loops) get this many seconds before nbval gives up.
CELL_TIMEOUT ?= 300

.PHONY: help lab lab-instructor test test-fast exercises release slides grade bench mutants seeds clean

help:
	@echo "make lab        set up and open the course in JupyterLab (start here)"
	@echo "make lab-instructor  the same, with nbgrader's formgrader and create-assignment tools"
	@echo "make test       set up and run every test (unit, notebooks, sync, grading calibration, lab smoke and browser tests)"
	@echo "make test-fast  only the unit and sync tests (seconds)"
	@echo "make exercises  regenerate exercises/ from solutions/ with nbgrader"
	@echo "make release    build the student bundle dist/positional-encodings-course.zip from the last commit"
	@echo "make slides     build offline reveal.js decks of every lecture into slides/build/"
	@echo "make grade ASSIGNMENT=NN_topic SUBMISSIONS=folder-or-zip   grade a class (sandboxed) into grading/"
	@echo "make bench      speed measurements, printed as ratios"
	@echo "make mutants    grader sensitivity: mutate the solutions, count the mutants that lose points (minutes)"
	@echo "make seeds      re-run every lecture notebook with its seeds shifted (SHIFTS=\"1 2 5\"); do its claims hold?"
	@echo "make clean      remove the virtual environment and built slides (never class data)"

# --- set-up -----------------------------------------------------------------
# A stamp file per install level, so `make` reinstalls only when
# pyproject.toml changes. Each step says what it does first (pip itself runs
# quietly). The first install measured 51 s on 2 cores with an empty pip cache and
# the packages on a local mirror; downloading them (torch is the big one) adds
# what the network takes.
$(VENV)/.course: pyproject.toml .jupyter-overrides.json
	@echo "== Setting up the course in $(VENV)/ (first time only: 1-3 minutes)"
	@test -x $(PY) || { echo "-- creating the virtual environment"; $(PYTHON) -m venv $(VENV); }
	@echo "-- upgrading pip (seconds)"
	@$(PY) -m pip install --quiet --upgrade pip
	@echo "-- installing the course and its pinned packages: torch, JupyterLab, nbgrader, ... (1-2 minutes)"
	@$(PY) -m pip install --quiet -e .
	@# rfc3987-syntax is pulled in transitively (jupyter-events ->
	@# jsonschema[format-nongpl]) and costs ~2.7 s at every `import nbformat`
	@# (each nbval worker, nbgrader and nbconvert call). Nothing in the course
	@# validates IRIs; `pip check` stays clean without it.
	@$(PY) -m pip uninstall --quiet --yes rfc3987-syntax
	@# JupyterLab settings for both labs: Markdown (the README is the landing page)
	@# opens rendered, and no "official Jupyter news?" pop-up over the figures.
	@echo "-- installing the course's JupyterLab settings"
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@cp .jupyter-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $@
	@echo "== Set-up done"

$(VENV)/.test: $(VENV)/.course
	@echo "-- installing the test tools: pytest, transformers, playwright, ruff (under a minute)"
	@$(PY) -m pip install --quiet -e ".[test]"
	@$(PY) -m pip uninstall --quiet --yes rfc3987-syntax
	@touch $@

# --- the main job -----------------------------------------------------------
# LAB_ARGS passes options through, e.g. make lab LAB_ARGS="--port=8890 --no-browser".
# Jupyter refuses to start as root unless told; containers often run as root.
AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
# Students don't get nbgrader's instructor tools (formgrader, create assignment,
# course list) nor the Assignments list (nothing to fetch without a JupyterHub
# exchange): .jupyter-student/ is read as the user config directory and
# disables them; it also makes the printed URL open the README and runs kernels
# over local sockets (IPC). `make lab-instructor` is the same lab with the tools.
# `jupyter trust`: the course's notebooks are stored without outputs, so trusting
# them is safe, and the server log has no "Notebook ... is not trusted" warning
# for every notebook opened.
lab: $(VENV)/.course
	@$(BIN)/jupyter trust --log-level=WARN notebooks/*.ipynb exercises/*/*.ipynb > /dev/null
	JUPYTER_CONFIG_DIR=$(CURDIR)/.jupyter-student $(BIN)/jupyter lab README.md $(AS_ROOT) $(LAB_ARGS)

# The same landing page and kernel transport as .jupyter-student/ gives students.
lab-instructor: $(VENV)/.course
	@$(BIN)/jupyter trust --log-level=WARN notebooks/*.ipynb exercises/*/*.ipynb solutions/*/*.ipynb > /dev/null
	$(BIN)/jupyter lab README.md --LabApp.default_url=/lab/tree/README.md \
		--KernelManager.transport=ipc $(AS_ROOT) $(LAB_ARGS)

# --- tests ------------------------------------------------------------------
# Unit tests, reference cross-checks, sync checks, grading calibration and the
# JupyterLab smoke test live in tests/; nbval runs every lecture notebook and
# every instructor solution top to bottom. `--dist loadfile` keeps each
# notebook on one worker (plain -n 2 splits a notebook's cells and fails).
test: $(VENV)/.test
	$(PY) -m pytest -n $(JOBS) --dist loadfile \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=$(CELL_TIMEOUT) \
		tests notebooks solutions

test-fast: $(VENV)/.test
	$(PY) -m pytest -m "not slow" tests

# --- instructors ------------------------------------------------------------
# nbgrader must run from the repository root (see nbgrader_config.py).
exercises: $(VENV)/.course
	@for dir in solutions/*/; do \
		$(BIN)/nbgrader generate_assignment --force "$$(basename "$$dir")" || exit 1; \
	done

# What students get: lectures, exercises, course_lib without the grading tools and
# the set-up files, from the last commit (never solutions/, hidden tests or
# calibration corpora; the script stops if anything would leak). See tools/release.py.
release: $(VENV)/.course
	$(PY) tools/release.py

# Grade a class: submissions in nbgrader's layout or an LMS download (folder
# or .zip), each run in a bubblewrap sandbox; writes $(OUT)/grades.csv,
# $(OUT)/feedback/, $(OUT)/logs/ and $(OUT)/report.txt. Submissions are only
# read. GRADE_JOBS students at a time (default: the core count); UNSANDBOXED=1
# grades without bubblewrap. See `python -m course_lib.grade --help`.
OUT ?= grading/$(ASSIGNMENT)
TIMEOUT ?= 120
grade: $(VENV)/.course
	@test -n "$(ASSIGNMENT)" -a -n "$(SUBMISSIONS)" || \
		{ echo "usage: make grade ASSIGNMENT=NN_topic SUBMISSIONS=folder-or-zip [OUT=grading/NN_topic] [TIMEOUT=120] [GRADE_JOBS=n] [DUE="2026-12-01 17:00"] [UNSANDBOXED=1]"; exit 2; }
	$(PY) -m course_lib.grade "$(ASSIGNMENT)" "$(SUBMISSIONS)" --out "$(OUT)" --timeout "$(TIMEOUT)" \
		$(if $(GRADE_JOBS),--jobs "$(GRADE_JOBS)") $(if $(UNSANDBOXED),--unsandboxed) $(if $(DUE),--due "$(DUE)")

# Offline decks: reveal.js, require.js, jQuery and MathJax come from the npm
# registry (versions pinned in slides/package-lock.json), installed at build
# time into slides/node_modules and copied next to the decks; nothing is
# vendored into the repository. Copy slides/build/ to present without network.
slides/node_modules/.installed: slides/package.json slides/package-lock.json
	npm ci --prefix slides --no-audit --no-fund --loglevel=error
	touch $@

slides: $(VENV)/.course slides/node_modules/.installed
	$(PY) slides/build.py

# --- measurements -----------------------------------------------------------
# Grader sensitivity (issue: every chapter's grader must notice small mistakes): one class of mutants per
# chapter, graded like a real class; prints the share killed and the survivors. Not part of `make test`.
mutants: $(VENV)/.course
	$(PY) tools/mutants.py $(CHAPTERS)

# Claims that rest on a random draw must hold on other draws: every lecture notebook again with every
# seed moved by each shift; prints a table per notebook and shift. Not part of `make test` (~6 min a
# shift on 2 cores). NOTEBOOKS=notebooks/05_rope.ipynb for one chapter.
SHIFTS ?= 1 2 5
seeds: $(VENV)/.test
	$(PY) tools/seed_shift.py --shifts $(SHIFTS) --jobs $(JOBS) $(NOTEBOOKS)

# bench_rope.py times HF transformers' eager RoPE beside ours: the test extra installs it.
bench: $(VENV)/.test
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) "$$script" || exit 1; done

clean:
	@# Never class data: gradebook.db, submitted/, autograded/, feedback/ and grading/ stay.
	rm -rf $(VENV) slides/build slides/node_modules
