#!/bin/sh
# test.sh — install what is missing, build, and run every test:
#   1. the whole suite (make check);
#   2. the whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the concurrency tests under ThreadSanitizer;
#   4. a libFuzzer smoke run: each fuzz target (graph loader, sensor CSV,
#      audio source) 20 s on its committed seeds (tests/fuzz/run.sh);
#   5. make distcheck: the tarball builds and passes its tests out of tree,
#      installs, and the template plugin builds against the installed joule
#      with pkg-config and runs (installcheck).
# Any failure stops it with a non-zero status.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup-debian.sh"
cd "$top"
jobs=$(nproc)

step() { printf '\n==> %s\n' "$*"; }

step "build and make check"
scripts/build.sh build
make -C build -j"$jobs" check || { cat build/tests/test-suite.log; exit 1; }

step "AddressSanitizer + UBSan: make check"
scripts/build.sh build-asan --enable-sanitizers=address,undefined
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  make -C build-asan -j"$jobs" check || { cat build-asan/tests/test-suite.log; exit 1; }

step "ThreadSanitizer: the concurrency tests"
scripts/build.sh build-tsan --enable-sanitizers=thread
# allocator_may_return_null=1: a test plugin's impossible allocation
# returns NULL, as it does without TSan. The Vamp bridge's tests run their
# chunk-size and thread part only (VAMP_AGREE_PARTS), with tests/tsan.supp
# for the Vamp SDK's own lock order; the LADSPA bridge's run whole.
VAMP_AGREE_PARTS=threads \
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:allocator_may_return_null=1:suppressions=$top/tests/tsan.supp \
  make -C build-tsan -j"$jobs" check TESTS="check_scheduler check_pool check_cli check_faults check_safety check_cache check_cache_store check_tables vamp-agree.sh vamp-faults.sh ladspa-agree.sh redis.sh" || { cat build-tsan/tests/test-suite.log; exit 1; }

step "libFuzzer smoke run: each fuzz target for 20 s"
tests/fuzz/run.sh --smoke 20

step "make distcheck (with the template plugin built out of tree)"
make -C build -j"$jobs" distcheck >build/distcheck.log 2>&1 || { tail -n 60 build/distcheck.log; exit 1; }
grep -E "template plugin|archives ready" build/distcheck.log || true

step "all tests passed"
