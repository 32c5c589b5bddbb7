#!/bin/sh
# Sensor CSV parsing speed: generates a plain numeric CSV (a time column in
# seconds and six sensor columns, about 200 MB by default), then times the
# graph sensor → energy (one frame per 65,536 rows: a cheap consumer) → csv
# on one thread, and reports MB/s. The file is read once before timing, so
# it comes from the page cache; `cat` to /dev/null gives the floor.
#
#   bench/sensor-parse.sh [ROWS]     (default 3,000,000 rows ≈ 190 MB)
#
# JOULE names the joule command (default: the build tree's).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
joule=${JOULE:-$here/build/src/cli/joule}
rows=${1:-3000000}
[ -x "$joule" ] || { echo "sensor-parse: no joule at $joule (set JOULE)" >&2; exit 2; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/sensor-parse.XXXXXX")
trap 'rm -rf "$dir"' EXIT
awk -v n="$rows" 'BEGIN {
    srand(1); print "t,ax,ay,az,gx,gy,gz"
    for (i = 0; i < n; i++)
        printf "%.2f,%.6f,%.6f,%.6f,%.5f,%.5f,%.5f\n", i * 0.01, rand() * 2 - 1, rand() * 2 - 1, 9.8 + rand(),
               rand() - 0.5, rand() - 0.5, rand() - 0.5
}' >"$dir/imu.csv"
cat >"$dir/parse.ini" <<'INI'
[graph]
threads = 1

[imu]
plugin = sensor

[e]
plugin = energy
input  = imu
frame  = 65536
hop    = 65536

[out]
plugin = csv
input  = e
path   = {stem}.e.csv
INI
bytes=$(wc -c <"$dir/imu.csv")
cat "$dir/imu.csv" >/dev/null
now() { date +%s.%N; }
best=""
for run in 1 2 3; do
    t0=$(now)
    "$joule" run "$dir/parse.ini" "$dir/imu.csv" -o "$dir/out" --no-progress -j 1 2>"$dir/err" || { cat "$dir/err" >&2; exit 1; }
    t1=$(now)
    best=$(awk -v a="$t0" -v b="$t1" -v best="$best" 'BEGIN { d = b - a; if (best == "" || d < best) best = d; print best }')
done
t0=$(now); cat "$dir/imu.csv" >/dev/null; t1=$(now)
catdt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
awk -v b="$bytes" -v t="$best" -v c="$catdt" -v r="$rows" 'BEGIN {
    printf "file: %.1f MB, %d rows\n", b / 1e6, r
    printf "sensor -> energy -> csv, 1 thread, best of 3: %.3f s = %.0f MB/s (%.1f M rows/s)\n", t, b / 1e6 / t, r / 1e6 / t
    printf "cat > /dev/null: %.3f s = %.0f MB/s\n", c, b / 1e6 / c
}'
