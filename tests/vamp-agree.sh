#!/bin/sh
# The Vamp bridge agrees with vamp-simple-host (the Vamp SDK's own host):
# for every plugin and every output of the SDK's example plugins, on a
# stereo file (mixed down to the one channel the plugins take) and a mono
# one at another rate, joule's rows carry the same sample frames (and
# durations), and the same values to the precision vamp-simple-host prints
# (six significant digits). Then: the output does not depend on chunk size
# or thread count, and a plugin that cannot run says why.
#
# Skips (77) where vamp-simple-host, the example plugins or the bridge are
# missing; scripts/setup-debian.sh installs them, so CI runs it.
#
# VAMP_AGREE_PARTS=threads runs only the chunk-size and thread part (for
# the ThreadSanitizer build, where the rest would take minutes).
set -u
: "${JOULE:?}" "${JOULE_PLUGIN_PATH:?}"
top_builddir=${top_builddir:-..}
parts=${VAMP_AGREE_PARTS:-all}

command -v vamp-simple-host >/dev/null 2>&1 || { echo "SKIP: vamp-simple-host is not installed (apt-get install vamp-examples)"; exit 77; }
[ -f "$JOULE_PLUGIN_PATH/vamp.so" ] || { echo "SKIP: the Vamp bridge was not built (configure found no vamp/vamp.h)"; exit 77; }
VAMP_PATH=
for d in /usr/lib/*/vamp /usr/lib/vamp /usr/local/lib/vamp; do
  [ -f "$d/vamp-example-plugins.so" ] && { VAMP_PATH=$d; break; }
done
[ -n "$VAMP_PATH" ] || { echo "SKIP: the Vamp SDK's example plugins are not installed (apt-get install vamp-examples)"; exit 77; }
export VAMP_PATH

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export JOULE_CACHE_DIR="$tmp/cache"
fail=0
mktone="$top_builddir/examples/mktone"
# Lengths that are no multiple of any block or step, ending in the digital
# silence of mktone's programme (15 s to 20 s). The silence is for
# vamp-simple-host: Debian 12's (SDK 2.10) leaves stale samples, not zeros,
# in the padded blocks after the end of the audio when what remains is
# shorter than the overlap (fixed upstream in 2021, "Fix failure to zero
# out samples after end of audio"). joule pads with zeros; after silence,
# the stale samples are zeros too, and the two agree on every block.
"$mktone" "$tmp/stereo.wav" 17.3 44100 >/dev/null || exit 1
"$mktone" "$tmp/mono2.wav" 16.37 48000 >/dev/null || exit 1
# a mono file: the first channel of a 48 kHz programme, through joule itself
cat > "$tmp/mono.ini" <<'EOF'
[in]
plugin = sndfile
[pick]
plugin = vector
input = in
keep = ch0
[out]
plugin = sndfile_sink
input = pick
path = {stem}.mono.wav
EOF
if ! "$JOULE" run "$tmp/mono.ini" "$tmp/mono2.wav" -o "$tmp" >"$tmp/log" 2>&1; then
  echo "FAILED: could not make the mono file:" >&2; cat "$tmp/log" >&2; exit 1
fi
mono="$tmp/mono2.mono.wav"

ident() { printf '%s' "$1" | tr 'A-Z' 'a-z' | sed 's/[^a-z0-9][^a-z0-9]*/_/g; s/^_//; s/_$//'; }

