# Sourced by scripts/serve, scripts/test and scripts/bench: makes sure .venv exists
# and matches requirements.lock, so a fresh clone needs no manual step.
# The lock is produced from pyproject.toml by scripts/lock and pins every package by hash.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMP="$VENV/.payflow-lock.sha256"
want="$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
    echo "payflow: preparing .venv from requirements.lock (first run only)…" >&2
    PYTHON="${PYTHON:-python3}"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    # This machine's pip.conf may name local mirrors that do not exist; their warnings are noise.
    pip_quiet() { "$VENV/bin/python" -m pip "$@" --quiet --disable-pip-version-check \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
    pip_quiet install --require-hashes --no-deps -r requirements.lock
    pip_quiet install --no-deps --no-build-isolation -e .
    echo "$want" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
