#!/bin/sh
# --shard I/N, for job arrays: N runs given the same inputs run each input
# exactly once between them, whatever order the inputs are given in; their
# per-input outputs are byte for byte those of one whole run; the rows of
# their tables (NAME.shard-I-of-N.csv) are the whole table's; each report
# names its shard and its inputs, and together they name every input once,
# a broken one failed in its shard alone. The shares are balanced by size.
# Inputs that would write one file are refused by every shard.
# A whole run after the shards, on their cache, recomputes nothing and
# writes the whole table as one run does. Bad values: usage errors.
set -u
: "${JOULE:?}"
top_builddir=${top_builddir:-..}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAILED: $*" >&2; fail=1; }

# a corpus of 9 files of 1 to 9 s (sizes 1..9 units), and one that is no
# WAV at all
mkdir "$tmp/c"
for i in 1 2 3 4 5 6 7 8 9; do
  "$top_builddir/examples/mktone" "$tmp/c/take$i.wav" "$i" 8000 >/dev/null || exit 1
done
printf 'RIFF\004\000\000\000WAVEjunk' > "$tmp/c/broken.wav"
cd "$tmp" || exit 1
files="c/take1.wav c/take2.wav c/take3.wav c/take4.wav c/take5.wav c/take6.wav c/take7.wav c/take8.wav c/take9.wav c/broken.wav"
rev="c/broken.wav c/take9.wav c/take8.wav c/take7.wav c/take6.wav c/take5.wav c/take4.wav c/take3.wav c/take2.wav c/take1.wav"

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

# inputs REPORT STATUS: the inputs a report gives that status, one a line
inputs() {
  grep -o "\"file\": \"[^\"]*\", \"status\": \"$2\"" "$1" | sed 's/"file": "\([^"]*\)".*/\1/'
}

# shellcheck disable=SC2086
"$JOULE" run g.ini $files -o whole --no-progress --cache-dir cache-whole --report whole.json 2> whole.log
[ $? -eq 1 ] || bad "the whole run should fail for broken.wav alone (exit 1)"

# the three shards, on one cache (as on a shared folder)
total=0
for k in 1 2 3; do
  # shellcheck disable=SC2086
  "$JOULE" run g.ini $files -o shards --no-progress --cache-dir cache-shards --shard $k/3 --report r$k.json 2> s$k.log
  echo $? > s$k.rc
  grep -q "\"shard\": {\"index\": $k, \"count\": 3, \"inputs_given\": 10}" r$k.json ||
    bad "report of shard $k/3 does not say so: $(grep shard r$k.json)"
  inputs r$k.json '[a-z ]*' | sort > in$k
  # the same share when the inputs come in another order
  # shellcheck disable=SC2086
  "$JOULE" run g.ini $rev -o again --no-progress --no-cache --shard $k/3 --report q$k.json 2>/dev/null
  inputs q$k.json '[a-z ]*' | sort > inq$k
  cmp -s in$k inq$k || bad "shard $k/3 takes other inputs when they are given in reverse: $(cat in$k | tr '\n' ' ') / $(cat inq$k | tr '\n' ' ')"
done
cat in1 in2 in3 | sort > all_sharded
printf '%s\n' $files | sort > all_given
if cmp -s all_sharded all_given; then
  echo "ok   every input in exactly one shard: $(for k in 1 2 3; do printf '%s | ' "$(tr '\n' ' ' < in$k)"; done)"
else
  bad "the shards' inputs are not the inputs, each once: $(tr '\n' ' ' < all_sharded)"
fi

# balance: take<i> weighs about i; 45 in all (and broken.wav, whose size
# is small): each share within one file (at most 9) of 15
for k in 1 2 3; do
  w=$(sed -n 's/.*take\([0-9]\)\.wav/\1/p' in$k | awk '{ s += $1 } END { print s + 0 }')
  [ "$w" -ge 6 ] && [ "$w" -le 24 ] || bad "shard $k/3 holds $w of 45 seconds: unbalanced"
done

