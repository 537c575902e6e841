#!/usr/bin/env bash
# Style checks CI runs (tests/run.sh): the code is formatted as `dotnet format` leaves it (whitespace, code style and
# analyzer fixes under .editorconfig), and the number of C# lines over 140 characters does not grow
# (tests/long-lines.baseline; lower it when you wrap some: `bash tests/style.sh --update-baseline`).
# Prints one line per check, "style: <check>: passed|failed ..."; exits non-zero when a check failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
baseline_file=tests/long-lines.baseline
count_long() {
  find src native tests bench -name '*.cs' -not -path '*/obj/*' -not -path '*/bin/*' -print0 \
    | xargs -0 awk 'length > 140' | wc -l
}
if [ "${1:-}" = --update-baseline ]; then count_long > "$baseline_file"; echo "style: baseline now $(cat "$baseline_file")"; exit 0; fi
rc=0
log=$(mktemp)
if dotnet format SparseKernels.sln --verify-no-changes > "$log" 2>&1; then
  echo "style: dotnet format --verify-no-changes: passed"
else
  echo "style: dotnet format --verify-no-changes: failed (run \`dotnet format SparseKernels.sln\`):"
  grep -E "error|warning" "$log" | grep -v "Warnings were encountered" | head -n 20
  rc=1
fi
rm -f "$log"
long=$(count_long); allowed=$(cat "$baseline_file" 2>/dev/null || echo 0)
if [ "$long" -le "$allowed" ]; then
  echo "style: lines over 140 characters: passed ($long, at most $allowed)"
else
  echo "style: lines over 140 characters: failed ($long, at most $allowed allowed; wrap the new ones):"
  find src native tests bench -name '*.cs' -not -path '*/obj/*' -not -path '*/bin/*' -print0 \
    | xargs -0 awk 'length > 140 { print FILENAME ":" FNR ": " length " characters" }' | head -n 20
  rc=1
fi
exit $rc
