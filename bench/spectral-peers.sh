#!/bin/sh
# bench/spectral-peers.sh — the spectral and loudness plugins against their
# peers, on the same input, in the same run:
#
#   (a) spectral centroid (fft 1024/512 Hann mono -> spectral) against
#       vamp-simple-host vamp-example-plugins:spectralcentroid:linearcentroid
#       (block 1024, step 512: the same frames, the same definition);
#   (b) integrated loudness (loudness plugin) against ffmpeg's ebur128 filter
#       (3 decimals, from its metadata) and limit_ebur128 (libebur128 alone);
#   (c) whole-file RMS and peak per channel (energy's summary) against
#       `sox -n stats` (2 decimals);
#   (d) wall time of the centroid graph (2048/512, CSV out) against
#       limit_centroid (libsndfile + FFTW3f in one C loop, CSV out), with
#       hyperfine; joule with its default threads and with -j 1.
#
#   bench/spectral-peers.sh [INPUT]      (default bench/data/audio_10min.wav)
#
# Environment: RUNS (hyperfine runs, default 5); JOULE_BUILD (a configured
# and built joule tree to use; default: build one in bench/build/joule as
# bench/run.sh does); JOULE_SHARED (the shared folder, default ../shared).
# Installs the peers from Debian (../shared/bench/install-peers.sh, apt-get),
# builds the limit programs, writes everything under bench/out/spectral-peers
# and prints a summary (also in RESULTS.md there).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
shared=${JOULE_SHARED:-$top/../shared}
runs=${RUNS:-5}
input=${1:-$here/data/audio_10min.wav}
out=$here/out/spectral-peers

"$shared/bench/install-peers.sh" >/dev/null
mkdir -p "$here/build" "$out"
make -s -C "$shared/bench/limit" BUILD="$here/build" >/dev/null
if [ -n "${JOULE_BUILD:-}" ]; then
    build=$(cd "$JOULE_BUILD" && pwd)
else
    "$top/scripts/build.sh" bench/build/joule CFLAGS="-O2 -g"
    build=$here/build/joule
fi
[ -f "$input" ] || BENCH_DATA="$here/data" "$shared/bench/make-data.sh"
joule=$build/src/cli/joule
JOULE_PLUGIN_PATH=$build/plugins/.libs
BENCH_BUILD=$here/build # where the peer scripts find the limit programs
export JOULE_PLUGIN_PATH BENCH_BUILD
stem=$(basename "$input" | sed 's/\.[^.]*$//')

# ---- the graphs -------------------------------------------------------------
cat >"$out/centroid.ini" <<'EOF'
[in]
plugin = sndfile
[stft]
plugin = fft
input  = in
frame  = 1024
hop    = 512
window = hann
mix    = mono
[shape]
plugin   = spectral
input    = stft
features = centroid
[out]
plugin = csv
input  = shape
path   = {stem}.centroid.csv
EOF
sed 's/^frame  = 1024/frame  = 2048/' "$out/centroid.ini" >"$out/centroid2048.ini"
cat >"$out/loudness.ini" <<'EOF'
[in]
plugin = sndfile
[r128]
plugin    = loudness
input     = in
true_peak = false
[out]
plugin = csv
input  = r128.summary
path   = {stem}.loudness.csv
EOF
cat >"$out/stats.ini" <<'EOF'
[in]
plugin = sndfile
[e]
plugin   = energy
input    = in
frame    = 65536
hop      = 65536
features = db, peak
[out]
plugin = csv
input  = e.summary
path   = {stem}.stats.csv
EOF

# ---- the runs ---------------------------------------------------------------
for g in centroid loudness stats; do
    "$joule" run "$out/$g.ini" "$input" -o "$out" --no-progress
done
for p in vamp_centroid ffmpeg_ebur128_meta limit_ebur128 sox_stats; do
    "$shared/bench/peers/$p.sh" "$input" "$out/$p.csv" 2>>"$out/peers.log"
done
hyperfine --runs "$runs" --warmup 1 --export-markdown "$out/timing.md" --export-json "$out/timing.json" \
    -n joule "'$joule' run '$out/centroid2048.ini' '$input' -o '$out/t' --no-progress" \
    -n "joule -j 1" "'$joule' run '$out/centroid2048.ini' '$input' -o '$out/t' --no-progress -j 1" \
    -n limit_centroid "'$here/build/limit_centroid' --frame 2048 --hop 512 -o '$out/t/limit.csv' '$input'" \
    >/dev/null

