#!/bin/sh
# bench/mpi-overhead.sh — what joule-mpi costs: the same corpus and graph
# on the same 2 cores, in the same run,
#
#   - one joule process with 2 threads:   joule run -j 2
#   - two MPI ranks of one thread each:   mpirun -np 2 joule-mpi run -j 1
#
# The corpus is 16 files of 10 minutes (links to bench/data/audio_10min.wav,
# 44.1 kHz stereo); the graph bench/graphs/cache-spectral.ini (a 2048/512
# spectrum, spectral features, CSV), without the stage cache. The overhead
# is the ranks' median over the process's: starting MPI, loading the graph
# on each rank, asking rank 0 for each input, and merging the reports. The
# third line is the floor of any MPI program: mpirun starting two ranks
# that only initialise and finalise MPI.
#
#   bench/mpi-overhead.sh
#
# Environment: RUNS (hyperfine runs, default 7); JOULE_BUILD (a configured
# and built joule tree with joule-mpi; default: the project's build/).
# Times the real binaries (.libs/), not libtool's wrapper scripts. Writes
# bench/out/mpi-overhead/RESULTS.md and prints it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
runs=${RUNS:-7}
out=$here/out/mpi-overhead
build=$(cd "${JOULE_BUILD:-$top/build}" && pwd)
joule=$build/src/cli/.libs/joule
jm=$build/src/mpi/.libs/joule-mpi
command -v hyperfine >/dev/null || { echo "hyperfine is missing: apt-get install hyperfine" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "mpirun is missing: apt-get install openmpi-bin" >&2; exit 1; }
[ -x "$jm" ] || { echo "no $jm: configure found no MPI (apt-get install libopenmpi-dev), or the tree is not built" >&2; exit 1; }
LD_LIBRARY_PATH=$build/src/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
JOULE_PLUGIN_PATH=$build/plugins/.libs
export LD_LIBRARY_PATH JOULE_PLUGIN_PATH
mpi_flags=
if mpirun --version 2>/dev/null | grep -q "Open MPI"; then
    [ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_MCA_btl_vader_single_copy_mechanism=none
    mpi_flags="--bind-to none"
fi

input=$here/data/audio_10min.wav
[ -f "$input" ] || { echo "no $input: make it with ../shared/bench/make-data.sh (BENCH_DATA=bench/data)" >&2; exit 1; }
mkdir -p "$out/corpus" "$out/t1" "$out/t2"
i=1
while [ $i -le 16 ]; do
    ln -sf "$input" "$out/corpus/take$i.wav"
    i=$((i + 1))
done
graph=$here/graphs/cache-spectral.ini
files=$(ls "$out"/corpus/take*.wav | tr '\n' ' ')

# the floor of any MPI program here: mpirun starting 2 ranks that only
# initialise MPI and finalise it
cat >"$out/mpi_init.c" <<'EOF'
#include <mpi.h>
int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
    return MPI_Finalize();
}
EOF
mpicc -O2 "$out/mpi_init.c" -o "$out/mpi_init"
hyperfine --runs "$runs" --warmup 1 --export-json "$out/timing.json" \
    -n "joule -j 2" "'$joule' run '$graph' $files -o '$out/t1' --no-progress --no-cache -j 2" \
    -n "mpirun -np 2 joule-mpi -j 1" "mpirun $mpi_flags -np 2 '$jm' run '$graph' $files -o '$out/t2' --no-cache -j 1" \
    -n "mpirun -np 2 (MPI_Init, MPI_Finalize only)" "mpirun $mpi_flags -np 2 '$out/mpi_init'" \
    >/dev/null
for f in "$out"/t1/*.csv; do
    cmp -s "$f" "$out/t2/$(basename "$f")" || { echo "$(basename "$f"): the ranks' output differs from the process's" >&2; exit 1; }
done

{
    echo "# mpi-overhead: 16 files of 10 min, cache-spectral.ini, 2 cores"
    echo
    echo "hyperfine, $runs runs, same run; outputs byte-identical."
    echo
    echo "| command | median s | mean s | min s | over joule -j 2 |"
    echo "|---|---|---|---|---|"
    tr -d '\n' <"$out/timing.json" | sed 's/"command"/\n"command"/g' | sed -n 's/.*"command": *"\([^"]*\)".*"mean": *\([0-9.e-]*\).*"median": *\([0-9.e-]*\).*"min": *\([0-9.e-]*\).*/\1\t\3\t\2\t\4/p' |
        awk -F '\t' '{ name[NR] = $1; med[NR] = $2; mean[NR] = $3; min[NR] = $4; if ($1 == "joule -j 2") base = $2 }
             END { for (i = 1; i <= NR; i++) printf "| %s | %.3f | %.3f | %.3f | %+.1f %% |\n", name[i], med[i], mean[i], min[i], 100 * (med[i] / base - 1) }'
} | tee "$out/RESULTS.md"
