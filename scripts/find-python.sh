#!/usr/bin/env bash
# `scripts/find-python.sh 3.13`: prints the path of a working python3.13, or fails with one line saying how to get one.
#
# Looks, in order, at: $PYTHON<major><minor> (e.g. PYTHON313=/opt/python/bin/python3.13), pyenv's installed versions
# ($(pyenv root)/versions/3.13.*, the newest first; PYENV_VERSION may name one), then python3.13 on PATH. A candidate
# counts only if it runs and reports that version (a pyenv shim of an inactive version does not).
set -euo pipefail
version="${1:?usage: find-python.sh MAJOR.MINOR}"
name="python$version"
override_var="PYTHON${version//./}"

works() { [ -x "$1" ] && "$1" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$version'.split('.'))))" 2>/dev/null; }

candidates=()
[ -n "${!override_var:-}" ] && candidates+=("${!override_var}")
if command -v pyenv > /dev/null 2>&1; then
  root="$(pyenv root)"
  for v in ${PYENV_VERSION:+${PYENV_VERSION//:/ }}; do
    candidates+=("$root/versions/$v/bin/$name")
  done
  while IFS= read -r dir; do
    candidates+=("$dir/bin/$name")
  done < <(ls -d "$root/versions/$version".* 2>/dev/null | sort -V -r)
fi
on_path="$(command -v "$name" 2>/dev/null || true)"
[ -n "$on_path" ] && candidates+=("$on_path")

for candidate in "${candidates[@]}"; do
  if works "$candidate"; then
    echo "$candidate"
    exit 0
  fi
done
echo "$name not found: install it (pyenv install $version) or set $override_var=/path/to/$name" >&2
exit 1