# ---- the comparison ---------------------------------------------------------
python3 - "$out" "$stem" "$input" <<'EOF' | tee "$out/RESULTS.md"
import csv, json, math, sys
out, stem, inp = sys.argv[1:4]

def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))

def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return math.nan

print(f"# spectral-peers on {inp}\n")

# (a) centroid, frame by frame
j = [num(r["centroid"]) for r in rows(f"{out}/{stem}.centroid.csv")]
v = {int(r["frame_index"]): num(r["centroid_hz"]) for r in rows(f"{out}/vamp_centroid.csv")}
both = [(j[k], v[k]) for k in range(len(j)) if k in v and math.isfinite(j[k]) and math.isfinite(v[k])]
d = sorted(abs(a - b) for a, b in both)
rel = sorted(abs(a - b) / b for a, b in both if b > 0)
only_j = sum(1 for k in range(len(j)) if math.isfinite(j[k]) and k not in v)
nan_j = sum(1 for x in j if not math.isfinite(x))
pct = lambda s, p: s[min(len(s) - 1, int(p * len(s)))] if s else math.nan
print("## (a) spectral centroid vs vamp-example-plugins:spectralcentroid:linearcentroid (1024/512)\n")
print(f"frames: joule {len(j)} ({nan_j} silent = nan), vamp {len(v)}, compared {len(both)}, "
      f"joule-only finite {only_j}")
def pearson(pairs):
    n = len(pairs)
    if n < 2:
        return math.nan
    ma = sum(a for a, _ in pairs) / n
    mb = sum(b for _, b in pairs) / n
    sab = sum((a - ma) * (b - mb) for a, b in pairs)
    saa = sum((a - ma) ** 2 for a, _ in pairs)
    sbb = sum((b - mb) ** 2 for _, b in pairs)
    return sab / math.sqrt(saa * sbb)
print(f"|delta| Hz: median {pct(d, 0.5):.3g}, p99 {pct(d, 0.99):.3g}, max {d[-1] if d else math.nan:.3g}; "
      f"relative: median {pct(rel, 0.5):.3g}, max {rel[-1] if rel else math.nan:.3g}; "
      f"Pearson r {pearson(both):.12f}\n")

# (b) integrated loudness
ji = num(rows(f"{out}/{stem}.loudness.csv")[0]["integrated"])
def keyed(path):
    with open(path) as f:
        return num(f.read().strip().split(",")[1])
fi, li = keyed(f"{out}/ffmpeg_ebur128_meta.csv"), keyed(f"{out}/limit_ebur128.csv")
print("## (b) integrated loudness (LUFS)\n")
print("| joule | ffmpeg ebur128 | limit_ebur128 | joule - ffmpeg | joule - limit |")
print("|---|---|---|---|---|")
print(f"| {ji:.4f} | {fi:.3f} | {li:.4f} | {ji - fi:+.4f} | {ji - li:+.4f} |\n")

# (c) whole-file RMS and peak per channel
js = rows(f"{out}/{stem}.stats.csv")[0]
print("## (c) whole-file RMS and peak (dBFS) vs sox stats\n")
print("| channel | joule rms | sox rms | joule peak | sox peak | max abs delta |")
print("|---|---|---|---|---|---|")
for r in rows(f"{out}/sox_stats.csv"):
    c = r["channel"]
    if c == "all":
        continue
    jr = num(js.get(f"db_ch{c}"))
    pk = num(js.get(f"peak_ch{c}"))
    jp = 20 * math.log10(pk) if pk > 0 else -math.inf
    sr, sp = num(r["rms_dbfs"]), num(r["peak_dbfs"])
    print(f"| ch{c} | {jr:.3f} | {sr:.2f} | {jp:.3f} | {sp:.2f} | {max(abs(jr - sr), abs(jp - sp)):.3f} |")

# (d) timing
t = json.load(open(f"{out}/timing.json"))["results"]
m = {r["command"]: r["median"] for r in t}
print("\n## (d) centroid 2048/512 to CSV, wall time (hyperfine median)\n")
for name, sec in m.items():
    print(f"- {name}: {sec:.3f} s")
for name in ("joule", "joule -j 1"):
    if name in m and "limit_centroid" in m:
        print(f"- ratio {name} / limit: {m[name] / m['limit_centroid']:.2f}")
print("\n(limit_centroid is one thread; joule's default uses every core for the pipeline.)")
EOF
