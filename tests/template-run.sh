#!/bin/sh
# template-run.sh JOULE PLUGIN_PATH MKTONE — run the template plugins
# (examples/templates/), built out of tree, through the installed joule in
# one graph, and check their output is sane. PLUGIN_PATH is a
# JOULE_PLUGIN_PATH (folders separated by ':') holding zcr.so, and
# onset.so and stats.so too: those two are run when found on it.
set -eu
joule=$1 path=$2 mktone=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
JOULE_PLUGIN_PATH=$path
export JOULE_PLUGIN_PATH
"$mktone" "$tmp/t.wav" 3 8000
cat > "$tmp/g.ini" <<'INI'
[in]
plugin = sndfile
[z]
plugin = zcr
input = in
frame = 800
hop = 400
[out]
plugin = csv
input = z
path = {stem}.zcr.csv
INI
more=
if "$joule" inspect onset >/dev/null 2>&1 && "$joule" inspect stats >/dev/null 2>&1; then
  more=yes
  cat >> "$tmp/g.ini" <<'INI'
[on]
plugin = onset
input = in
threshold = -30
hold = 0.1
[events]
plugin = csv
input = on
path = {stem}.onsets.csv
[st]
plugin = stats
input = in
INI
fi
"$joule" inspect zcr >/dev/null
"$joule" run "$tmp/g.ini" "$tmp/t.wav" -o "$tmp/out"
# 3 s at 8 kHz, frames of 800 every 400: 59 frames, plus the header; the
# first 5 s of the tone are a 440 Hz sine: 2 * 440 / 8000 = 0.11 crossings
# per sample pair
lines=$(wc -l < "$tmp/out/t.zcr.csv")
test "$lines" -eq 60 || { echo "template-run: expected 60 lines, got $lines" >&2; exit 1; }
awk -F, 'NR == 2 { if ($2 < 0.10 || $2 > 0.12) { print "template-run: zcr " $2 " is not near 0.11" > "/dev/stderr"; exit 1 } }' "$tmp/out/t.zcr.csv"
if [ -z "$more" ]; then
  echo "template plugin: built with pkg-config, loaded from JOULE_PLUGIN_PATH, output checked"
  exit 0
fi
# onset: the tones start at once, 440 Hz at -12 dBFS on the left, 880 Hz at
# -18 dBFS on the right, and never fall silent for 0.1 s: one event per
# channel, at the second sample (the first is 0), with the tones' peaks
awk -F, 'NR == 1 && $0 != "time,level,channel" { print "template-run: onsets header: " $0; bad = 1 }
  NR > 1 { n++; want = n == 1 ? -12.0 : -18.0
    if ($1 != 0.000125 || $2 < want - 0.1 || $2 > want + 0.1 || $3 != n - 1) {
      print "template-run: unexpected onset: " $0; bad = 1 } }
  END { if (n != 2) { print "template-run: expected 2 onsets, got " n + 0; bad = 1 } exit bad }' \
  "$tmp/out/t.onsets.csv" >&2
# stats: a line per channel, 24000 values each, peaks of the same tones
awk '/^ch0 / { l = $3 == 24000 && $5 > 0.25 && $5 < 0.252 }
  /^ch1 / { r = $3 == 24000 && $5 > 0.125 && $5 < 0.127 }
  END { if (!l || !r) { print "template-run: unexpected stats table"; exit 1 } }' "$tmp/out/t.stats.txt" >&2 || {
  cat "$tmp/out/t.stats.txt" >&2; exit 1; }
echo "template plugins: built with pkg-config, loaded from JOULE_PLUGIN_PATH, output of zcr, onset and stats checked"
