#!/bin/sh
# joule-mpi under mpirun, on this machine: 3 ranks over a corpus of 10
# inputs (one broken) write per-input outputs and a gathered table byte for
# byte as one joule process does; exit status 1 for the broken input,
# reported like any failed input; one merged report names every input once
# with the rank it ran on, and "processes": 3; no part of a table is left;
# a second run on the same cache folder computes nothing again; one rank
# alone works too; outputs refused before anything is read (two inputs
# that would write one file) stop every rank with status 2; a job killed
# mid-run leaves only whole outputs, and runs again from the cache.
#
# Skips (77) where joule-mpi was not built (configure found no MPI) or
# mpirun is missing; scripts/setup-debian.sh installs Open MPI, so CI runs
# it.
set -u
: "${JOULE:?}"
top_builddir=${top_builddir:-..}
# absolute: the test runs in a folder of its own
jm="$(cd "$top_builddir" && pwd)/src/mpi/joule-mpi"
mktone="$(cd "$top_builddir" && pwd)/examples/mktone"
[ -x "$jm" ] || { echo "SKIP: joule-mpi was not built (configure found no MPI: apt-get install libopenmpi-dev)"; exit 77; }
command -v mpirun >/dev/null 2>&1 || { echo "SKIP: mpirun is not installed (apt-get install openmpi-bin)"; exit 77; }
# Open MPI: as root (CI) only when told twice; more ranks than cores; no
# cross-memory attach, which containers often forbid
mpi_flags=
if mpirun --version 2>/dev/null | grep -q "Open MPI"; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
  mpi_flags=--oversubscribe
fi
# In the sanitizer build, no leak check in the ranks: Open MPI's components
# keep memory to the end and are unloaded before LeakSanitizer looks, so
# nothing can name them in a suppression (libjoule's leaks are checked by
# every other test, where the same code runs)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAILED: $*" >&2; fail=1; }

mkdir "$tmp/c"
for i in 1 2 3 4 5 6 7 8 9; do
  "$mktone" "$tmp/c/take$i.wav" "$i" 8000 >/dev/null || exit 1
done
printf 'RIFF\004\000\000\000WAVEjunk' > "$tmp/c/broken.wav"
cd "$tmp" || exit 1
files="c/take1.wav c/take2.wav c/take3.wav c/take4.wav c/take5.wav c/take6.wav c/take7.wav c/take8.wav c/take9.wav c/broken.wav"
cat > g.ini <<'EOF'
[in]
plugin = sndfile
[r128]
plugin = loudness
input = in
[energy]
plugin = energy
input = in
[per]
plugin = csv
input = energy
path = {stem}.energy.csv
[table]
plugin = csv
input = r128.summary
path = loudness.csv
EOF

# one process: the reference
# shellcheck disable=SC2086
"$JOULE" run g.ini $files -o one --no-progress --no-cache 2>/dev/null
[ $? -eq 1 ] || bad "one process should fail for broken.wav alone (exit 1)"

# three ranks
# shellcheck disable=SC2086
mpirun $mpi_flags -np 3 "$jm" run g.ini $files -o three --cache-dir cache --report three.json > three.log 2>&1
rc=$?
[ $rc -eq 1 ] || { bad "mpirun -np 3 joule-mpi: exit $rc (1 expected: broken.wav)"; cat three.log >&2; }
same=1
for i in 1 2 3 4 5 6 7 8 9; do
  cmp -s one/take$i.energy.csv three/take$i.energy.csv || { same=0; bad "take$i.energy.csv differs from one process's"; }
done
cmp -s one/loudness.csv three/loudness.csv || { same=0; bad "loudness.csv differs from one process's:"; diff one/loudness.csv three/loudness.csv >&2; }
[ ! -e three/broken.energy.csv ] || { same=0; bad "a failed input left an output"; }
[ -z "$(ls -A three | grep -v '\.csv$')" ] || { same=0; bad "files left beside the outputs: $(ls -A three)"; }
[ $same -eq 1 ] && echo "ok   3 ranks: per-input outputs and the gathered table byte-identical to one process's"

# the merged report: 10 inputs in command-line order, each with its rank;
# broken.wav failed; 3 processes
grep -q '"processes": 3,' three.json || bad "the report does not say 3 processes"
order=$(grep -o '"file": "[^"]*"' three.json | sed 's/"file": "\(.*\)"/\1/' | tr '\n' ' ')
[ "$order" = "$files " ] || bad "the report's inputs are not the command line's, in order: $order"
n_where=$(grep -c '"where": "[^"]* rank [0-2]"' three.json)
[ "$n_where" -eq 10 ] || bad "$n_where of 10 inputs say where they ran"
ranks=$(grep -o '"where": "[^"]* rank [0-2]"' three.json | sed 's/.* rank //' | sort -u | wc -l)
grep -q '"file": "c/broken.wav", "status": "failed"' three.json || bad "broken.wav is not reported failed"
grep -q '"files": {"done": 9, "failed": 1' three.json || bad "the report's totals: $(grep '"files"' three.json)"
[ $fail -eq 0 ] && echo "ok   one report: 10 inputs in order, each with its rank ($ranks ranks had work), broken.wav failed"

