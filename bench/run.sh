#!/bin/sh
# bench/run.sh — joule against the limit of its own stack and against its
# peers, measured in the same run (these machines drift by up to a third
# between runs: only same-run ratios mean anything).
#
#   bench/run.sh [RUNS]        (default 11 runs per measurement, A and B alternated)
#
# Installs the peers and the libraries from Debian (../shared/bench/install-peers.sh),
# builds the limit programs and an optimised joule, generates the inputs
# (../shared/bench/make-data.sh, into bench/data), then prints the table.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
shared=${JOULE_SHARED:-$top/../shared}
runs=${1:-11}
[ $# -gt 0 ] && shift
"$shared/bench/install-peers.sh" >/dev/null
"$top/scripts/setup-debian.sh"
mkdir -p "$here/build" "$here/data" "$here/out"
make -s -C "$shared/bench/limit" BUILD="$here/build" >/dev/null
# An optimised joule, with the test plugins (t_pass for the scheduler figure).
"$top/scripts/build.sh" bench/build/joule CFLAGS="-O2 -g"
make -s -C "$here/build/joule/tests" good_test.la >/dev/null
[ -f "$here/data/audio_60min.wav" ] || BENCH_DATA="$here/data" "$shared/bench/make-data.sh"
# The 40-minute file (the plot benchmark): the first 40 minutes of the
# 60-minute one, which are the first 80 segments of the same recipe.
[ -f "$here/data/audio_40min.wav" ] || sox -D "$here/data/audio_60min.wav" "$here/data/audio_40min.wav" trim 0 2400
exec python3 "$here/bench.py" --runs "$runs" --build "$here/build" --data "$here/data" --out "$here/out" "$@"
