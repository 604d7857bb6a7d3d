#!/usr/bin/env bash
# Checks that every tracked .h/.cpp file is formatted as the root .clang-format says
# (Debian clang-format 14). Lists the files that are not and exits 1; fix them with
#   clang-format -i FILE...
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.h' '*.cpp')
if out=$(clang-format --dry-run --Werror "${files[@]}" 2>&1); then
  echo "check_format: ${#files[@]} files formatted"
  exit 0
fi
mapfile -t bad < <(grep -oE '^[^:]+\.(h|cpp):[0-9]+:[0-9]+: error' <<<"$out" | cut -d: -f1 | sort -u)
if ((${#bad[@]} == 0)); then
  echo "$out" >&2  # clang-format itself failed
  exit 1
fi
echo "check_format: ${#bad[@]} of ${#files[@]} files are not clang-formatted (clang-format -i FILE...):" >&2
printf '  %s\n' "${bad[@]}" >&2
exit 1
