#!/bin/sh
# templates-test.sh — the plugin templates (examples/templates/), built in
# tree from their sources, each pass `joule plugin-test` (exit status 0):
# an author's starting point must pass the checker as it stands. The
# detector is also run with a `hold` longer than the test input, so that
# its events come out of finish (a row of room at a time for chunks of 1).
#
# Environment (tests/Makefile.am): JOULE, TEST_PLUGINS (zcr.so, the
# filter); the detector and the sink are built in templates/.libs beside it.
set -u
: "${JOULE:?}" "${TEST_PLUGINS:?}"
tpl=$(dirname "$TEST_PLUGINS")/templates/.libs
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

check() {
  what=$1
  shift
  "$JOULE" plugin-test "$@" > "$tmp/out" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && grep -q '^PASS  chunk sizes' "$tmp/out"; then
    echo "ok   $what: $(tail -1 "$tmp/out")"
  else
    echo "FAILED: $what: joule plugin-test $* (exit status $rc):" >&2
    cat "$tmp/out" >&2
    fail=1
  fi
}

check "filter zcr" "$TEST_PLUGINS/zcr.so"
check "detector onset" "$tpl/onset.so"
check "detector onset, events from finish" "$tpl/onset.so" --set hold=60
check "detector onset, every channel at once" "$tpl/onset.so" --signal 8@1000 --set threshold=-60 --set hold=0
check "sink stats" "$tpl/stats.so"
exit $fail