# compare OURS.csv THEIRS.txt RATE: joule's CSV of one output against
# vamp-simple-host -s. Features are matched in order. Ours: a row of a
# frames or fixed-bin output is one feature (a frames row of NaN is a step
# without a result, which vamp-simple-host does not print); rows of a
# varying-bin output (columns bin, value) at the same time are one feature;
# a marker output's features have no values. Theirs: "FRAME[,DURATION]:
# V1 V2 ... LABEL" — the first values, as many as ours has (a label may
# start with a number: "127.2 bpm").
compare() {
  awk -v rate="$3" -v what="$4" -v grid="${5:-0}" '
    function num_eq(a, b,   d, m) {
      if (a == "nan" || b == "nan" || a == "-nan" || b == "-nan") return (a ~ /nan/) && (b ~ /nan/)
      if (a ~ /inf/ || b ~ /inf/) return a == b
      d = a - b; if (d < 0) d = -d
      m = (a < 0 ? -a : a); if ((b < 0 ? -b : b) > m) m = (b < 0 ? -b : b)
      # six significant digits printed: 1.5 units of the sixth digit
      return d <= 1.5e-5 * m || d < 1e-30
    }
    FNR == NR {
      if (FNR == 1) { nc = split($0, h, ","); marker = (h[2] == "marker"); varbins = (h[2] == "bin");
                      dur = (h[nc] == "duration"); nv = nc - 1 - dur; next }
      n = split($0, f, ",")
      frame = int(f[1] * rate + 0.5)
      if (varbins) {
        if (cnt > 0 && frame == fr[cnt] && f[1] == tm[cnt]) { if (f[3] != "nan") { nvals[cnt]++; val[cnt, nvals[cnt]] = f[3] }; next }
        cnt++; fr[cnt] = frame; tm[cnt] = f[1]; nvals[cnt] = 0
        if (f[3] != "nan") { nvals[cnt] = 1; val[cnt, 1] = f[3] }
        if (dur) du[cnt] = int(f[4] * rate + 0.5)
        next
      }
      allnan = 1
      for (k = 2; k <= 1 + nv; k++) if (f[k] != "nan") allnan = 0
      if (allnan && !marker) next
      cnt++; fr[cnt] = frame; nvals[cnt] = marker ? 0 : nv
      for (k = 1; k <= nvals[cnt]; k++) val[cnt, k] = f[k + 1]
      if (dur) du[cnt] = int(f[nc] * rate + 0.5)
      next
    }
    {
      i++
      c = index($0, ":"); head = substr($0, 1, c - 1); rest = substr($0, c + 1)
      split(head, hd, ","); nt = split(rest, t, " ")
      if (i > cnt) { if (!extra) printf "%s: vamp-simple-host has a feature %d (frame %s) that joule does not\n", what, i, hd[1]; extra = 1; bad++; next }
      if (grid > 0) fr[i] = int(fr[i] / grid + 0.5) * grid
      if (hd[1] + 0 != fr[i]) { if (shown++ < 3) printf "%s: feature %d: frame %s, joule %d\n", what, i, hd[1], fr[i]; bad++; next }
      if (dur && (2 in hd) && hd[2] + 0 != du[i]) { if (shown++ < 3) printf "%s: feature %d: duration %s frames, joule %d\n", what, i, hd[2], du[i]; bad++ }
      if (nt < nvals[i]) { if (shown++ < 3) printf "%s: feature %d: %d values, joule %d\n", what, i, nt, nvals[i]; bad++; next }
      for (k = 1; k <= nvals[i]; k++)
        if (!num_eq(val[i, k], t[k])) { if (shown++ < 3) printf "%s: feature %d (frame %d) value %d: %s, joule %s\n", what, i, fr[i], k, t[k], val[i, k]; bad++; break }
      vals += nvals[i]
    }
    END {
      if (i < cnt) { printf "%s: joule has %d features, vamp-simple-host %d\n", what, cnt, i; bad++ }
      if (bad) exit 1
      printf "ok   %s: %d features, %d values agree\n", what, i, vals
    }' "$1" "$2"
}

