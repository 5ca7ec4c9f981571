#!/usr/bin/env bash
# Mutation testing of the SDK's request path: every non-test file of the
# root package that a request goes through, from the client and its
# options to the transport, retries, waits, the rate-limit gate, decoding,
# errors and webhooks. A mutant that lives is a change to that code that no
# test notices.
#
# Slow (tens of minutes), so not part of .ci/run. Needs gremlins v0.6.0
# (go install github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0) and jq.
#
#   scripts/mutation.sh [out.json]        run, then print efficacy per file
#   scripts/mutation.sh --report out.json  print efficacy per file of an earlier run
#   scripts/mutation.sh --report-log run.txt   the same from gremlins' printed
#                                              lines, for a run stopped early
#
# GREMLINS (the binary, default gremlins on PATH), WORKERS (default 1) and
# FILES (a space-separated subset of the files below) may be set in the
# environment.
#
# gremlins has no option for flags to go test, but its test runs inherit the
# environment, so GOFLAGS=-short puts them in short mode.
#
# Efficacy is killed / (killed + lived), as gremlins counts it: a mutant
# whose tests time out (TIMED OUT, such as one that makes a wait endless)
# counts neither way.
#
# gremlins counts the case lines of a tagless switch (switch { case a < b: })
# as not covered even when tests run them: those mutants (NOT COVERED in the
# listing) must be examined by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

files=(client.go options.go request.go retry.go policy.go transport.go conns.go
  redirect.go decode.go scan.go scan_run.go gate.go ratelimit.go clock.go errors.go
  outcome.go webhooks.go wake.go)
if [ -n "${FILES:-}" ]; then
  read -r -a files <<<"$FILES" # a subset, such as FILES="gate.go retry.go"
fi

report() {
  local json=$1
  echo "== per file: efficacy is killed / (killed + lived)"
  jq -r '
    def n($s): [.mutations[] | select(.status == $s)] | length;
    (["file", "killed", "lived", "not-covered", "timed-out", "efficacy"] | @tsv),
    (.files[] | [.file_name, n("KILLED"), n("LIVED"), n("NOT COVERED"), n("TIMED OUT"),
      (if n("KILLED") + n("LIVED") == 0 then "n/a"
       else (((n("KILLED") * 10000 / (n("KILLED") + n("LIVED"))) | floor) / 100 | tostring) + "%" end)] | @tsv)' "$json" |
    column -t -s $'\t'
  echo "== lived and not covered mutants"
  jq -r '.files[] | .file_name as $f | .mutations[] | select(.status == "LIVED" or .status == "NOT COVERED") |
    "  \(.status) \($f):\(.line):\(.column) \(.type)"' "$json"
  jq -r '"== total: efficacy \(.test_efficacy)% mutant coverage \(.mutations_coverage)% killed \(.mutants_killed) lived \(.mutants_lived) not covered \(.mutants_not_covered) timed out \([.files[].mutations[] | select(.status == "TIMED OUT")] | length)"' "$json"
}

# report_log prints the same per-file figures from gremlins' printed
# lines, for a run that was stopped before it wrote its JSON.
report_log() {
  awk '{
    for (i = 1; i <= NF && $i != "at"; i++) {}
    if (i > NF || $(i+1) !~ /\.go:/) next
    status = $1; for (j = 2; j < i - 1; j++) status = status " " $j
    split($(i+1), loc, ":"); f = loc[1]
    if (!(f in seen)) { seen[f] = 1; order[++nf] = f }
    count[f, status]++
    if (status == "LIVED" || status == "NOT COVERED") list[f] = list[f] "  " status " " $(i+1) " " $(i-1) "\n"
  } END {
    for (n = 1; n <= nf; n++) {
      f = order[n]; k = count[f, "KILLED"] + 0; l = count[f, "LIVED"] + 0
      if (n == 1) printf "%-14s %7s %6s %12s %10s %9s\n", "file", "killed", "lived", "not-covered", "timed-out", "efficacy"
      printf "%-14s %7d %6d %12d %10d %9s\n", f, k, l, count[f, "NOT COVERED"] + 0, count[f, "TIMED OUT"] + 0,
        (k + l ? sprintf("%.2f%%", 100 * k / (k + l)) : "n/a")
      lists = lists list[f]
      tk += k; tl += l
    }
    printf "== lived and not covered mutants\n%s", lists
    if (tk + tl) printf "== total: efficacy %.2f%% killed %d lived %d\n", 100 * tk / (tk + tl), tk, tl
  }' "$1"
}

if [ "${1:-}" = "--report-log" ]; then
  report_log "${2:?usage: $0 --report-log gremlins-output.txt}"
  exit 0
fi

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
