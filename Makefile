# make demo  - replay 60 days of public AR history and a synthetic day, print the results
# make test  - run the test suite
# make ui    - the Dagster UI on the bundled sandbox
# make bench - land 100,000 rows from the sandbox at 300 ms a request; print rows/s vs ideal
.PHONY: setup demo test ui bench lint

setup:
	@bash scripts/setup.sh

demo: setup
	uv run --frozen python -m ar_assets.demo

test: setup
	uv run --frozen pytest -q -n 2 --dist loadfile

ui: setup
	uv run --frozen python -m ar_assets.sandbox.ui

bench: setup
	uv run --frozen python scripts/bench_land.py --rows 100000 --latency 0.3 --concurrency 2

lint: setup
	uv run --frozen ruff check .
