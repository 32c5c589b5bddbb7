#!/bin/sh
# template-run.sh JOULE PLUGIN_DIR MKTONE — run the out-of-tree template
# plugin through the installed joule, and check its output is sane.
set -eu
joule=$1 dir=$2 mktone=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
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
JOULE_PLUGIN_PATH=$dir "$joule" inspect zcr >/dev/null
JOULE_PLUGIN_PATH=$dir "$joule" run "$tmp/g.ini" "$tmp/t.wav" -o "$tmp/out"
# 3 s at 8 kHz, frames of 800 every 400: 59 frames, plus the header; the
# first 5 s of the tone are a 440 Hz sine: 2 * 440 / 8000 = 0.11 crossings
# per sample pair
lines=$(wc -l < "$tmp/out/t.zcr.csv")
test "$lines" -eq 60 || { echo "template-run: expected 60 lines, got $lines" >&2; exit 1; }
awk -F, 'NR == 2 { if ($2 < 0.10 || $2 > 0.12) { print "template-run: zcr " $2 " is not near 0.11" > "/dev/stderr"; exit 1 } }' "$tmp/out/t.zcr.csv"
echo "template plugin: built with pkg-config, loaded from JOULE_PLUGIN_PATH, output checked"
