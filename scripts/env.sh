# Sourced by scripts/parity and scripts/test: makes sure the pinned PyTorch environment exists
# (installs it once, ~5 GB, into a cache shared by every clone) and puts it first on PATH.
# LOGREG_VENV overrides where that environment lives.

LOGREG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${LOGREG_VENV:=${XDG_CACHE_HOME:-$HOME/.cache}/logreg/venv-torch-2.11.0}"
export LOGREG_VENV

logreg_ensure_venv() {
    local req="$LOGREG_ROOT/scripts/requirements.txt" stamp="$LOGREG_VENV/.logreg-requirements"
    cmp -s "$req" "$stamp" 2>/dev/null && return 0
    mkdir -p "$(dirname "$LOGREG_VENV")"
    (
        # One installer at a time, even when two scripts start together.
        flock 9
        cmp -s "$req" "$stamp" 2>/dev/null && exit 0
        echo "logreg: installing the PyTorch environment into $LOGREG_VENV (once; about 5 GB)" >&2
        if [ ! -x "$LOGREG_VENV/bin/python3" ]; then
            python3 -m venv "$LOGREG_VENV" || exit 1
        fi
        "$LOGREG_VENV/bin/python3" -m pip install --disable-pip-version-check -q -r "$req" || exit 1
        cp "$req" "$stamp"
    ) 9>"$LOGREG_VENV.lock"
}

logreg_ensure_venv || { echo "logreg: could not install the PyTorch environment (see above)" >&2; exit 1; }
export VIRTUAL_ENV="$LOGREG_VENV"
export PATH="$LOGREG_VENV/bin:$PATH"
export LIBTORCH_USE_PYTORCH=1
