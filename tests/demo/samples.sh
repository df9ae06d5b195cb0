#!/bin/bash
# tests/demo/samples.sh - the shipped sample captures stay readable.
#
# samples/*.htc are opened by people with no root on machines that never ran
# httpcap, with whatever httpanalyze they built.  This test (no root needed)
# makes sure the current reader still opens each of them without warnings,
# that the summary lists the demo's endpoints, that the /slow requests still
# carry their downstream calls, and that the secret sent by the demo in an
# Authorization header was redacted before it reached the file.
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
HTTPANALYZE=${HTTPANALYZE:-$BUILD/httpanalyze}
PYTHON=${PYTHON:-/usr/bin/python3}
fail() { echo "FAIL: test-samples: $*"; exit 1; }
err=$(mktemp) || exit 1
trap 'rm -f "$err"' EXIT

shopt -s nullglob
files=("$@")    # default: every shipped sample
[ $# -gt 0 ] || files=("$TOP"/samples/*.htc)
[ ${#files[@]} -gt 0 ] || fail "no samples/*.htc (make samples writes them, as root)"

for f in "${files[@]}"; do
	[ -f "$f" ] || fail "no file '$f'"
	name=${f#"$TOP"/}
	out=$("$HTTPANALYZE" "$f" 2>"$err") ||
		fail "'httpanalyze $name' exited with $?: $(head -3 "$err")"
	if grep -qiE 'warning|error|truncat|corrupt' "$err"; then
		fail "'httpanalyze $name' warned: $(head -3 "$err")"
	fi
	for ep in /users /external /slow /health /api/rates /api/report; do
		grep -q -- "$ep" <<<"$out" || fail "the summary of $name does not list $ep"
	done
	# Every /slow request made 5 calls (4 Redis, 1 HTTP); every /users 3.
	"$HTTPANALYZE" requests --format json "$f" | "$PYTHON" -c '
import json, sys
want = {"/slow": 5, "/users": 3, "/external": 1, "/health": 0}
seen = {}
for line in sys.stdin:
    r = json.loads(line)
    ep = (r.get("path") or "").split("?")[0]
    if ep in want:
        seen[ep] = seen.get(ep, 0) + 1
        if r.get("status") == 200 and r.get("calls") != want[ep]:
            sys.exit("%s: %s calls, expected %d" % (r.get("path"), r.get("calls"), want[ep]))
missing = [ep for ep in want if ep not in seen]
if missing:
    sys.exit(f"no request for {missing}")
' || fail "requests of $name do not match the demo"
	if command -v zstdcat >/dev/null && zstdcat -q "$f" 2>/dev/null | grep -qa 'demo-secret-token'; then
		fail "$name holds the Authorization secret unredacted"
	fi
	echo "  ok $name: $(wc -c <"$f") bytes"
done
echo "PASS: test-samples"
