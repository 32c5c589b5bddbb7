#!/bin/sh
# tests/fuzz/run.sh [SECONDS] — build the fuzz targets with clang's libFuzzer
# (plus ASan and UBSan) against a sanitizer build of joule, and run each for
# SECONDS (default 60). Needs clang (apt-get install clang). Not part of
# make check: fuzzing is open-ended; run it by hand after touching a parser.
set -eu
secs=${1:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
command -v clang >/dev/null || { echo "fuzz: needs clang (apt-get install clang)" >&2; exit 2; }
b=$top/build-fuzz
CC=clang "$top/scripts/build.sh" build-fuzz --enable-sanitizers=address,undefined CC=clang
flags="-g -O1 -fsanitize=fuzzer,address,undefined -I$top/include"
lib="$b/src/lib/.libs/libjoule.so"
mkdir -p "$b/fuzz"
for t in graph sensor; do
  clang $flags "$top/tests/fuzz/fuzz_$t.c" -o "$b/fuzz/fuzz_$t" "$lib" -Wl,-rpath,"$b/src/lib/.libs"
  mkdir -p "$b/fuzz/corpus_$t"
done
printf '[in]\nplugin = sndfile\n[rms]\nplugin = energy\ninput = in\nframe = 1024\n[out]\nplugin = csv\ninput = rms\n' \
  > "$b/fuzz/corpus_graph/seed.ini"
printf 't,ax,ay,az\n0,1,2,3\n0.01,1.5,2,3\n0.02,,2,"3"\n' > "$b/fuzz/corpus_sensor/seed.csv"
printf '1000000,3,0.1,0.2,9.8\r\n11000000,3,0.1,0.3,9.7\r\n' > "$b/fuzz/corpus_sensor/seed2.csv"
export JOULE_PLUGIN_PATH="$b/plugins/.libs"
for t in graph sensor; do
  echo "== fuzz_$t for $secs s"
  ASAN_OPTIONS=detect_leaks=1 "$b/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=4096 "$b/fuzz/corpus_$t"
done
