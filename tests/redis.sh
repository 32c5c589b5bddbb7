#!/bin/sh
# The stage cache's Redis tier, on a redis-server started here on a free
# loopback port (and stopped): a second "machine" (a fresh disk cache, the
# same Redis) replays every entry the first computed, with the same
# outputs; two processes at once, each with its own disk cache, compute
# each key once between them (leases); a corrupted entry in Redis is
# recomputed, never served; Redis stopped mid-run costs one warning and
# nothing else; a password comes from $JOULE_REDIS_PASSWORD (one in the
# graph is refused), and a wrong one is a warning, not a failure.
#
# Skips (77) where redis-server is missing; scripts/setup-debian.sh
# installs it, so CI runs it.
set -u
: "${JOULE:?}"
top_builddir=${top_builddir:-..}
command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 ||
  { echo "SKIP: redis-server is not installed (apt-get install redis-server)"; exit 77; }
mktone="$(cd "$top_builddir" && pwd)/examples/mktone"
tmp=$(mktemp -d)
ports=
cleanup() {
  for p in $ports; do redis-cli -p "$p" ${pw:+-a "$pw"} --no-auth-warning shutdown nosave >/dev/null 2>&1; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
bad() { echo "FAILED: $*" >&2; fail=1; }
cd "$tmp" || exit 1

# start_redis [ARGS...]: a server on the first free port from a random
# start; its port in $port
start_redis() {
  p=$((20000 + $$ % 20000))
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    p=$((p + 1))
    redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
      --dir "$tmp" --logfile "$tmp/redis-$p.log" --pidfile "$tmp/redis-$p.pid" "$@" >/dev/null 2>&1 || continue
    n=0
    while [ $n -lt 50 ]; do
      if redis-cli -p "$p" ${pw:+-a "$pw"} --no-auth-warning ping 2>/dev/null | grep -q PONG; then
        port=$p
        ports="$ports $p"
        return 0
      fi
      sleep 0.1
      n=$((n + 1))
    done
  done
  echo "FAILED: no redis-server could be started on a loopback port" >&2
  exit 1
}

pw=
start_redis
mkdir c
for k in 1 2 3 4 5 6 7 8; do
  "$mktone" "c/take$k.wav" "$(printf '2.%02d' $k)" 8000 >/dev/null || exit 1
done
files=$(ls c/*.wav | tr '\n' ' ')
graph() { # graph PORT [DELAY_US]: energy (cached) after a pass-through, to CSVs
  cat <<EOF
[cache]
redis = redis://127.0.0.1:$1/0
[in]
plugin = sndfile
[p]
plugin = t_pass
input = in
delay_us = ${2:-0}
[energy]
plugin = energy
input = p
[per]
plugin = csv
input = energy
path = {stem}.energy.csv
EOF
}
P="-P ${TEST_PLUGINS:?}"
# ran REPORT: how many inputs the energy node ran in
ran() { grep '"name": "energy",' "$1" | sed 's/.*"ran": \([0-9]*\).*/\1/'; }
replayed() { grep '"name": "energy",' "$1" | sed 's/.*"replayed": \([0-9]*\).*/\1/'; }
same() { # same DIR: every output equals the reference's
  for f in ref/*.energy.csv; do cmp -s "$f" "$1/$(basename "$f")" || return 1; done
}
graph 1 > nocache.ini
# shellcheck disable=SC2086
"$JOULE" run nocache.ini $files $P -o ref --no-cache --no-progress 2>/dev/null || bad "the reference run failed"

# a first machine computes; a second (another disk cache) replays it all
graph "$port" > g.ini
# shellcheck disable=SC2086
"$JOULE" run g.ini $files $P -o a --cache-dir cache-a --no-progress --report a.json 2> a.log
# shellcheck disable=SC2086
"$JOULE" run g.ini $files $P -o b --cache-dir cache-b --no-progress --report b.json 2> b.log
if [ "$(ran a.json)" = 8 ] && [ "$(ran b.json)" = 0 ] && [ "$(replayed b.json)" = 8 ] && same a && same b &&
   [ ! -s a.log ] && [ ! -s b.log ]; then
  echo "ok   a second machine (a fresh disk cache) replays all 8 entries from Redis; the same outputs"
else
  bad "second machine: energy ran $(ran a.json) then $(ran b.json), replayed $(replayed b.json)"; cat a.log b.log >&2
fi

# two at once on an empty Redis, each with its own disk cache: each key
# computed once between them (t_pass takes 0.2 s a chunk, so they overlap)
redis-cli -p "$port" flushall >/dev/null
graph "$port" 200000 > slow.ini
# shellcheck disable=SC2086
"$JOULE" run slow.ini $files $P -o x --cache-dir cache-x --no-progress --report x.json 2> x.log &
sleep 0.3
# shellcheck disable=SC2086
"$JOULE" run slow.ini $files $P -o y --cache-dir cache-y --no-progress --report y.json 2> y.log
wait
total=$(($(ran x.json) + $(ran y.json)))
if [ "$total" -eq 8 ] && same x && same y; then
  echo "ok   two processes at once, separate disk caches: 8 keys computed once between them ($(ran x.json) + $(ran y.json))"
else
  bad "two at once computed $total entries ($(ran x.json) + $(ran y.json)), not 8"; cat x.log y.log >&2
fi

# a corrupted piece: recomputed, never served (Redis holds the entries of
# g.ini again first: slow.ini's are others, its t_pass set otherwise)
redis-cli -p "$port" flushall >/dev/null
# shellcheck disable=SC2086
"$JOULE" run g.ini $files $P -o w --cache-dir cache-w --no-progress 2>/dev/null
# the smallest piece: an energy entry (the pass-through's are the audio)
piece=$(for k in $(redis-cli -p "$port" --scan --pattern 'joule:1:*:0'); do
  echo "$(redis-cli -p "$port" strlen "$k") $k"; done | sort -n | head -1 | cut -d' ' -f2)
redis-cli -p "$port" setrange "$piece" 40 XXXXXXXX >/dev/null
# shellcheck disable=SC2086
"$JOULE" run g.ini $files $P -o z --cache-dir cache-z --no-progress --report z.json 2> z.log
if [ "$(ran z.json)" = 1 ] && [ "$(replayed z.json)" = 7 ] && grep -q '"corrupt": 1,' z.json && same z; then
  echo "ok   a corrupted entry in Redis: recomputed (1), the 7 others served; the same outputs"
else
  bad "a corrupted entry: ran $(ran z.json), replayed $(replayed z.json), $(grep -o '"corrupt": [0-9]*' z.json)"
fi

# Redis stopped in the middle of a run: one warning, the run completes
redis-cli -p "$port" flushall >/dev/null
# shellcheck disable=SC2086
"$JOULE" run slow.ini $files $P -o s --cache-dir cache-s --no-progress 2> s.log &
job=$!
sleep 0.8
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1
wait $job
rc=$?
if [ $rc -eq 0 ] && same s && [ "$(grep -c 'warning: Redis' s.log)" -eq 1 ] && [ "$(grep -c . s.log)" -eq 1 ]; then
  echo "ok   Redis stopped mid-run: $(cat s.log)"
else
  bad "Redis stopped mid-run: exit $rc"; cat s.log >&2
fi
# and away from the start: the same
# shellcheck disable=SC2086
"$JOULE" run g.ini $files $P -o t --cache-dir cache-t --no-progress 2> t.log
rc=$?
[ $rc -eq 0 ] && same t && [ "$(grep -c . t.log)" -eq 1 ] || { bad "Redis away: exit $rc"; cat t.log >&2; }

# a password: from the environment; in the graph file, refused
printf '[cache]\nredis = redis://:secret@127.0.0.1:%s/0\n[in]\nplugin = sndfile\n[o]\nplugin = csv\ninput = in\npath = {stem}.csv\n' "$port" > pwd.ini
"$JOULE" validate pwd.ini > pwd.log 2>&1
[ $? -eq 2 ] && grep -q 'JOULE_REDIS_PASSWORD' pwd.log || { bad "a password in the graph should be refused:"; cat pwd.log >&2; }
pw=s3cret
start_redis --requirepass "$pw"
graph "$port" > gp.ini
# shellcheck disable=SC2086
JOULE_REDIS_PASSWORD=$pw "$JOULE" run gp.ini $files $P -o p1 --cache-dir cache-p1 --no-progress 2> p1.log
# shellcheck disable=SC2086
JOULE_REDIS_PASSWORD=$pw "$JOULE" run gp.ini $files $P -o p2 --cache-dir cache-p2 --no-progress --report p2.json 2> p2.log
# shellcheck disable=SC2086
JOULE_REDIS_PASSWORD=wrong "$JOULE" run gp.ini $files $P -o p3 --cache-dir cache-p3 --no-progress 2> p3.log
rc=$?
if [ "$(replayed p2.json)" = 8 ] && [ ! -s p1.log ] && [ $rc -eq 0 ] && same p3 && grep -q 'warning: Redis.*AUTH' p3.log; then
  echo "ok   JOULE_REDIS_PASSWORD: served; a wrong one: $(cat p3.log)"
else
  bad "password: replayed $(replayed p2.json), wrong one exit $rc:"; cat p1.log p3.log >&2
fi

exit $fail
