#!/bin/sh
# joule plugin-test, tested: every deliberately broken plugin fails with
# the line of the check it breaks (tests/plugins/pt_broken.c, pt_load.c),
# and every shipped plugin passes (any plugin added to plugins/ is tested
# without being listed here; some need an input they can open, below).
set -u
: "${JOULE:?}" "${JOULE_PLUGIN_PATH:?}" "${TEST_PLUGINS:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# expect PLUGIN "CHECK" [OPTIONS...]: exit status 1 and a FAIL line for CHECK
expect() {
  p=$1 check=$2
  shift 2
  "$JOULE" plugin-test "$TEST_PLUGINS/pt_broken.so:$p" "$@" > "$tmp/out" 2>&1
  rc=$?
  if [ "$check" = "no allocation" ] && grep -q "^SKIP  no allocation .*sanitizer" "$tmp/out"; then
    echo "ok   $p: allocation counting is off in this (sanitizer) build"
    return
  fi
  if [ $rc -eq 1 ] && grep -q "^FAIL  $check " "$tmp/out"; then
    echo "ok   $p: $(grep "^FAIL  $check " "$tmp/out" | head -1)"
  else
    echo "FAILED: $p should fail '$check' (exit status $rc):" >&2
    cat "$tmp/out" >&2
    fail=1
  fi
}

expect pt_bound "output bound"
expect pt_times "event times"
expect pt_chunks "chunk sizes"
expect pt_global "repeated runs"
# half a second: the race shows within it, and 1-row chunks of pt_race
# (which yields on every call) over the default 3 s take ~15 s
expect pt_race "threads" --seconds 0.5
expect pt_nan_crash "NaN, Inf input"
expect pt_empty_hang "empty input" --timeout 3
expect pt_inplace "in place" --signal 1@48000
expect pt_alloc "no allocation"
expect pt_after_fail "after a failure"
expect pt_names "output formats"
expect pt_ports "port order"
expect pt_summary "descriptor"
expect pt_meta "metadata"

for p in pt_default:gain pt_badmeta:maker; do
  so=${p%%:*} word=${p#*:}
  "$JOULE" plugin-test "$TEST_PLUGINS/$so.so" > "$tmp/out" 2>&1
  rc=$?
  if [ $rc -eq 1 ] && grep -q "^FAIL  load .*$word" "$tmp/out"; then
    echo "ok   $so: $(grep '^FAIL' "$tmp/out" | head -1)"
  else
    echo "FAILED: $so should fail 'load' naming $word (exit status $rc):" >&2
    cat "$tmp/out" >&2
    fail=1
  fi
done

# A sensor log for the sensor source: 20 s of walking-like acceleration at
# 100 Hz, time in seconds.
awk 'BEGIN { print "time,ax,ay,az"; for (i = 0; i < 2000; i++) { t = i / 100;
  printf "%.2f,%.4f,%.4f,%.4f\n", t, 0.3 * sin(2 * 3.14159265 * 1.8 * t), 0.1 * cos(2 * 3.14159265 * 0.9 * t),
    9.81 + 2 * sin(2 * 3.14159265 * 1.8 * t) } }' > "$tmp/walk.csv"

# the templates: an author's starting point passes as it stands
for so in "$TEST_PLUGINS"/zcr.so; do
  "$JOULE" plugin-test "$so" > "$tmp/out" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    echo "ok   template $(basename "$so"): $(tail -1 "$tmp/out")"
  else
    echo "FAILED: template $(basename "$so") (exit status $rc):" >&2
    cat "$tmp/out" >&2
    fail=1
  fi
done

for so in "$JOULE_PLUGIN_PATH"/*.so; do
  name=$(basename "$so" .so)
  case $name in
    vamp|ladspa) continue ;; # bridges: their plugins are tested in vamp-agree.sh, ladspa-agree.sh
    spectral) opts="--via fft" ;;
    steps) opts="--signal 3@100 --seconds 20" ;;
    gait) opts="--signal 3@100 --seconds 20 --via steps --connect signal" ;;
    cycles) opts="--signal 2@100 --seconds 20 --connect events" ;;
    sensor) opts="--input $tmp/walk.csv" ;;
    plot) opts="--connect events" ;;
    *) opts= ;;
  esac
  # shellcheck disable=SC2086
  "$JOULE" plugin-test "$name" $opts > "$tmp/out" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    echo "ok   $name: $(tail -1 "$tmp/out")"
  else
    echo "FAILED: shipped plugin $name (exit status $rc):" >&2
    cat "$tmp/out" >&2
    fail=1
  fi
done
exit $fail
