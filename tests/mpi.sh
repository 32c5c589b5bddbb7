#!/bin/sh
# joule-mpi under mpirun, on this machine: 3 ranks over a corpus of 10
# inputs (one broken) write per-input outputs and a gathered table byte for
# byte as one joule process does; exit status 1 for the broken input,
# reported like any failed input; one merged report names every input once
# with the rank it ran on, and "processes": 3; no part of a table is left;
# a second run on the same cache folder computes nothing again; one rank
# alone works too; outputs refused before anything is read (two inputs
# that would write one file) stop every rank with status 2.
#
# Skips (77) where joule-mpi was not built (configure found no MPI) or
# mpirun is missing; scripts/setup-debian.sh installs Open MPI, so CI runs
# it.
set -u
: "${JOULE:?}"
top_builddir=${top_builddir:-..}
jm="$(cd "$top_builddir" && pwd)/src/mpi/joule-mpi" # the test runs elsewhere
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
  "$top_builddir/examples/mktone" "$tmp/c/take$i.wav" "$i" 8000 >/dev/null || exit 1
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

exit $fail
