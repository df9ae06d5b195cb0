#!/bin/bash
# tests/capture/check_cli.sh - the three tools speak one flag language and
# say so everywhere (issue 20), no root needed:
#  1. for httpcap, httpanalyze and httpreplay, the long options of --help,
#     of the man page's option entries and of the README's option list
#     (between "<!-- options: TOOL -->" and "<!-- end options -->") are the
#     same set;
#  2. -V/--version and -h/--help work in each;
#  3. every bad value of a numeric or enumerated flag of httpanalyze and
#     httpreplay is refused, exit status 2, with a message naming the value
#     (httpcap's are in capture/test_core.c, table-driven, with the parser).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B="$ROOT/${BUILD:-build}"
fails=0
bad() { echo "FAIL: $*"; fails=1; }

# long options named in a text: --word-word
longs() { grep -o -- '--[a-z][a-z0-9-]*[a-z0-9]' | sort -u; }

for tool in httpcap httpanalyze httpreplay; do
	case $tool in
	httpcap) man="$ROOT/docs/httpcap.8" ;;
	*) man="$ROOT/docs/$tool.1" ;;
	esac
	if command -v groff >/dev/null; then
		warn=$(groff -man -ww -z "$man" 2>&1)
		[ -z "$warn" ] || bad "groff warnings on $(basename "$man"): $warn"
	fi
	help=$("$B/$tool" --help) || { bad "$tool --help exited $?"; continue; }
	h=$(longs <<<"$help")
	# the man page's option entries: the tag line after each .TP
	m=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$man" | awk 'prev == ".TP" { print } { prev = $0 }' | longs)
	r=$(sed -n "/<!-- options: $tool -->/,/<!-- end options -->/p" "$ROOT/README.md" | longs)
	[ -n "$r" ] || bad "README.md has no option list for $tool (<!-- options: $tool -->)"
	d=$(diff <(echo "$h") <(echo "$m")) ||
		bad "$tool: --help (<) and $(basename "$man") option entries (>) differ:"$'\n'"$d"
	d=$(diff <(echo "$h") <(echo "$r")) ||
		bad "$tool: --help (<) and README.md's option list (>) differ:"$'\n'"$d"
	for v in -V --version; do
		out=$("$B/$tool" $v) && grep -q "^$tool [0-9]" <<<"$out" || bad "$tool $v: '$out'"
	done
	"$B/$tool" -h | grep -q -- --help || bad "$tool -h"
done

# expect_bad TOOL 'MESSAGE' ARGS...: exit status 2 and MESSAGE on stderr
expect_bad() {
	local tool=$1 msg=$2 err rc
	shift 2
	err=$("$B/$tool" "$@" 2>&1 >/dev/null)
	rc=$?
	[ $rc = 2 ] || bad "$tool $*: exit status $rc, want 2 ($err)"
	grep -qF -- "$msg" <<<"$err" || bad "$tool $*: message '$err' lacks '$msg'"
}

