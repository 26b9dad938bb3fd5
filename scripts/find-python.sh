#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter (Rasa 3.6 runs on 3.8-3.10 only),
# looking at $PYTHON, python3.10 on PATH, then pyenv's versions. Exits 1 with a
# message naming what to install when there is none.
set -u

is_310() { [ -n "$1" ] && [ -x "$1" ] && "$1" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }

candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$(command -v "$PYTHON" || echo "$PYTHON")")
command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
if command -v pyenv >/dev/null 2>&1; then
  for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | sort -t. -k3 -n -r); do
    candidates+=("$(pyenv root)/versions/$v/bin/python")
  done
fi
for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*; do
  candidates+=("$dir/bin/python")
done
candidates+=(/usr/bin/python3.10 /usr/local/bin/python3.10 python3)

for c in "${candidates[@]}"; do
  c=$(command -v "$c" 2>/dev/null || true)
  if is_310 "$c"; then
    echo "$c"
    exit 0
  fi
done

cat >&2 <<'MSG'
error: Jikimi needs Python 3.10 (Rasa 3.6 supports Python 3.8-3.10 only), and none was found.
Install one, then run make again, for example:
  pyenv install 3.10        (with pyenv), or
  sudo apt-get install python3.10 python3.10-venv    (Debian/Ubuntu with 3.10 packages)
or point to one: make PYTHON=/path/to/python3.10 ...
MSG
exit 1
