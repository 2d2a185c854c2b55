#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine: system
# libraries and the Japanese font for PDFs, uv, the locked Python
# environment, and the prepared dbt manifest. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
fc-list 2>/dev/null | grep -qi "IPAexGothic" || need_apt+=(fonts-ipaexfont-gothic)
command -v pdftotext >/dev/null || need_apt+=(poppler-utils)
for lib in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0; do
  dpkg -s "$lib" >/dev/null 2>&1 || need_apt+=("$lib")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing system packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v uv >/dev/null; then
  python3 -m pip install --quiet uv
fi
uv sync --frozen --compile-bytecode --quiet

if [ ! -f dbt_project/target/manifest.json ] || \
   [ -n "$(find dbt_project/models dbt_project/seeds dbt_project/macros dbt_project/dbt_project.yml \
            -newer dbt_project/target/manifest.json 2>/dev/null | head -n 1)" ]; then
  uv run --frozen python -m ar_assets.model.project
fi
