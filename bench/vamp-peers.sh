#!/bin/sh
# bench/vamp-peers.sh — a Vamp plugin through joule's Vamp bridge against
# the Vamp SDK's own host, on the same file, in the same run:
#
#   vamp-example-plugins:spectralcentroid (block 1024, step 512, Hann,
#   the stereo input mixed to mono), linear centroid to a text file:
#     - vamp-simple-host -s ... -o FILE
#     - joule run (sndfile -> vamp_example_plugins_spectralcentroid -> csv),
#       with its default threads and with -j 1.
#
# Both run the same plugin code on the same blocks; the bridge does the
# host's part (reading, mixing, windowing, the FFT) in C, with FFTW, and
# joule runs the reading, the plugin and the CSV writing on separate
# threads. tests/vamp-agree.sh proves the outputs equal.
#
#   bench/vamp-peers.sh [INPUT]      (default bench/data/audio_10min.wav)
#
# Environment: RUNS (hyperfine runs, default 7); JOULE_BUILD (a configured
# and built joule tree; default: the project's build/). Times the real
# joule binary (src/cli/.libs/joule), not libtool's wrapper script. Writes
# bench/out/vamp-peers/RESULTS.md and prints it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
runs=${RUNS:-7}
input=${1:-$here/data/audio_10min.wav}
out=$here/out/vamp-peers
build=$(cd "${JOULE_BUILD:-$top/build}" && pwd)

command -v vamp-simple-host >/dev/null || { echo "vamp-simple-host is missing: apt-get install vamp-examples" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine is missing: apt-get install hyperfine" >&2; exit 1; }
[ -f "$input" ] || { echo "no $input: make it with ../shared/bench/make-data.sh (BENCH_DATA=bench/data)" >&2; exit 1; }
VAMP_PATH=
for d in /usr/lib/*/vamp /usr/lib/vamp /usr/local/lib/vamp; do
    [ -f "$d/vamp-example-plugins.so" ] && { VAMP_PATH=$d; break; }
done
[ -n "$VAMP_PATH" ] || { echo "the Vamp example plugins are missing: apt-get install vamp-examples" >&2; exit 1; }
export VAMP_PATH
joule=$build/src/cli/.libs/joule
LD_LIBRARY_PATH=$build/src/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
JOULE_PLUGIN_PATH=$build/plugins/.libs
export LD_LIBRARY_PATH JOULE_PLUGIN_PATH
mkdir -p "$out/t"
stem=$(basename "$input" | sed 's/\.[^.]*$//')

cat >"$out/centroid.ini" <<'EOF'
[in]
plugin = sndfile
[v]
plugin = vamp_example_plugins_spectralcentroid
input  = in
[out]
plugin = csv
input  = v.linearcentroid
path   = {stem}.linearcentroid.csv
EOF

"$joule" run "$out/centroid.ini" "$input" -o "$out" --no-progress --no-cache
vamp-simple-host -s vamp-example-plugins:spectralcentroid:linearcentroid "$input" -o "$out/vamp-simple-host.txt" 2>/dev/null
hyperfine --runs "$runs" --warmup 1 --export-json "$out/timing.json" \
    -n vamp-simple-host "vamp-simple-host -s vamp-example-plugins:spectralcentroid:linearcentroid '$input' -o '$out/t/vsh.txt'" \
    -n joule "'$joule' run '$out/centroid.ini' '$input' -o '$out/t' --no-progress --no-cache" \
    -n "joule -j 1" "'$joule' run '$out/centroid.ini' '$input' -o '$out/t' --no-progress --no-cache -j 1" \
    >/dev/null

{
    echo "# vamp-peers on $input"
    echo
    echo "spectralcentroid, block 1024, step 512, linear centroid to text; hyperfine, $runs runs, same run."
    echo
    echo "| command | median s | mean s | min s | vamp-simple-host / it |"
    echo "|---|---|---|---|---|"
    # hyperfine's JSON, one result per command: pull command, median, mean, min
    tr -d '\n' <"$out/timing.json" | sed 's/"command"/\n"command"/g' | sed -n 's/.*"command": *"\([^"]*\)".*"mean": *\([0-9.e-]*\).*"median": *\([0-9.e-]*\).*"min": *\([0-9.e-]*\).*/\1\t\3\t\2\t\4/p' |
        awk -F '\t' '{ name[NR] = $1; med[NR] = $2; mean[NR] = $3; min[NR] = $4; if ($1 == "vamp-simple-host") base = $2 }
             END { for (i = 1; i <= NR; i++) printf "| %s | %.3f | %.3f | %.3f | %.2f |\n", name[i], med[i], mean[i], min[i], base / med[i] }'
    echo
    echo "rows: vamp-simple-host $(wc -l <"$out/vamp-simple-host.txt") (silent blocks have no result), joule $(($(wc -l <"$out/$stem.linearcentroid.csv") - 1)) (one per block, NaN where silent)"
} | tee "$out/RESULTS.md"
