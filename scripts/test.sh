#!/usr/bin/env bash
# Runs every test: installs the package with its test extras (warnings as errors), then the C++
# core's GoogleTest suite (plain and under AddressSanitizer + UBSan), pytest (with the installed
# pandas, then in a venv with the oldest supported pandas), the benchmark smoke run, and the style
# checks. Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}

# GoogleTest comes from Debian; install it when missing and we may.
if ! [ -f /usr/include/gtest/gtest.h ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgtest-dev cmake ninja-build
  else
    echo "GoogleTest is missing: install Debian's libgtest-dev (sudo apt-get install libgtest-dev)" >&2
    exit 1
  fi
fi

echo "== pip install .[test] (C++ warnings are errors)"
"$python" -m pip install --quiet -C cmake.define.ROWPOOL_WERROR=ON ".[test]"

echo "== C++ core: GoogleTest"
cmake -S . -B build/ctest -G Ninja -DROWPOOL_BUILD_TESTS=ON -DROWPOOL_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build/ctest
ctest --test-dir build/ctest --output-on-failure --timeout 120

echo "== C++ core: GoogleTest under AddressSanitizer + UBSan"
cmake -S . -B build/ctest-asan -G Ninja -DROWPOOL_BUILD_TESTS=ON -DROWPOOL_WERROR=ON -DROWPOOL_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build/ctest-asan
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build/ctest-asan --output-on-failure --timeout 120

echo "== pytest"
"$python" -m pytest -q tests

echo "== pytest on the oldest pandas rowpool supports (pyproject: pandas>=2.2)"
oldest=build/venv-pandas-2.2
"$python" -m venv --clear "$oldest"
"$oldest/bin/python" -m pip install --quiet "pandas==2.2.*" ".[test]"
"$oldest/bin/python" -m pytest -q -p no:cacheprovider tests

echo "== benchmark smoke run"
smoke_out=$(mktemp -d)
"$python" bench/run.py --smoke --out "$smoke_out"
rm -rf "$smoke_out"

echo "== style"
"$python" -m ruff check src tests bench
"$python" -m ruff format --check src tests bench

echo "all tests passed"