# again on the same cache: nothing is computed again
# shellcheck disable=SC2086
mpirun $mpi_flags -np 3 "$jm" run g.ini ${files% c/broken.wav} -o again --cache-dir cache --report again.json > again.log 2>&1
rc=$?
ran=$(grep -E '"name": "(in|r128|energy)",' again.json | sed 's/.*"ran": \([0-9]*\).*/\1/' | sort -u | tr '\n' ' ')
if [ $rc -eq 0 ] && [ "$ran" = "0 " ] && cmp -s again/loudness.csv one/loudness.csv; then
  echo "ok   a second run on the same cache: nothing computed, the same table"
else
  bad "a second run on the cache: exit $rc, runs of in/r128/energy: $ran"; cat again.log >&2
fi

# one rank
# shellcheck disable=SC2086
mpirun $mpi_flags -np 1 "$jm" run g.ini ${files% c/broken.wav} -o single --no-cache > single.log 2>&1
if [ $? -eq 0 ] && cmp -s single/loudness.csv one/loudness.csv; then
  echo "ok   one rank: the same table"
else
  bad "one rank:"; cat single.log >&2
fi

# refused before anything is read, by every rank: status 2
mkdir d
cp c/take1.wav d/take1.wav
# shellcheck disable=SC2086
mpirun $mpi_flags -np 3 "$jm" run g.ini $files d/take1.wav -o clash --no-cache > clash.log 2>&1
rc=$?
if [ $rc -eq 2 ] && [ ! -e clash ] && [ "$(grep -c 'would be written twice' clash.log)" -eq 1 ]; then
  echo "ok   two inputs that would write one file: status 2, said once, nothing written"
else
  bad "inputs that clash: exit $rc (2 expected)"; cat clash.log >&2
fi

# the job killed mid-run (every rank given SIGTERM, as an abort or a
# scheduler's time limit does): every output in place is whole, the
# temporaries of the jobs in flight go at the next run, and the same command again
# on the same cache computes only the inputs that had not finished. A slow
# node (t_pass sleeping 0.25 s per chunk) makes the run last long enough
# to be killed in the middle: 12 inputs of 1.01 to 1.12 s (2 or 3 chunks
# of 4096 samples; no two alike, or the cache would serve the rest from
# the first), 0.5 s or more each, on 2 ranks.
if [ -n "${TEST_PLUGINS:-}" ] && [ -f "$TEST_PLUGINS/good_test.so" ]; then
  mkdir slow
  k=1
  while [ $k -le 12 ]; do
    "$mktone" "slow/s$k.wav" "$(printf '1.%02d' $k)" 8000 >/dev/null || exit 1
    k=$((k + 1))
  done
  cat > slow.ini <<'EOF'
[graph]
chunk = 4096
[in]
plugin = sndfile
[p]
plugin = t_pass
input = in
delay_us = 250000
[energy]
plugin = energy
input = p
[per]
plugin = csv
input = energy
path = {stem}.energy.csv
EOF
  slow_files=$(ls slow/*.wav | tr '\n' ' ')
  # shellcheck disable=SC2086
  "$JOULE" run slow.ini $slow_files -P "$TEST_PLUGINS" -o ref --no-cache --no-progress 2>/dev/null ||
    bad "the slow graph fails in one process"
  # shellcheck disable=SC2086
  mpirun $mpi_flags -np 2 "$jm" run slow.ini $slow_files -P "$TEST_PLUGINS" -o cut --cache-dir cache-cut > cut.log 2>&1 &
  job=$!
  n=0
  while [ "$(ls cut 2>/dev/null | grep -c 'energy.csv$')" -lt 3 ] && [ $n -lt 600 ]; do
    sleep 0.05
    n=$((n + 1))
  done
  # an abort ends every rank (mpirun itself may go first, and leave them)
  pkill -TERM -f "joule-mpi run slow.ini" 2>/dev/null
  wait $job
  done_before=$(ls cut | grep -c 'energy.csv$')
  whole=1
  for f in cut/*.energy.csv; do
    cmp -s "$f" "ref/$(basename "$f")" || { whole=0; bad "$f, in place after the kill, is not whole"; }
  done
  # shellcheck disable=SC2086
  mpirun $mpi_flags -np 2 "$jm" run slow.ini $slow_files -P "$TEST_PLUGINS" -o cut --cache-dir cache-cut \
    --report cut.json > cut2.log 2>&1 || { bad "the run after the kill failed:"; cat cut2.log >&2; }
  for f in ref/*.energy.csv; do
    cmp -s "$f" "cut/$(basename "$f")" || { whole=0; bad "$(basename "$f") differs after the second run"; }
  done
  [ -z "$(ls -A cut | grep -v 'energy.csv$')" ] || { whole=0; bad "left in the output folder: $(ls -A cut | grep -v 'energy.csv$')"; }
  ran=$(grep '"name": "energy",' cut.json | sed 's/.*"ran": \([0-9]*\).*/\1/')
  if [ "$done_before" -eq 12 ] && [ $whole -eq 1 ]; then
    echo "skip the killed job: on this busy machine every input was done before the kill"
  elif [ "$done_before" -ge 3 ] && [ $whole -eq 1 ] && [ "${ran:-99}" -le $((12 - done_before)) ]; then
    echo "ok   killed after $done_before of 12 inputs: those whole; the run again computed $ran, the rest from the cache"
  else
    bad "killed after $done_before of 12 inputs (3 to 11 expected), then energy ran in ${ran:-?} (at most $((12 - done_before)))"
  fi
else
  echo "skip the killed job: no test plugins (TEST_PLUGINS)"
fi

exit $fail
