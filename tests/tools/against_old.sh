#!/usr/bin/env bash
# Run this tree's tests against edgetl's code as it was at an older commit (default cfcc9cd: main
# before the issue 12 fixes), or against this tree's code with --head, through the same machinery.
#
#   tests/tools/against_old.sh tests/test_hardening.py -k val_split          # code of cfcc9cd
#   tests/tools/against_old.sh --head tests/test_hardening.py -k val_split   # code of this tree
#   tests/tools/against_old.sh --rev abc1234 tests/test_hardening.py         # another commit
#
# The old code is `git archive REV` unpacked into $EDGETL_OLD_TREE (default /tmp/edgetl-at-REV; an
# existing folder, such as a `git worktree`, is used as it is). pytest runs with that folder as cwd and
# first on PYTHONPATH, so in-process calls (edgetl.cli.main) and `python -m edgetl` subprocesses both
# run the old code; tests/tools/pin_edgetl.py stops the run if edgetl is imported from anywhere else
# and prints "edgetl under test: ..." in the header. Tests and fixtures are always this tree's.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rev=cfcc9cd
head=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --rev) rev=$2; shift 2 ;;
    --head) head=1; shift ;;
    *) break ;;
  esac
done
if [[ $head == 1 ]]; then
  code=$repo
else
  code=${EDGETL_OLD_TREE:-/tmp/edgetl-at-$rev}
  if [[ ! -d $code/edgetl ]]; then
    mkdir -p "$code"
    git -C "$repo" archive "$rev" edgetl pyproject.toml | tar -x -C "$code"
  fi
fi
args=()
for a in "$@"; do  # test paths relative to the repo work from any cwd
  if [[ $a == tests/* ]]; then args+=("$repo/$a"); else args+=("$a"); fi
done
cd "$code"
# The old code reads some inputs without bound (a device as --config, a YAML alias bomb, a huge --batch):
# cap the address space, so such a test fails with MemoryError instead of taking the machine's memory.
ulimit -v $(( ${EDGETL_MEM_LIMIT_GB:-8} * 1024 * 1024 ))
export PYTHONPATH="$code:$repo/tests/tools${PYTHONPATH:+:$PYTHONPATH}" EDGETL_UNDER_TEST=$code
export EDGETL_DATA_DIR=${EDGETL_DATA_DIR:-$repo/../shared/data}
exec "${PYTHON:-$repo/.venv/bin/python}" -m pytest -p pin_edgetl -p no:cacheprovider \
  --rootdir "$repo" -c "$repo/pyproject.toml" "${args[@]}"
