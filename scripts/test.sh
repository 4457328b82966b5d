#!/usr/bin/env bash
# Runs every test: installs the package with its test extras (warnings as errors), then the C++
# core's GoogleTest suite (plain and under AddressSanitizer + UBSan), pytest (with the installed
# pandas, then against the extension built with AddressSanitizer + UBSan, then in a venv with the
# oldest supported pandas), the benchmark smoke run, the style checks (ruff, clang-format) and
# the type check (mypy). The dask extra is installed in both pytest venvs: tests/test_dask.py runs
# in each (no skips).
# Usage: bash scripts/test.sh
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

echo "== pip install .[test,dask] (C++ warnings are errors)"
"$python" -m pip install --quiet -C cmake.define.ROWPOOL_WERROR=ON ".[test,dask]"

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

echo "== pytest against the extension built with AddressSanitizer + UBSan"
# A separate install (build/asan-site, first on PYTHONPATH) leaves the normal one alone. The
# sanitizer runtimes are preloaded because python itself is not built with them; workers are
# spawned with sys.executable and inherit the environment, so they run sanitized too. CPython
# leaks at exit by design: no leak check. Deliberate segfaults in fault tests must stay signals.
# Reports go to files, since a worker that dies of one is replaced and the test may still pass.
# Worker memory limits and time budgets do not hold with ASan's shadow memory and slow start-up
# (~3x): those tests run in the plain pass only.
asan_site=build/asan-site
asan_logs=$PWD/build/asan-logs
"$python" -m pip install --quiet --no-deps --upgrade --target "$asan_site" -C build-dir=build/asan \
  -C cmake.build-type=Debug -C cmake.define.ROWPOOL_SANITIZE=ON -C cmake.define.ROWPOOL_WERROR=ON .
rm -rf "$asan_logs" && mkdir -p "$asan_logs"
(
  export LD_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libubsan.so)"
  export ASAN_OPTIONS="detect_leaks=0:handle_segv=0:handle_sigbus=0:handle_sigfpe=0:log_path=$asan_logs/asan"
  export UBSAN_OPTIONS="print_stacktrace=1:log_path=$asan_logs/ubsan"
  export PYTHONMALLOC=malloc PYTHONPATH="$PWD/$asan_site"
  "$python" -c "import rowpool._core as c, sys; sys.exit(not c.__file__.startswith('$PWD/$asan_site'))"
  "$python" -m pytest -q -p no:cacheprovider tests/test_dtypes.py tests/test_api.py \
    tests/test_fidelity.py tests/test_errors.py tests/test_faults.py \
    -k "not max_worker_memory and not soak and not death_found_while_sending"
)
if [ -n "$(ls -A "$asan_logs")" ]; then
  cat "$asan_logs"/* >&2
  echo "AddressSanitizer/UBSan reported errors (above)" >&2
  exit 1
fi

echo "== pytest on the oldest pandas rowpool supports (pyproject: pandas>=2.2)"
oldest=build/venv-pandas-2.2
"$python" -m venv --clear "$oldest"
"$oldest/bin/python" -m pip install --quiet "pandas==2.2.*" ".[test,dask]"
"$oldest/bin/python" -m pytest -q -p no:cacheprovider tests

echo "== benchmark smoke run"
smoke_out=$(mktemp -d)
"$python" bench/run.py --smoke --out "$smoke_out"
rm -rf "$smoke_out"

echo "== style"
"$python" -m ruff check src tests bench
"$python" -m ruff format --check src tests bench
echo "== types (mypy)"
"$python" -m mypy
# clang-format from PyPI (the test extras pin it), so every machine formats alike.
clang_format=$("$python" -c "import clang_format; print(clang_format.get_executable('clang-format'))")
git ls-files -z 'cpp/*.cpp' 'cpp/*.hpp' | xargs -0 "$clang_format" --dry-run --Werror

echo "all tests passed"
