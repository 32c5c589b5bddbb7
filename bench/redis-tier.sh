#!/bin/sh
# bench/redis-tier.sh — what the Redis tier saves a second machine: the
# same corpus and graph, in the same run,
#
#   - cold: an empty Redis and an empty disk cache, everything computed;
#   - second machine: a fresh disk cache folder (another machine's disk),
#     the Redis the cold run filled, and only the sinks changed (the CSV's
#     decimals): the loudness figures come from Redis, only the CSVs are
#     written.
#
# The corpus is 16 files of mktone's programme, 60 to 75 s each (no two
# alike: equal files would share entries), 44.1 kHz stereo; the graph
# bench/graphs/loudness-tp.ini (EBU R128 loudness with true peak, one row
# per file to CSV: the heavy work upstream, the sink small, as in a
# loudness report). The redis-server is started here on a loopback port,
# and stopped.
#
#   bench/redis-tier.sh
#
# Environment: RUNS (hyperfine runs, default 7); JOULE_BUILD (a configured
# and built joule tree; default: the project's build/). Times the real
# joule binary (src/cli/.libs/joule). Writes bench/out/redis-tier/RESULTS.md
# and prints it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
runs=${RUNS:-7}
out=$here/out/redis-tier
build=$(cd "${JOULE_BUILD:-$top/build}" && pwd)
joule=$build/src/cli/.libs/joule
command -v hyperfine >/dev/null || { echo "hyperfine is missing: apt-get install hyperfine" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server is missing: apt-get install redis-server" >&2; exit 1; }
LD_LIBRARY_PATH=$build/src/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
JOULE_PLUGIN_PATH=$build/plugins/.libs
export LD_LIBRARY_PATH JOULE_PLUGIN_PATH
mkdir -p "$out/corpus"
i=1
while [ $i -le 16 ]; do
    f=$out/corpus/take$i.wav
    [ -f "$f" ] || "$build/examples/mktone" "$f" $((59 + i)) >/dev/null
    i=$((i + 1))
done
files=$(ls "$out"/corpus/take*.wav | tr '\n' ' ')

port=$((30000 + $$ % 20000))
redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --dir "$out" --logfile "$out/redis.log" --pidfile "$out/redis.pid" >/dev/null
trap 'redis-cli -p $port shutdown nosave >/dev/null 2>&1' EXIT
n=0
until redis-cli -p $port ping 2>/dev/null | grep -q PONG; do
    n=$((n + 1)); [ $n -lt 50 ] || { echo "redis-server did not start" >&2; exit 1; }; sleep 0.1
done

# the graph with the Redis tier, and the same with other sinks
{ printf '[cache]\nredis = redis://127.0.0.1:%s/0\n' $port; cat "$here/graphs/loudness-tp.ini"; } > "$out/cold.ini"
{ cat "$out/cold.ini"; printf 'decimals = 3\n'; } > "$out/sinks.ini"

cold="redis-cli -p $port flushall >/dev/null && rm -rf '$out/cache-a' '$out/a'"
hyperfine --runs "$runs" --export-json "$out/cold.json" --prepare "$cold" \
    -n cold "'$joule' run '$out/cold.ini' $files -o '$out/a' --cache-dir '$out/cache-a' --no-progress" >/dev/null
# fill Redis once, then time the second machine
eval "$cold"
"$joule" run "$out/cold.ini" $files -o "$out/a" --cache-dir "$out/cache-a" --no-progress
hyperfine --runs "$runs" --export-json "$out/second.json" --prepare "rm -rf '$out/cache-b' '$out/b'" \
    -n "second machine, sinks changed" \
    "'$joule' run '$out/sinks.ini' $files -o '$out/b' --cache-dir '$out/cache-b' --no-progress" >/dev/null
"$joule" run "$out/sinks.ini" $files -o "$out/b" --cache-dir "$out/cache-b2" --no-progress --report "$out/b.json"

med() { tr -d '\n' <"$1" | sed -n 's/.*"median": *\([0-9.e-]*\).*/\1/p'; }
c=$(med "$out/cold.json")
s=$(med "$out/second.json")
{
    echo "# redis-tier: 16 files of 60-75 s, loudness-tp.ini"
    echo
    echo "hyperfine, $runs runs each, same run; Redis on loopback."
    echo
    echo "| run | median s |"
    echo "|---|---|"
    printf '| cold (empty Redis, empty disk cache) | %.3f |\n' "$c"
    printf '| second machine (fresh disk cache, same Redis), sinks changed | %.3f |\n' "$s"
    echo
    awk -v c="$c" -v s="$s" 'BEGIN { printf "cold / second machine: %.1f×\n", c / s }'
    echo
    echo "second machine's report: loudness $(grep '"name": "l",' "$out/b.json" | sed 's/.*"jobs": \(.*\)}},*$/\1}/'), cache $(grep -o '"hits": [0-9]*, "memory_hits": [0-9]*, "misses": [0-9]*' "$out/b.json")"
} | tee "$out/RESULTS.md"
