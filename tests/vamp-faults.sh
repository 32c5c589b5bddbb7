#!/bin/sh
# The Vamp bridge on plugins that are wrong, or unusual, in one known way
# (tests/plugins/vamp_faults.c, built into tests/vamp/): each failure is one
# clear line and exit status 1 with no output file; markers, durations, a
# varying number of values and an enum parameter come out as documented
# in plugins/vamp.c. Skips (77) when the bridge was not built.
set -u
: "${JOULE:?}" "${JOULE_PLUGIN_PATH:?}"
top_builddir=${top_builddir:-..}
[ -f "$JOULE_PLUGIN_PATH/vamp.so" ] || { echo "SKIP: the Vamp bridge was not built (configure found no vamp/vamp.h)"; exit 77; }
VAMP_PATH=$(cd "$(dirname "$0")" && pwd)/vamp/.libs
[ -f "$VAMP_PATH/vamp_faults.so" ] || VAMP_PATH=$PWD/vamp/.libs
export VAMP_PATH
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export JOULE_CACHE_DIR="$tmp/cache"
fail=0
# 32 samples at 8 kHz: four blocks of 8, then the one zero-padded block;
# mono (the first channel of mktone's stereo)
"$top_builddir/examples/mktone" "$tmp/st.wav" 0.004 8000 >/dev/null || exit 1
printf '[in]\nplugin = sndfile\n[pick]\nplugin = vector\ninput = in\nkeep = ch0\n[out]\nplugin = sndfile_sink\ninput = pick\npath = in.wav\n' > "$tmp/mono.ini"
"$JOULE" run "$tmp/mono.ini" "$tmp/st.wav" -o "$tmp" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }

graph() { # graph PLUGIN PORT [KEY=VALUE]: the plugin's PORT to a CSV
  printf '[in]\nplugin = sndfile\n[v]\nplugin = %s\ninput = in\n%s\n[o]\nplugin = csv\ninput = v.%s\npath = {stem}.%s.csv\n' \
    "$1" "${3:-}" "$2" "$2" > "$tmp/g.ini"
}

# fails PLUGIN PORT "MESSAGE" [KEY=VALUE]
fails() {
  graph "$1" "$2" "${4:-}"
  rm -rf "$tmp/out"
  "$JOULE" run "$tmp/g.ini" "$tmp/in.wav" -o "$tmp/out" >"$tmp/log" 2>&1
  rc=$?
  if [ $rc -eq 1 ] && grep -q "$3" "$tmp/log" && [ "$(grep -c . "$tmp/log")" -eq 1 ] && [ ! -e "$tmp/out/in.$2.csv" ]; then
    echo "ok   $1: $(cat "$tmp/log")"
  else
    echo "FAILED: $1 should fail with '$3' on one line, exit status 1 and no output (exit $rc):" >&2
    cat "$tmp/log" >&2
    fail=1
  fi
}

fails vamp_faults_stereo value "takes at least 2 channels; the input has 1"
fails vamp_faults_refuser value "refused to start with 1 channel, step 8 and block 8 samples"
fails vamp_faults_shifty value "has no output 'extra' once started with these parameters" "extra = true"
fails vamp_faults_backwards value "out of time order"

# markers with durations (a float column: 0.001 s reads 0.00100000005),
# and a varying number of values, at the steps' times: step k starts at
# k*8 samples = k ms
expect() { # expect FILE TEXT
  if printf '%s\n' "$2" | cmp -s - "$1"; then echo "ok   $(basename "$1"): as documented"
  else echo "FAILED: $(basename "$1") should read:" >&2; printf '%s\n' "$2" >&2; echo "but reads:" >&2; cat "$1" >&2; fail=1; fi
}
for mode in mid high; do
  m=$( [ $mode = mid ] && echo 1 || echo 2 )
  printf '[in]\nplugin = sndfile\n[v]\nplugin = vamp_faults_marks\ninput = in\nmode = %s\n[a]\nplugin = csv\ninput = v.marks\npath = {stem}.marks.csv\n[b]\nplugin = csv\ninput = v.varying\npath = {stem}.varying.csv\n' "$mode" > "$tmp/m.ini"
  rm -rf "$tmp/out"
  if ! "$JOULE" run "$tmp/m.ini" "$tmp/in.wav" -o "$tmp/out" >"$tmp/log" 2>&1; then
    echo "FAILED: marks with mode = $mode:" >&2; cat "$tmp/log" >&2; fail=1; continue
  fi
  expect "$tmp/out/in.marks.csv" "time,duration
0,0.00100000005
0.001,0.00100000005
0.002,0.00100000005
0.003,0.00100000005
0.004,0.00100000005"
  expect "$tmp/out/in.varying.csv" "time,bin,value
0.001,0,1$m
0.002,0,1$m
0.002,1,2$m
0.004,0,1$m"
done

"$JOULE" inspect vamp_faults_marks >"$tmp/log" 2>&1
if grep -q "mode .*enum .*default mid" "$tmp/log" && grep -q "one of low mid high" "$tmp/log"; then
  echo "ok   a quantised parameter with value names is an enum: $(grep 'mode .*enum' "$tmp/log" | sed 's/  */ /g')"
else echo "FAILED: mode should be an enum of low, mid, high:" >&2; cat "$tmp/log" >&2; fail=1; fi
# A Vamp library installed after a command ran is found by the next one:
# the probe memo (which spares later commands the probe) watches the
# bridges' folders.
mkdir "$tmp/vp"
VAMP_PATH="$tmp/vp" "$JOULE" plugins >"$tmp/log" 2>&1
VAMP_PATH="$tmp/vp" "$JOULE" plugins >"$tmp/log2" 2>&1
cp "$VAMP_PATH/vamp_faults.so" "$tmp/vp/"
VAMP_PATH="$tmp/vp" "$JOULE" plugins >"$tmp/log3" 2>&1
if ! grep -q vamp_faults "$tmp/log" && ! grep -q vamp_faults "$tmp/log2" && grep -q "^vamp_faults_marks " "$tmp/log3"; then
  echo "ok   a Vamp library added to the path is listed by the next command"
else echo "FAILED: a Vamp library added to VAMP_PATH's folder is not listed:" >&2; cat "$tmp/log3" >&2; fail=1; fi
exit $fail