# Fixed-rate outputs: vamp-simple-host places their features on the grid
# of the output rate the plugin reports *before* it is initialised (it
# asks for the descriptors first), which for fixedtempo is half the rate it
# reports once initialised with its preferred step; joule (like Sonic
# Annotator) uses the rate reported after initialise. For these outputs
# joule's frames are compared after rounding to vamp-simple-host's grid,
# the greatest common divisor of the frames it printed.
vamp-simple-host --list-full 2>/dev/null | awk '
  /^ - Identifier:/ { id = $3; if (id ~ /^vamp-example-plugins:/) { split(id, a, ":"); plugin = a[2] } else out = id }
  /^ - Sample Type:/ && /Fixed Sample Rate/ { print plugin ":" out }' > "$tmp/fixed"
grid_of() {
  awk -F'[:,]' 'function gcd(a, b) { while (b) { t = b; b = a % b; a = t } return a }
                { g = gcd(g, $1 + 0) } END { print g + 0 }' "$1"
}

n_outputs=0
vamp-simple-host --list-outputs 2>/dev/null | grep '^vamp:vamp-example-plugins:' > "$tmp/outputs"
[ -s "$tmp/outputs" ] || { echo "FAILED: vamp-simple-host lists no example plugin outputs" >&2; exit 1; }
# one graph per plugin: every output to a CSV
for plugin in $(cut -d: -f3 "$tmp/outputs" | sort -u); do
  {
    printf '[in]\nplugin = sndfile\n[v]\nplugin = vamp_example_plugins_%s\ninput = in\n' "$(ident "$plugin")"
    for out in $(grep ":$plugin:" "$tmp/outputs" | cut -d: -f4); do
      port=$(ident "$out")
      printf '[o_%s]\nplugin = csv\ninput = v.%s\npath = {stem}.%s.csv\n' "$port" "$port" "$out"
    done
  } > "$tmp/$plugin.ini"
done

threads_only() { # the ThreadSanitizer run (scripts/test.sh) takes only the threads part
  if [ "$parts" = threads ]; then
    echo "ok   ($1: not in a VAMP_AGREE_PARTS=threads run)"
    return 0
  fi
  return 1
}

for plugin in $(cut -d: -f3 "$tmp/outputs" | sort -u); do
  threads_only "agreement with vamp-simple-host" && break
  for wav in "$tmp/stereo.wav" "$mono"; do
    stem=$(basename "$wav" .wav)
    rate=$(case $wav in *stereo*) echo 44100 ;; *) echo 48000 ;; esac)
    if ! "$JOULE" run "$tmp/$plugin.ini" "$wav" -o "$tmp/j" >"$tmp/log" 2>&1; then
      echo "FAILED: joule run $plugin on $stem:" >&2; cat "$tmp/log" >&2; fail=1; continue
    fi
    for out in $(grep ":$plugin:" "$tmp/outputs" | cut -d: -f4); do
      n_outputs=$((n_outputs + 1))
      vamp-simple-host -s "vamp-example-plugins:$plugin:$out" "$wav" -o "$tmp/theirs.txt" >/dev/null 2>&1 ||
        { echo "FAILED: vamp-simple-host $plugin:$out on $stem" >&2; fail=1; continue; }
      grid=0
      grep -qx "$plugin:$out" "$tmp/fixed" && grid=$(grid_of "$tmp/theirs.txt")
      compare "$tmp/j/$stem.$out.csv" "$tmp/theirs.txt" "$rate" "$plugin:$out ($stem)" "$grid" || fail=1
    done
  done
done
[ "$n_outputs" -ge 20 ] || [ "$parts" = threads ] || { echo "FAILED: only $n_outputs outputs compared" >&2; fail=1; }

# Chunk sizes and threads do not change a byte (on 2 s of the stereo
# file under ThreadSanitizer, where chunks of one row are slow).
det=$tmp/stereo.wav
if [ "$parts" = threads ]; then
  "$mktone" "$tmp/short.wav" 2 44100 >/dev/null || exit 1
  det=$tmp/short.wav
