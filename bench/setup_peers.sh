#!/usr/bin/env bash
# Create the benchmark environments (both gitignored):
#   bench/.venv          the newest pandas, the pandas-3-capable peers, and rowpool from this checkout
#   bench/.venv-pandas2  pandas 2.x and the peers that fail to import on pandas 3
#                        (pandarallel, mapply, parallel-pandas); bench/run.py starts them with it
# Usage: bash bench/setup_peers.sh [--no-rowpool]   (PYTHON=python3.11 to pick the interpreter)
# Then:  bench/.venv/bin/python bench/run.py --workers 2
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
python="${PYTHON:-python3}"

make_venv() {  # make_venv DIR REQUIREMENTS
    [ -x "$1/bin/python" ] || "$python" -m venv "$1"
    "$1/bin/python" -m pip install -q --upgrade pip
    "$1/bin/python" -m pip install -q -r "$2"
}

make_venv "$here/.venv" "$here/requirements.txt"
if [ "${1:-}" != "--no-rowpool" ]; then
    "$here/.venv/bin/python" -m pip install -q "$root"
fi
make_venv "$here/.venv-pandas2" "$here/requirements-pandas2.txt"
echo "ready: $here/.venv/bin/python bench/run.py --workers 2"
