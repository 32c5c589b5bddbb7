#!/bin/sh
# The LADSPA bridge agrees with applyplugin (the LADSPA SDK's own host):
# for the SDK's amp, delay and filter plugins, CMT's filters and (when
# installed) one of swh-plugins' filters, joule's output, written as float
# WAV, gives every 16-bit sample applyplugin writes when converted as
# applyplugin converts (ladspa_cmp). On mono files whose length is not a
# multiple of the 2048-sample block and one whose length is; and on a
# stereo file through a mono plugin (one instance per channel), each
# channel equals the mono run on that channel. Then: the output does not
# depend on chunk size or thread count; a plugin given a channel count it
# cannot take fails with one line; `joule plugins`, `joule inspect` and
# `joule plugin-test` see the bridged plugins; with LADSPA_PATH empty the
# bridge offers nothing and is no failed load. With swh-plugins: a default
# relative to the sample rate is the plugin's at the file's rate (its gate
# at 48000 Hz), control outputs are one row per block (its artificial
# latency). With the Vamp SDK's examples too: examples/bridges.ini runs.
#
# Skips (77) where applyplugin, the plugins or the bridge are missing;
# scripts/setup-debian.sh installs them, so CI runs it.
set -u
: "${JOULE:?}" "${JOULE_PLUGIN_PATH:?}"
top_builddir=${top_builddir:-..}
cmp_tool="$top_builddir/tests/ladspa_cmp"
sys=/usr/lib/ladspa

command -v applyplugin >/dev/null 2>&1 || { echo "SKIP: applyplugin is not installed (apt-get install ladspa-sdk)"; exit 77; }
[ -f "$JOULE_PLUGIN_PATH/ladspa.so" ] || { echo "SKIP: the LADSPA bridge was not built (configure found no ladspa.h)"; exit 77; }
for f in amp delay filter; do
  [ -f "$sys/$f.so" ] || { echo "SKIP: $sys/$f.so is not installed (apt-get install ladspa-sdk)"; exit 77; }
