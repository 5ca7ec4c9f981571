#!/usr/bin/env bash
# Mutation testing of the SDK's request path: request.go, retry.go, policy.go,
# transport.go, conns.go, redirect.go, decode.go, gate.go, ratelimit.go,
# errors.go and webhooks.go. A mutant that lives is a change to that code
# that no test notices.
#
# Slow (tens of minutes), so not part of .ci/run. Needs gremlins v0.6.0
# (go install github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0) and jq.
#
#   scripts/mutation.sh [out.json]        run, then print efficacy per file
#   scripts/mutation.sh --report out.json  print efficacy per file of an earlier run
#
# GREMLINS (the binary, default gremlins on PATH) and WORKERS (default 1)
# may be set in the environment.
#
# gremlins has no option for flags to go test, but its test runs inherit the
# environment, so GOFLAGS=-short puts them in short mode.
#
# gremlins counts the case lines of a tagless switch (switch { case a < b: })
# as not covered even when tests run them: those mutants (NOT COVERED in the
# listing) must be examined by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

files=(request.go retry.go policy.go transport.go conns.go redirect.go
  decode.go gate.go ratelimit.go errors.go webhooks.go)

report() {
  local json=$1
  echo "== efficacy per file (killed / (killed + lived)); lived and not covered listed"
  jq -r '
    .files[] | .file_name as $f |
    [.mutations[] | select(.status == "KILLED")] as $k |
    [.mutations[] | select(.status == "LIVED")] as $l |
    [.mutations[] | select(.status == "NOT COVERED")] as $n |
    "\($f): efficacy \(if ($k|length)+($l|length) == 0 then "n/a" else ((($k|length)*10000/(($k|length)+($l|length))|floor)/100|tostring) + "%" end) killed \($k|length) lived \($l|length) not-covered \($n|length)",
    ($l[] | "  LIVED \($f):\(.line):\(.column) \(.type)"),
    ($n[] | "  NOT COVERED \($f):\(.line):\(.column) \(.type)")' "$json"
  jq -r '"== total: efficacy \(.test_efficacy)% mutant coverage \(.mutations_coverage)% killed \(.mutants_killed) lived \(.mutants_lived) not covered \(.mutants_not_covered) timed out \(.mutants_timed_out // 0)"' "$json"
}

if [ "${1:-}" = "--report" ]; then
  report "${2:?usage: $0 --report out.json}"
  exit 0
fi

out=${1:-mutation.json}
excludes=(--exclude-files '/') # every subdirectory: examples/, cmd/, internal/, bitscaletest/
for f in *.go; do
  case $f in *_test.go) continue ;; esac
  keep=
  for k in "${files[@]}"; do [ "$f" = "$k" ] && keep=1; done
  [ -n "$keep" ] || excludes+=(--exclude-files "^${f//./\\.}\$")
done

GOFLAGS="${GOFLAGS:+$GOFLAGS }-short" "${GREMLINS:-gremlins}" unleash \
  --workers "${WORKERS:-1}" "${excludes[@]}" -o "$out" .
report "$out"
