#!/bin/sh
# tests/fuzz/run.sh [SECONDS] — build the fuzz targets with clang's libFuzzer
# (plus ASan and UBSan) against a sanitizer build of joule in build-fuzz/
# (top of the tree, outside what make dist packages),
# and run each for SECONDS (default 60) on its seeds: the committed ones in
# tests/fuzz/corpus/TARGET/ (read only) and what earlier runs found, kept in
# build-fuzz/fuzz/corpus_TARGET/. Run it by hand after touching a parser.
#
# tests/fuzz/run.sh --smoke N — for the test suite (scripts/test.sh): each
# target for N seconds on a temporary copy of its committed seeds (libFuzzer
# writes what it finds into its corpus folder: the tree stays as it is).
# Fails on the first crash, leak, sanitizer report or input that takes more
# than 10 s, and prints its log; otherwise one line per target.
#
# Targets: graph (the graph loader), sensor (the sensor CSV source), wav
# (the audio source: sndfile -> energy -> csv). The seeds are small valid
# inputs written once (WAVs with libsndfile, a few by hand) and kept under
# 4 KB, the longest input the fuzzers make. Needs clang and its fuzzer
# runtime: scripts/setup-debian.sh installs them.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
smoke=""
if [ "${1:-}" = "--smoke" ]; then
  smoke=${2:?"usage: run.sh --smoke SECONDS"}
  secs=$smoke
else
  secs=${1:-60}
fi
targets="graph sensor wav"
command -v dpkg-query >/dev/null && "$top/scripts/setup-debian.sh"
command -v clang >/dev/null || { echo "fuzz: needs clang (scripts/setup-debian.sh installs it)" >&2; exit 2; }
b=$top/build-fuzz
t0=$(date +%s)
# joule and its plugins carry libFuzzer's coverage counters too
# (fuzzer-no-link): without them the fuzzers would see only their own few
# lines, and mutate blind. A build-fuzz configured otherwise is redone.
[ ! -f "$b/config.status" ] || grep -q fuzzer-no-link "$b/config.status" || rm -rf "$b"
CC=clang "$top/scripts/build.sh" build-fuzz --enable-sanitizers=address,undefined,fuzzer-no-link CC=clang
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I$b/include -I$top/include"
lib="$b/src/lib/.libs/libjoule.so"
mkdir -p "$b/fuzz"
for t in $targets; do
  clang $flags "$top/tests/fuzz/fuzz_$t.c" -o "$b/fuzz/fuzz_$t" "$lib" -Wl,-rpath,"$b/src/lib/.libs"
done
[ -n "$smoke" ] && echo "fuzz: built in $(($(date +%s) - t0)) s"
export JOULE_PLUGIN_PATH="$b/plugins/.libs"
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# what a run found (crash-*, leak-*, timeout-*) goes here, not into the
# current folder
opts="-max_total_time=$secs -max_len=4096 -timeout=10 -artifact_prefix=$b/fuzz/"
if [ -z "$smoke" ]; then
  for t in $targets; do
    echo "== fuzz_$t for $secs s"
    mkdir -p "$b/fuzz/corpus_$t"
    # shellcheck disable=SC2086
    "$b/fuzz/fuzz_$t" $opts "$b/fuzz/corpus_$t" "$top/tests/fuzz/corpus/$t"
  done
  exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/joule-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for t in $targets; do
  cp -R "$top/tests/fuzz/corpus/$t" "$tmp/$t"
  s=$(date +%s)
  # shellcheck disable=SC2086
  if ! "$b/fuzz/fuzz_$t" $opts "$tmp/$t" >"$b/fuzz/smoke_$t.log" 2>&1; then
    tail -n 60 "$b/fuzz/smoke_$t.log"
    echo "fuzz_$t: FAILED (log: $b/fuzz/smoke_$t.log; the input: $b/fuzz/crash-*, leak-* or timeout-*)" >&2
    exit 1
  fi
  runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$b/fuzz/smoke_$t.log")
  echo "fuzz_$t: ${runs:-?} runs in $(($(date +%s) - s)) s, no crash (corpus $(ls "$tmp/$t" | wc -l) inputs)"
done
