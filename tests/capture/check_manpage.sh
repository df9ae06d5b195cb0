#!/bin/bash
# tests/capture/check_manpage.sh - docs/httpcap.8 stays true to the CLI:
# every option `httpcap --help` lists is documented in the man page, and
# the man page documents no option httpcap rejects.  No root needed.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HTTPCAP=${HTTPCAP:-$ROOT/${BUILD:-build}/httpcap}
MAN="$ROOT/docs/httpcap.8"

help=$("$HTTPCAP" --help) || { echo "FAIL: httpcap --help exited $?"; exit 1; }
# the man page's text with roff escapes for '-' undone
man=$(sed -e 's/\\-/-/g' "$MAN")
if command -v groff >/dev/null; then
	warn=$(groff -man -ww -z "$MAN" 2>&1)
	[ -z "$warn" ] || { echo "FAIL: groff warnings on docs/httpcap.8: $warn"; exit 1; }
fi
fails=0
for opt in $(echo "$help" | grep -o -- '\(^\|[ [,]\)--\?[a-zA-Z][a-z-]*' | tr -d ' [,' | sort -u); do
	case "$opt" in -|--) continue ;; esac
	grep -q -- "$opt" <<<"$man" || { echo "FAIL: option $opt of --help is not in docs/httpcap.8"; fails=1; }
done
for opt in $(grep -o -- '^\.B[IR]* \\-[a-zA-Z\\-]*' "$MAN" | sed -e 's/^\.B[IR]* //' -e 's/\\-/-/g' | sort -u); do
	grep -q -- "$opt" <<<"$help" || { echo "FAIL: docs/httpcap.8 documents $opt, --help does not list it"; fails=1; }
done
[ $fails = 0 ] && echo "  man page: every option of --help documented"
exit $fails