done
[ -f "$sys/cmt.so" ] || { echo "SKIP: $sys/cmt.so is not installed (apt-get install cmt)"; exit 77; }
[ -x "$cmp_tool" ] || { echo "FAILED: $cmp_tool was not built" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export JOULE_CACHE_DIR="$tmp/cache"
fail=0

# the plugins, and only those, on the LADSPA path
mkdir "$tmp/lp"
for f in amp delay filter cmt; do ln -s "$sys/$f.so" "$tmp/lp/$f.so"; done
swh=
[ -f "$sys/butterworth_1902.so" ] && { ln -s "$sys/butterworth_1902.so" "$tmp/lp/"; swh=1; }
gate=
[ -f "$sys/gate_1410.so" ] && { ln -s "$sys/gate_1410.so" "$tmp/lp/"; gate=1; }
latency=
[ -f "$sys/latency_1914.so" ] && { ln -s "$sys/latency_1914.so" "$tmp/lp/"; latency=1; }
LADSPA_PATH="$tmp/lp"
export LADSPA_PATH

# 16-bit inputs at 44100 Hz: mono0/mono1 hold the samples of the stereo
# file's channels 0/1 (seeds 1 and 2); 130001 frames is no multiple of
# 2048, 81920 is (40 blocks)
"$cmp_tool" --make "$tmp/stereo.wav" 2 130001 44100 1 || exit 1
"$cmp_tool" --make "$tmp/mono0.wav" 1 130001 44100 1 || exit 1
"$cmp_tool" --make "$tmp/mono1.wav" 1 130001 44100 2 || exit 1
"$cmp_tool" --make "$tmp/even.wav" 1 81920 44100 3 || exit 1
"$cmp_tool" --make "$tmp/three.wav" 3 5000 44100 4 || exit 1

# run NAME WAV OUT [KEY=VALUE...]: joule, the plugin (parameters KEY)
# between the sndfile source and a float WAV written to OUT; $run_opts
# are more options for joule run
run() {
  name=$1 wav=$2 out=$3
  shift 3
  cat > "$tmp/g.ini" <<EOF
[in]
plugin = sndfile
[fx]
plugin = $name
input = in
[out]
plugin = sndfile_sink
input = fx
subtype = float
path = -
EOF
  sets=
  for kv in "$@"; do sets="$sets -s fx.$kv"; done
  # shellcheck disable=SC2086
  "$JOULE" run "$tmp/g.ini" "$wav" --no-cache --no-progress ${run_opts:-} $sets > "$out" 2> "$tmp/log"
}

# agree LIB LABEL NAME "CONTROLS" KEY=VALUE...: applyplugin and joule on the
# mono files and, channel by channel, on the stereo one
agree() {
  lib=$1 label=$2 name=$3 controls=$4
  shift 4
  what="$name${*:+ ($*)}"
  for m in mono0 mono1 even; do
    # shellcheck disable=SC2086
    if ! applyplugin "$tmp/$m.wav" "$tmp/$m.ap.wav" "$sys/$lib.so" "$label" $controls > "$tmp/aplog" 2>&1; then
      echo "FAILED: applyplugin $lib $label on $m:" >&2; cat "$tmp/aplog" >&2; fail=1; return
    fi
    if ! run "$name" "$tmp/$m.wav" "$tmp/$m.j.wav" "$@"; then
      echo "FAILED: joule run $what on $m:" >&2; cat "$tmp/log" >&2; fail=1; return
    fi
    if r=$("$cmp_tool" "$tmp/$m.j.wav" "$tmp/$m.ap.wav"); then
      echo "ok   $what, $m: $r"
    else
      echo "FAILED: $what on $m: $r" >&2; fail=1
    fi
  done
  # stereo through a mono plugin: two instances, each as the mono run
  if ! run "$name" "$tmp/stereo.wav" "$tmp/stereo.j.wav" "$@"; then
    echo "FAILED: joule run $what on stereo:" >&2; cat "$tmp/log" >&2; fail=1; return
  fi
  for c in 0 1; do
    if r=$("$cmp_tool" --channel $c "$tmp/stereo.j.wav" "$tmp/mono$c.ap.wav"); then
      echo "ok   $what, stereo channel $c as mono$c: $r"
    else
      echo "FAILED: $what, stereo channel $c against the mono run: $r" >&2; fail=1
    fi
  done
}

# applyplugin takes every control in port order; joule the same as named
# parameters
agree amp amp_mono ladspa_amp_amp_mono "0.5" gain=0.5
agree amp amp_mono ladspa_amp_amp_mono "3" gain=3             # past full scale: clipped as applyplugin does
agree delay delay_5s ladspa_delay_delay_5s "0.01 0.5" delay_seconds=0.01 dry_wet_balance=0.5
agree delay delay_5s ladspa_delay_delay_5s "0.2 1" delay_seconds=0.2 dry_wet_balance=1
agree filter lpf ladspa_filter_lpf "1000" cutoff_frequency_hz=1000
agree filter hpf ladspa_filter_hpf "500" cutoff_frequency_hz=500
agree cmt lpf ladspa_cmt_lpf "2000" cutoff_frequency_hz=2000
agree cmt hpf ladspa_cmt_hpf "300" cutoff_frequency_hz=300
if [ -n "$swh" ]; then
  agree butterworth_1902 buttlow_iir ladspa_butterworth_1902_buttlow_iir "1500 0.8" cutoff_frequency_hz=1500 resonance=0.8
else
  echo "skip swh-plugins' butterworth filter: not installed (apt-get install swh-plugins)"
fi

# defaults relative to the sample rate: swh's gate keys on 0.0007 and 0.49
# × the rate unless told otherwise; at 48000 Hz that is 33.6 and 23520 Hz
# (not the 30.87 and 21609 shown for 44100 Hz, which are out of its range
# at 48000 Hz, and give other samples)
if [ -n "$gate" ]; then
  "$cmp_tool" --make "$tmp/m48.wav" 1 130001 48000 5 || exit 1
  gate_set="threshold_db=-12 attack_ms=1 hold_ms=5 decay_ms=20 range_db=-90"
  # shellcheck disable=SC2086
  if applyplugin "$tmp/m48.wav" "$tmp/g.ap.wav" "$sys/gate_1410.so" gate 33.6 23520 -12 1 5 20 -90 0 > "$tmp/aplog" 2>&1 &&
     applyplugin "$tmp/m48.wav" "$tmp/g441.ap.wav" "$sys/gate_1410.so" gate 30.87 21609 -12 1 5 20 -90 0 > "$tmp/aplog" 2>&1 &&
     run ladspa_gate_1410_gate "$tmp/m48.wav" "$tmp/g.j.wav" $gate_set &&
     r=$("$cmp_tool" "$tmp/g.j.wav" "$tmp/g.ap.wav") &&
     ! "$cmp_tool" "$tmp/g.j.wav" "$tmp/g441.ap.wav" > /dev/null; then
    echo "ok   ladspa_gate_1410_gate at 48000 Hz, key filters left at their defaults: $r"
  else
    echo "FAILED: the gate's defaults relative to the rate at 48000 Hz: ${r:-}" >&2; cat "$tmp/aplog" "$tmp/log" >&2; fail=1
  fi
else
  echo "skip swh-plugins' gate: not installed (apt-get install swh-plugins)"
fi

# control outputs: swh's artificial latency reports its delay in samples,
# 10 ms = 441 at 44100 Hz; one row per block (1000 samples: 131 rows for
# 130001 frames, row i at i × 1000 / 44100 s), a column per instance
if [ -n "$latency" ]; then
  cat > "$tmp/lat.ini" <<EOF
[in]
plugin = sndfile
[fx]
plugin = ladspa_latency_1914_artificiallatency
input = in
delay_ms = 10
block = 1000
[c]
plugin = csv
input = fx.controls
path = -
EOF
  if "$JOULE" run "$tmp/lat.ini" "$tmp/stereo.wav" --no-cache --no-progress > "$tmp/lat.csv" 2> "$tmp/log" &&
     [ "$(head -1 "$tmp/lat.csv")" = "time,latency_ch0,latency_ch1" ] &&
     awk -F, 'NR > 1 { n++; if ($2 != 441 || $3 != 441 || ($1 - (NR - 2) * 1000 / 44100) ^ 2 > 1e-12) bad++ }
              END { exit !(n == 131 && !bad) }' "$tmp/lat.csv"; then
    echo "ok   control outputs: 131 rows of 441 samples, two instances"
  else
    echo "FAILED: the artificial latency's control outputs:" >&2; head -3 "$tmp/lat.csv" >&2; cat "$tmp/log" >&2; fail=1
  fi
else
  echo "skip swh-plugins' artificial latency: not installed (apt-get install swh-plugins)"
fi

# a stereo plugin on a stereo file: one instance
if applyplugin "$tmp/stereo.wav" "$tmp/st.ap.wav" "$sys/amp.so" amp_stereo 0.7 > "$tmp/aplog" 2>&1 &&
   run ladspa_amp_amp_stereo "$tmp/stereo.wav" "$tmp/st.j.wav" gain=0.7 &&
   r=$("$cmp_tool" "$tmp/st.j.wav" "$tmp/st.ap.wav"); then
  echo "ok   ladspa_amp_amp_stereo, stereo: $r"
else
  echo "FAILED: ladspa_amp_amp_stereo on stereo: ${r:-}" >&2; cat "$tmp/aplog" "$tmp/log" >&2; fail=1
fi

# chunk sizes and threads: the same samples (the files differ in the time
# libsndfile stamps in a float WAV's PEAK chunk)
run ladspa_delay_delay_5s "$tmp/stereo.wav" "$tmp/ref.wav" delay_seconds=0.01 dry_wet_balance=0.5 || {
  echo "FAILED: joule run delay on stereo:" >&2; cat "$tmp/log" >&2; fail=1; }
for run_opts in "-s graph.chunk=7 -j 1" "-s graph.chunk=1000 -j 4" "-s graph.chunk=65536 -j 2"; do
  if run ladspa_delay_delay_5s "$tmp/stereo.wav" "$tmp/chunk.wav" delay_seconds=0.01 dry_wet_balance=0.5 &&
     r=$("$cmp_tool" --same "$tmp/ref.wav" "$tmp/chunk.wav"); then
    echo "ok   the same samples with $run_opts: $r"
  else
    echo "FAILED: the output changes with $run_opts: ${r:-}" >&2; cat "$tmp/log" >&2; fail=1
  fi
done
run_opts=

# a plugin of 2 audio inputs on 3 channels: status 1, one line
run ladspa_amp_amp_stereo "$tmp/three.wav" "$tmp/bad.wav"
rc=$?
if [ $rc -eq 1 ] && [ "$(wc -l < "$tmp/log")" -eq 1 ] &&
   grep -q "takes 2 audio inputs; the input has 3 channels" "$tmp/log"; then
  echo "ok   2 inputs, 3 channels: $(cat "$tmp/log")"
else
  echo "FAILED: amp_stereo on 3 channels should fail with one line (exit status $rc):" >&2; cat "$tmp/log" >&2; fail=1
fi
# a value outside bounds relative to the sample rate: status 1, one line
run ladspa_filter_lpf "$tmp/mono0.wav" "$tmp/bad.wav" cutoff_frequency_hz=30000
rc=$?
if [ $rc -eq 1 ] && [ "$(wc -l < "$tmp/log")" -eq 1 ] &&
   grep -q "between 0 and 0.5 × the sample rate (22050 Hz)" "$tmp/log"; then
  echo "ok   cutoff above half the rate: $(cat "$tmp/log")"
else
  echo "FAILED: lpf at 30000 Hz should fail with one line (exit status $rc):" >&2; cat "$tmp/log" >&2; fail=1
fi

# listing and inspection
"$JOULE" plugins > "$tmp/plugins" 2>&1
for p in ladspa_amp_amp_mono ladspa_delay_delay_5s ladspa_filter_lpf ladspa_filter_hpf ladspa_cmt_lpf; do
  grep -q "^$p " "$tmp/plugins" || { echo "FAILED: joule plugins does not list $p:" >&2; cat "$tmp/plugins" >&2; fail=1; }
done
"$JOULE" inspect ladspa_cmt_lpf > "$tmp/inspect" 2>&1
if grep -q "^  cutoff_frequency_hz *float .*unit Hz" "$tmp/inspect" &&
   grep -q "^  block *int *default 2048, range 1..65536" "$tmp/inspect" &&
   "$JOULE" inspect ladspa_delay_delay_5s 2>&1 | grep -q "^  delay_seconds *float *default 1, range 0..5"; then
  echo "ok   joule inspect: typed parameters"
else
  echo "FAILED: joule inspect ladspa_cmt_lpf:" >&2; cat "$tmp/inspect" >&2; fail=1
fi
LADSPA_PATH= "$JOULE" plugins > "$tmp/none" 2>&1
if grep -q "^ladspa_" "$tmp/none" || grep -q "ladspa.so" "$tmp/none"; then
  echo "FAILED: with LADSPA_PATH empty the bridge should offer nothing, and not fail:" >&2; cat "$tmp/none" >&2; fail=1
else
  echo "ok   LADSPA_PATH empty: no LADSPA plugin, no failed load"
fi

# joule plugin-test
for p in ladspa_amp_amp_mono ladspa_filter_lpf ladspa_cmt_lpf ladspa_delay_delay_5s; do
  if "$JOULE" plugin-test "$p" --seconds 1 > "$tmp/pt" 2>&1; then
    echo "ok   plugin-test $p: $(tail -1 "$tmp/pt")"
  else
    echo "FAILED: joule plugin-test $p:" >&2; cat "$tmp/pt" >&2; fail=1
  fi
done

# The README's graph (examples/bridges.ini): a LADSPA filter, a Vamp
# analysis and joule's own nodes, on mktone's programme, when the Vamp
# SDK's examples are installed too
example="$(dirname "$0")/../examples/bridges.ini"
vdir=
for d in /usr/lib/*/vamp /usr/lib/vamp /usr/local/lib/vamp; do
  [ -f "$d/vamp-example-plugins.so" ] && { vdir=$d; break; }
done
if [ -z "$vdir" ]; then
  echo "skip examples/bridges.ini: the Vamp SDK's example plugins are not installed (apt-get install vamp-examples)"
elif [ ! -f "$example" ]; then
  echo "FAILED: $example is missing" >&2; fail=1
else
  "$top_builddir/examples/mktone" "$tmp/demo.wav" 20 || exit 1
  if VAMP_PATH=$vdir LADSPA_PATH=$sys "$JOULE" run "$example" "$tmp/demo.wav" -o "$tmp/ex" --no-progress > "$tmp/log" 2>&1; then
    # the filtered audio: every frame (20 s at 44100 Hz); the centroid:
    # one finite row per 512-sample step over the 20 s; the loudness: a
    # finite integrated figure
    frames=$("$cmp_tool" --frames "$tmp/ex/demo.hp.wav")
    rows=$(awk -F, 'NR > 1 && $2 == $2 + 0 && $2 > 0 { n++ } END { print n + 0 }' "$tmp/ex/demo.centroid.csv")
    last=$(awk -F, 'END { print $1 }' "$tmp/ex/demo.centroid.csv")
    lufs=$(awk -F, 'NR == 2 { print $2 }' "$tmp/ex/demo.loudness.csv")
    if [ "$frames" = 882000 ] && [ "$rows" -ge 1720 ] && [ "$rows" -le 1724 ] &&
       awk -v t="$last" -v l="$lufs" 'BEGIN { exit !(t > 19.9 && t <= 20 && l < -5 && l > -40) }'; then
      echo "ok   examples/bridges.ini: $frames frames filtered, $rows centroid rows, $lufs LUFS"
    else
      echo "FAILED: examples/bridges.ini gave frames=$frames, centroid rows=$rows (last at $last s), loudness $lufs" >&2; fail=1
    fi
  else
    echo "FAILED: joule run examples/bridges.ini:" >&2; cat "$tmp/log" >&2; fail=1
  fi
fi

exit $fail
