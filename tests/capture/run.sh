#!/bin/bash
# tests/capture/run.sh - run httpcap's end-to-end cases (tests/capture/e2e_*.sh).
#
#   bash tests/capture/run.sh [CASE...]     e.g. run.sh nginx filters
#
# Each case runs in its own bash with a time limit; its output is shown when
# it fails.  Needs root (BPF); otherwise prints SKIP and succeeds.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
export BUILD=${BUILD:-build}

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root to load BPF"
	exit 0
fi

cases=()
if [ $# -gt 0 ]; then
	for c in "$@"; do cases+=("$HERE/e2e_$c.sh"); done
else
	for f in "$HERE"/e2e_*.sh; do cases+=("$f"); done
fi

pass=0 failed=() skipped=0
for f in "${cases[@]}"; do
	name=$(basename "$f" .sh)
	name=${name#e2e_}
	[ -f "$f" ] || { echo "  unknown case '$name'"; failed+=("$name"); continue; }
	log=$(mktemp)
	start=$(date +%s)
	timeout -k 10 "${CASE_TIMEOUT:-600}" bash "$f" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	if [ $rc = 0 ] && grep -q '^SKIP' "$log"; then
		echo "  SKIP     $name ($(grep -m1 '^SKIP' "$log"))"
		skipped=$((skipped + 1))
	elif [ $rc = 0 ]; then
		echo "  PASS     $name (${secs}s)"
		pass=$((pass + 1))
	else
		[ $rc = 124 ] && echo "  (timed out)" >>"$log"
		echo "  FAIL     $name (${secs}s, status $rc)"
		sed 's/^/           | /' "$log" | tail -n 60
		failed+=("$name")
	fi
	rm -f "$log"
done
echo "  e2e: $pass passed, ${#failed[@]} failed, $skipped skipped${failed:+: ${failed[*]}}"
[ ${#failed[@]} = 0 ]