S="$ROOT/samples/demo.htc"
R=(-t http://127.0.0.1:1)
# httpreplay: each numeric flag negative, zero, overflowing, with junk, empty
for v in -1 0 99999999999999999999 10x '' ' 5' 1e3; do
	expect_bad httpreplay "--concurrency '$v'" "$S" "${R[@]}" --concurrency "$v"
	expect_bad httpreplay "'$v'" "$S" "${R[@]}" --count "$v"
done
for v in -1 0 10x '' inf nan 0x10 1e3 99999999999999999999; do
	expect_bad httpreplay "--speed '$v'" "$S" "${R[@]}" --speed "$v"
	expect_bad httpreplay "--rate '$v'" "$S" "${R[@]}" --rate "$v"
	expect_bad httpreplay "--timeout '$v'" "$S" "${R[@]}" --timeout "$v"
	expect_bad httpreplay "--connect-timeout '$v'" "$S" "${R[@]}" --connect-timeout "$v"
done
for v in -1 10x '' 99999999999999999999; do
	expect_bad httpreplay "--max-mismatch '$v'" "$S" "${R[@]}" --max-mismatch "$v"
	expect_bad httpreplay "--pid '$v'" "$S" "${R[@]}" --pid "$v"
done
for v in -1 0 65536 80x '' 99999999999999999999; do
	expect_bad httpreplay "--port '$v'" "$S" "${R[@]}" --port "$v"
done
expect_bad httpreplay "--format 'xml'" "$S" "${R[@]}" --format xml
expect_bad httpreplay "--format ''" "$S" "${R[@]}" --format ''
expect_bad httpreplay "--status '99'" "$S" "${R[@]}" --status 99
expect_bad httpreplay "--status '5xx,'" "$S" "${R[@]}" --status 5xx,
expect_bad httpreplay "--min-duration '10parsecs'" "$S" "${R[@]}" --min-duration 10parsecs
expect_bad httpreplay "--min-duration '-5ms'" "$S" "${R[@]}" --min-duration -5ms
expect_bad httpreplay "--since 'yesterday'" "$S" "${R[@]}" --since yesterday
expect_bad httpreplay "--until ''" "$S" "${R[@]}" --until ''
expect_bad httpreplay "--method ''" "$S" "${R[@]}" --method ''
expect_bad httpreplay "--path ''" "$S" "${R[@]}" --path ''
expect_bad httpreplay "--comm ''" "$S" "${R[@]}" --comm ''
expect_bad httpreplay "--host ''" "$S" "${R[@]}" --host ''
expect_bad httpreplay "--drop-header ''" "$S" "${R[@]}" --drop-header ''
expect_bad httpreplay "--header 'nocolon'" "$S" "${R[@]}" --header nocolon
expect_bad httpreplay "--target ''" "$S" --target ''
# old short flags, used the old way: a message with the new spelling
expect_bad httpreplay "the replay speed is --speed 2" "$S" "${R[@]}" -s 2
expect_bad httpreplay "the request rate is --rate 100" "$S" "${R[@]}" -r 100
expect_bad httpreplay "the path glob is --path '/api/*'" "$S" "${R[@]}" -p '/api/*'
expect_bad httpreplay "-c 5 or --count 5" "$S" "${R[@]}" -n 5
expect_bad httpreplay "unknown option '--frobnicate'" "$S" "${R[@]}" --frobnicate
expect_bad httpreplay "'-x'" "$S" "${R[@]}" -x

# httpanalyze: the same for its flags
for v in -1 10x '' ' 5' 99999999999999999999; do
	expect_bad httpanalyze "--payload-cap '$v'" summary --payload-cap "$v" "$S"
	expect_bad httpanalyze "--pid '$v'" requests --pid "$v" "$S"
	expect_bad httpanalyze "--limit '$v'" requests --limit "$v" "$S"
	expect_bad httpanalyze "--depth '$v'" show --depth "$v" 1001 "$S"
done
for v in 0 -1 65536 80x '' 99999999999999999999; do
	expect_bad httpanalyze "--port '$v'" requests --port "$v" "$S"
done
for v in 0 -1 10x '' 99999999999999999999; do
	expect_bad httpanalyze "--batch '$v'" export --otlp - --batch "$v" "$S"
done
expect_bad httpanalyze "--pid '4294967296'" requests --pid 4294967296 "$S"
expect_bad httpanalyze "--format 'xml'" summary --format xml "$S"
expect_bad httpanalyze "--events 'both'" summary --events both "$S"
expect_bad httpanalyze "--sort 'size'" requests --sort size "$S"
expect_bad httpanalyze "--status '99'" requests --status 99 "$S"
expect_bad httpanalyze "--min-duration '10x'" requests --min-duration 10x "$S"
expect_bad httpanalyze "--since 'yesterday'" requests --since yesterday "$S"
expect_bad httpanalyze "--until ''" requests --until '' "$S"

[ $fails = 0 ] && echo "  cli: long options agree in --help, man pages and README; bad values refused"
exit $fails
