# make demo  - replay 60 days of public AR history and a synthetic day, print the results
# make test  - run the test suite
# make ui    - the Dagster UI on the bundled sandbox
.PHONY: setup demo test ui bench lint

setup:
	@bash scripts/setup.sh

demo: setup
	uv run --frozen python -m ar_assets.demo

test: setup
	uv run --frozen pytest -q -n 2 --dist loadfile

ui: setup
	uv run --frozen python -m ar_assets.sandbox.ui

lint: setup
	uv run --frozen ruff check .