# exit status: 1 in the shard that has broken.wav, 0 in the others; its
# failure is in that shard's report alone
for k in 1 2 3; do
  if grep -qx c/broken.wav in$k; then
    [ "$(cat s$k.rc)" -eq 1 ] && [ "$(inputs r$k.json failed)" = c/broken.wav ] ||
      bad "shard $k/3 has broken.wav: exit $(cat s$k.rc), failed: $(inputs r$k.json failed)"
  else
    [ "$(cat s$k.rc)" -eq 0 ] || bad "shard $k/3 failed (exit $(cat s$k.rc)): $(cat s$k.log)"
  fi
done

# per-input outputs: the same bytes as the whole run's, and no more files
for i in 1 2 3 4 5 6 7 8 9; do
  cmp -s whole/take$i.energy.csv shards/take$i.energy.csv || bad "take$i.energy.csv differs from the whole run's"
done
[ ! -e shards/broken.energy.csv ] || bad "a failed input left an output"
# the tables: the shards' rows are the whole table's rows
for k in 1 2 3; do
  [ -f shards/loudness.shard-$k-of-3.csv ] || bad "shard $k/3 wrote no loudness.shard-$k-of-3.csv: $(ls shards)"
done
[ ! -e shards/loudness.csv ] || bad "a shard wrote the whole table's name"
head -1 whole/loudness.csv > header
for k in 1 2 3; do
  head -1 shards/loudness.shard-$k-of-3.csv | cmp -s - header || bad "shard $k/3's table has another header"
done
tail -q -n +2 shards/loudness.shard-*-of-3.csv | sort > rows_sharded
tail -n +2 whole/loudness.csv | sort > rows_whole
if cmp -s rows_sharded rows_whole && [ "$(wc -l < rows_whole)" -eq 9 ]; then
  echo "ok   per-input outputs byte-identical; the shards' table rows are the whole table's 9"
else
  bad "the shards' table rows differ from the whole table's:"; diff rows_sharded rows_whole >&2
fi

# the whole run again on the shards' cache (the inputs that can be read):
# no node runs but the sinks, and the table is the whole run's, byte for
# byte
# shellcheck disable=SC2086
"$JOULE" run g.ini ${files% c/broken.wav} -o final --no-progress --cache-dir cache-shards --report final.json 2>/dev/null
ran=$(grep -E '"name": "(in|r128|energy)",' final.json | sed 's/.*"ran": \([0-9]*\).*/\1/' | sort -u | tr '\n' ' ')
if cmp -s final/loudness.csv whole/loudness.csv && [ "$ran" = "0 " ]; then
  echo "ok   a whole run after the shards, from their cache: computed nothing, the same table"
else
  bad "the run after the shards: table $(cmp final/loudness.csv whole/loudness.csv 2>&1), runs of in/r128/energy: $ran"
fi

# two inputs that would write one file (c/take1.wav and d/take1.wav, both
# take1.energy.csv) are refused by every shard, not only by one that has
# both
mkdir d
cp c/take1.wav d/take1.wav
for k in 1 2 3 4 5 6 7 8 9 10; do
  # shellcheck disable=SC2086
  "$JOULE" run g.ini $files d/take1.wav -o clash --no-cache --shard $k/10 > clash.log 2>&1
  rc=$?
  [ $rc -eq 2 ] && grep -q "take1.energy.csv" clash.log && [ ! -e clash ] ||
    bad "shard $k/10 of inputs that clash: exit $rc (2 expected): $(head -1 clash.log)"
done
echo "ok   inputs that would write one file: refused by every shard"

# usage errors: status 2, one line, nothing run
for s in 0/3 4/3 1/0 x/2 1/ -1/2 2/1; do
  # shellcheck disable=SC2086
  "$JOULE" run g.ini $files -o err --no-cache --shard "$s" > err.log 2>&1
  rc=$?
  if [ $rc -ne 2 ] || [ -e err ] || ! grep -q -- "--shard" err.log; then
    bad "--shard $s: exit $rc (2 expected), $(head -1 err.log)"
  fi
done
echo "ok   --shard 0/3, 4/3, 1/0, x/2 ...: usage errors"

exit $fail
