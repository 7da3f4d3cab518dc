# The README's commands. `make demo` installs and makes an MP3; `make test` installs and runs the tests.
PROMPT ?= rainy lo-fi piano, 80 bpm
OUT ?= promptjam-demo.mp3

.PHONY: install install-dev demo test lint bench

install:
	scripts/install.sh

install-dev:
	scripts/install.sh --dev

demo: install
	.venv/bin/promptjam make "$(PROMPT)" -o "$(OUT)"

test: install-dev
	.venv/bin/python -m pytest

lint:
	.venv/bin/ruff check bot cogs services tests bench
	.venv/bin/mypy bot cogs services

bench:
	.venv/bin/python bench/styles.py
	.venv/bin/python bench/bot_load.py