fi
for plugin in spectralcentroid percussiononsets zerocrossing fixedtempo; do
  ref=
  for opt in "-s graph.chunk=4096 -j 1" "-s graph.chunk=1 -j 2" "-s graph.chunk=333 -j 2"; do
    rm -rf "$tmp/c"
    # shellcheck disable=SC2086
    "$JOULE" run "$tmp/$plugin.ini" "$det" -o "$tmp/c" --no-cache $opt >"$tmp/log" 2>&1 ||
      { echo "FAILED: $plugin with $opt:" >&2; cat "$tmp/log" >&2; fail=1; continue; }
    sum=$(cat "$tmp"/c/*.csv | cksum)
    if [ -z "$ref" ]; then ref=$sum
    elif [ "$sum" != "$ref" ]; then echo "FAILED: $plugin: output differs with $opt" >&2; fail=1
    fi
  done
  echo "ok   $plugin: the same bytes for chunks of 4096, 1 and 333 rows, on 1 and 2 threads"
done

# Every example plugin passes joule plugin-test (chunk sizes, threads,
# repeated runs, NaN input, ...); it warns that they allocate as they run
# and carry no SPDX licence, which is so.
threads_only "the rest" && exit $fail
for plugin in $(cut -d: -f3 "$tmp/outputs" | sort -u); do
  node="vamp_example_plugins_$(ident "$plugin")"
  if "$JOULE" plugin-test "$node" --seconds 2 >"$tmp/log" 2>&1; then
    echo "ok   plugin-test $node: $(tail -1 "$tmp/log")"
  else
    echo "FAILED: plugin-test $node:" >&2; cat "$tmp/log" >&2; fail=1
  fi
done

# Parameters are typed and validated like native ones.
printf '[in]\nplugin = sndfile\n[v]\nplugin = vamp_example_plugins_percussiononsets\ninput = in\nthreshold = 30\n[o]\nplugin = csv\ninput = v.onsets\npath = x.csv\n' > "$tmp/bad.ini"
"$JOULE" validate "$tmp/bad.ini" >"$tmp/log" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "threshold" "$tmp/log"; then echo "ok   an out-of-range Vamp parameter is refused: $(head -1 "$tmp/log")"
else echo "FAILED: threshold = 30 (range 0..20) should be refused (exit $rc):" >&2; cat "$tmp/log" >&2; fail=1; fi

# An odd block for a frequency-domain plugin: one clear line, exit status 1.
"$JOULE" run "$tmp/spectralcentroid.ini" "$mono" -o "$tmp/odd" -s v.block_size=1001 >"$tmp/log" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "block_size 1001 is odd" "$tmp/log" && [ ! -e "$tmp/odd/mono2.mono.logcentroid.csv" ]; then
  echo "ok   an odd block for a frequency-domain plugin fails its input: $(grep odd "$tmp/log" | head -1)"
else echo "FAILED: block_size = 1001 should fail the input (exit $rc):" >&2; cat "$tmp/log" >&2; fail=1; fi

# joule plugins lists them beside the native ones.
"$JOULE" plugins >"$tmp/log" 2>&1
if grep -q "^vamp_example_plugins_spectralcentroid " "$tmp/log" && grep -q "^energy " "$tmp/log"; then
  echo "ok   joule plugins lists $(grep -c '^vamp_' "$tmp/log") Vamp plugins beside the native ones"
else echo "FAILED: joule plugins does not list the Vamp plugins:" >&2; cat "$tmp/log" >&2; fail=1; fi

# An empty Vamp path: the bridge offers nothing, and is not a failed object.
VAMP_PATH="$tmp/none" "$JOULE" plugins >"$tmp/log" 2>&1
if ! grep -q "vamp_" "$tmp/log" && ! grep -qi "vamp.so.*fail\|failed.*vamp.so" "$tmp/log"; then
  echo "ok   with no Vamp plugins, the bridge offers none and does not fail"
else echo "FAILED: an empty VAMP_PATH:" >&2; cat "$tmp/log" >&2; fail=1; fi
exit $fail
