#!/usr/bin/env bash
# Self-test of the ADR Spectral ruleset (spectral/adr.spectral.yaml).
#
#   1. spectral/fixtures/good.json must lint with zero errors;
#   2. spectral/fixtures/bad.json must get an ERROR from every custom rule of
#      the ruleset (every `adr-*` rule name defined in adr.spectral.yaml).
#
# Exits 0 only if both hold. Needs `npm ci` (or `npm install`) in the repository
# root first; uses the pinned local Spectral only (npx --no-install).
# Usage: bash spectral/selftest.sh   (from any directory)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

ruleset=spectral/adr.spectral.yaml
good=spectral/fixtures/good.json
bad=spectral/fixtures/bad.json

if ! npx --no-install spectral --version >/dev/null 2>&1; then
  echo "selftest: Spectral is not installed; run 'npm ci' in $root first" >&2
  exit 2
fi
echo "Spectral $(npx --no-install spectral --version)"

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "  ok    $1"; }
fail() { failed=$((failed + 1)); echo "  FAIL  $1"; }

# The custom rule names, as defined at the top level of `rules:` (two-space indent).
mapfile -t rules < <(grep -E '^  adr-[a-z0-9-]+:[[:space:]]*$' "$ruleset" | sed -E 's/^  ([a-z0-9-]+):.*/\1/')
if [ "${#rules[@]}" -eq 0 ]; then
  echo "selftest: no adr-* rules found in $ruleset" >&2
  exit 2
fi
echo "${#rules[@]} custom rules in $ruleset"

# --- 1. good.json: no errors --------------------------------------------------
echo "good fixture ($good): expect no errors"
set +e
npx --no-install spectral lint --fail-severity=error --ruleset "$ruleset" "$good" >"$workdir/good.txt" 2>&1
rc=$?
set -e
if [ "$rc" -eq 0 ]; then
  pass "$good has no errors"
else
  fail "$good: spectral exited $rc"
  cat "$workdir/good.txt"
fi

# --- 2. bad.json: every custom rule reports an error ----------------------------
echo "bad fixture ($bad): expect an error from every custom rule"
set +e
npx --no-install spectral lint --fail-severity=error --ruleset "$ruleset" \
  --format json --output "$workdir/bad.json" "$bad" >"$workdir/bad.log" 2>&1
rc=$?
set -e
if [ "$rc" -ne 1 ]; then
  # 0 = no errors at all; anything but 1 = Spectral itself failed (bad ruleset, ...)
  fail "$bad: spectral exited $rc (expected 1: errors found)"
  cat "$workdir/bad.log"
  [ -f "$workdir/bad.json" ] && cat "$workdir/bad.json"
else
  # rule names (codes) of results with severity 0 (= error), one per line
  node -e '
    const results = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const codes = new Set(results.filter((r) => r.severity === 0).map((r) => String(r.code)));
    process.stdout.write([...codes].sort().join("\n") + "\n");
  ' "$workdir/bad.json" >"$workdir/bad-codes.txt"
  for rule in "${rules[@]}"; do
    if grep -qxF "$rule" "$workdir/bad-codes.txt"; then
      pass "$rule reports an error on $bad"
    else
      fail "$rule reports NO error on $bad"
    fi
  done
fi

echo "selftest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
