#!/usr/bin/env python3
"""The scheduler and energy benchmarks (issue targets), as same-run ratios.

Each measurement runs command A and command B alternately, RUNS times each,
and compares medians. Wall time is measured here; peak RSS comes from GNU
time (%M, the largest process). Called by run.sh, which prepares everything.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--runs", type=int, default=7)
ap.add_argument("--build", required=True)
ap.add_argument("--data", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--only", default="")
args = ap.parse_args()
args.build, args.data, args.out = (os.path.abspath(p) for p in (args.build, args.data, args.out))

here = os.path.dirname(os.path.abspath(__file__))
# The real binary, not libtool's wrapper script (which adds tens of
# milliseconds to every run); it finds the build tree's plugins itself.
joule = os.path.join(args.build, "joule", "src", "cli", ".libs", "joule")
libdir = os.path.join(args.build, "joule", "src", "lib", ".libs")
limit_rms = os.path.join(args.build, "limit_rms")
limit_centroid = os.path.join(args.build, "limit_centroid")
limit_ebur128 = os.path.join(args.build, "limit_ebur128")
plugins = os.path.join(args.build, "joule", "plugins", ".libs")
testplugins = os.path.join(args.build, "joule", "tests", ".libs")
wav10 = os.path.join(args.data, "audio_10min.wav")
wav60 = os.path.join(args.data, "audio_60min.wav")
wav40 = os.path.join(args.data, "audio_40min.wav")
graphs = os.path.join(here, "graphs")
cache_dir = os.path.join(os.path.abspath(args.out), "cache")
env = dict(os.environ, JOULE_PLUGIN_PATH=plugins + ":" + testplugins, JOULE_CACHE_DIR=cache_dir,
           LD_LIBRARY_PATH=libdir + (":" + os.environ["LD_LIBRARY_PATH"] if os.environ.get("LD_LIBRARY_PATH") else ""))


def run_once(cmd):
    """(wall seconds, peak RSS in MiB) of one run."""
    with tempfile.NamedTemporaryFile("r") as tf:
        t0 = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name] + cmd, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        rss = int(tf.read().strip().splitlines()[-1]) / 1024.0
    return wall, rss


def pair(a, b, runs):
    """Alternate A and B; return (median A, median B, max rss A, max rss B)."""
    wa, wb, ra, rb = [], [], [], []
    run_once(a), run_once(b)  # warm the page cache and the binaries
    for _ in range(runs):
        w, r = run_once(a)
        wa.append(w), ra.append(r)
        w, r = run_once(b)
        wb.append(w), rb.append(r)
    return statistics.median(wa), statistics.median(wb), max(ra), max(rb)


def jrun(graph, files, outdir, threads, extra=(), cache=False):
    """A joule run; without the stage cache unless `cache` (a measurement of
    computing must not be served from what an earlier run computed)."""
    shutil.rmtree(outdir, ignore_errors=True)
    return ([joule, "run", os.path.join(graphs, graph)] + list(files) + ["-o", outdir, "-j", str(threads)] +
            list(extra) + ([] if cache else ["--no-cache"]))


rows = []


def report(name, a_desc, b_desc, ma, mb, ratio, target, ok):
    rows.append((name, a_desc, ma, b_desc, mb, ratio, target, "yes" if ok else "NO"))
    print("%-34s %-22s %8.3f s  %-22s %8.3f s  %6.2f  %-10s %s" % (name, a_desc, ma, b_desc, mb, ratio, target,
                                                                   "ok" if ok else "MISSED"), flush=True)


def want(name):
    return not args.only or args.only in name


out = args.out
os.makedirs(out, exist_ok=True)
print("%-34s %-22s %10s  %-22s %10s  %6s  %s" % ("measurement", "A", "median", "B", "median", "ratio", "target"))

if want("energy"):
    ma, mb, _, _ = pair(jrun("energy-rms.ini", [wav10], os.path.join(out, "e1"), 1),
                        [limit_rms, "-o", os.path.join(out, "limit_rms.csv"), wav10], args.runs)
    report("energy graph 10 min, -j1", "joule -j1", "limit_rms", ma, mb, ma / mb, "<= 1.15", ma / mb <= 1.15)

if want("files"):
    links = os.path.join(out, "eight")
    shutil.rmtree(links, ignore_errors=True)
    os.makedirs(links)
    files = []
    for i in range(8):
        p = os.path.join(links, "in%d.wav" % i)
        os.symlink(wav10, p)
        files.append(p)
    ma, mb, _, _ = pair(jrun("energy-rms.ini", files, os.path.join(out, "f1"), 1),
                        jrun("energy-rms.ini", files, os.path.join(out, "f2"), 2), args.runs)
    report("8 files, -j2 vs -j1", "joule -j1", "joule -j2", ma, mb, ma / mb, ">= 1.7", ma / mb >= 1.7)

if want("branches"):
    ma, mb, _, _ = pair(jrun("two-branches.ini", [wav10], os.path.join(out, "b1"), 1),
                        jrun("two-branches.ini", [wav10], os.path.join(out, "b2"), 2), args.runs)
    report("two heavy branches, -j2 vs -j1", "joule -j1", "joule -j2", ma, mb, ma / mb, ">= 1.4", ma / mb >= 1.4)

if want("overhead"):
    ma, mb, _, _ = pair(jrun("pass8.ini", [wav10], os.path.join(out, "p8"), 1),
                        jrun("pass1.ini", [wav10], os.path.join(out, "p1"), 1), args.runs)
    report("8 pass-through nodes vs 1, -j1", "8 nodes", "1 node", ma, mb, ma / mb, "<= 1.10", ma / mb <= 1.10)

if want("centroid"):
    lim = [limit_centroid, "--frame", "1024", "--hop", "512", "-o", os.path.join(out, "limit_centroid.csv"), wav10]
    ma, mb, _, _ = pair(jrun("centroid.ini", [wav10], os.path.join(out, "c1"), 1), lim, args.runs)
    report("centroid 1024/512, -j1", "joule -j1", "limit_centroid", ma, mb, ma / mb, "<= 1.2", ma / mb <= 1.2)
    ma, mb, _, _ = pair(jrun("centroid.ini", [wav10], os.path.join(out, "c2"), 2), lim, args.runs)
    report("centroid 1024/512, -j2", "joule -j2", "limit_centroid", ma, mb, ma / mb, "< 1.0", ma / mb < 1.0)

if want("loudness"):
    ma, mb, _, _ = pair(jrun("loudness.ini", [wav10], os.path.join(out, "l1"), 1),
                        [limit_ebur128, "-o", os.path.join(out, "limit_ebur128.csv"), wav10], args.runs)
    report("loudness, -j1", "joule -j1", "limit_ebur128", ma, mb, ma / mb, "<= 1.2", ma / mb <= 1.2)
    ff = ["ffmpeg", "-hide_banner", "-nostats", "-loglevel", "error", "-i", wav10, "-af", "ebur128", "-f", "null", "-"]
    ma, mb, _, _ = pair(ff, jrun("loudness.ini", [wav10], os.path.join(out, "l2"), 2), args.runs)
    report("loudness vs ffmpeg ebur128", "ffmpeg", "joule -j2", ma, mb, ma / mb, ">= 1.5", ma / mb >= 1.5)

if want("truepeak"):
    # The loudness summary with the true peak against ffmpeg's ebur128
    # filter with peak=true (4x oversampling too), the command as given,
    # per-frame log and all; then what the true peak costs joule.
    ff = ["ffmpeg", "-nostats", "-hide_banner", "-i", wav10, "-af", "ebur128=peak=true", "-f", "null", "-"]
    for j in (1, 2):
        ma, mb, _, _ = pair(ff, jrun("loudness-tp.ini", [wav10], os.path.join(out, "tp%d" % j), j), args.runs)
        report("truepeak: vs ffmpeg peak=true, -j%d" % j, "ffmpeg", "joule -j%d" % j, ma, mb, ma / mb, ">= 3",
               ma / mb >= 3)
    ma, mb, _, _ = pair(jrun("loudness-tp.ini", [wav10], os.path.join(out, "tp3"), 1),
                        jrun("loudness.ini", [wav10], os.path.join(out, "tp4"), 1), args.runs)
    report("truepeak: cost, -j1", "true_peak = true", "true_peak = false", ma, mb, ma / mb, "(figure)", True)

if want("isolation"):
    # The cost of running plugins in a supervised worker process (the
    # default) against running them in the joule process itself.
    eight = os.path.join(out, "eight-iso")
    shutil.rmtree(eight, ignore_errors=True)
    os.makedirs(eight)
    files = []
    for i in range(8):
        p = os.path.join(eight, "in%d.wav" % i)
        os.symlink(wav10, p)
        files.append(p)
    ma, mb, _, _ = pair(jrun("energy-rms.ini", files, os.path.join(out, "i8a"), 2),
                        jrun("energy-rms.ini", files, os.path.join(out, "i8b"), 2, ["--no-isolate"]), args.runs)
    report("isolation, 8 files -j2", "isolated", "in process", ma, mb, ma / mb, "<= 1.03", ma / mb <= 1.03)
    ma, mb, _, _ = pair(jrun("energy-rms.ini", [wav10], os.path.join(out, "i1a"), 1),
                        jrun("energy-rms.ini", [wav10], os.path.join(out, "i1b"), 1, ["--no-isolate"]), args.runs)
    report("isolation, 1 file -j1", "isolated", "in process", ma, mb, ma / mb, "<= 1.03", ma / mb <= 1.03)

if want("cache"):
    # The stage cache, on the 10-minute stereo WAV with fft (2048/512) ->
    # spectral -> csv. Cold: an empty cache each run, against --no-cache.
    # Re-runs: the cache filled once, then an identical run and a run with
    # only the sink changed, against the cold run.
    g = "cache-spectral.ini"

    def fresh(cmd):
        # The stage cache emptied; the plugin probe's memo (probe/) kept, as
        # it is for the --no-cache run it is compared with.
        return ["sh", "-c", 'if [ -d "$0" ]; then find "$0" -mindepth 1 -maxdepth 1 ! -name probe -exec rm -rf {} +; '
                'fi; exec "$@"', cache_dir] + cmd

    ma, mb, _, _ = pair(fresh(jrun(g, [wav10], os.path.join(out, "cc"), 2, cache=True)),
                        jrun(g, [wav10], os.path.join(out, "cn"), 2), args.runs)
    report("cache: cold run", "cache on, empty", "--no-cache", ma, mb, ma / mb, "<= 1.05", ma / mb <= 1.05)
    cold = ma
    shutil.rmtree(cache_dir, ignore_errors=True)
    run_once(jrun(g, [wav10], os.path.join(out, "cw"), 2, cache=True))  # fill it
    # The identical re-run writes where the filling run wrote (its sink is
    # current: an identical re-run does nothing). The sink-changed runs
    # write elsewhere, alternating two separators, so that each changes
    # the sink since the last one (and the two kinds of run do not undo
    # each other).
    same = [joule, "run", os.path.join(graphs, g), wav10, "-o", os.path.join(out, "cw"), "-j", "2"]
    cs = os.path.join(out, "cs")
    sinks = [[joule, "run", os.path.join(graphs, g), wav10, "-o", cs, "-j", "2", "--set", "out.separator=" + sep]
             for sep in ("semicolon", "tab")]
    ws, wk = [], []
    for i in range(args.runs):
        ws.append(run_once(same)[0])
        wk.append(run_once(sinks[i % 2])[0])
    ms, mk = statistics.median(ws), statistics.median(wk)
    sink = sinks[args.runs % 2]  # the other separator than the last run's: its sink runs
    report("cache: identical re-run", "re-run", "cold", ms, cold, cold / ms, ">= 20x", cold / ms >= 20)
    report("cache: only the sink changed", "re-run", "cold", mk, cold, cold / mk, ">= 10x", cold / mk >= 10)
    rj = os.path.join(out, "cache-report.json")
    subprocess.run(sink + ["--report", rj], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import json
    with open(rj) as f:
        rep = json.load(f)
    audio = rep["files"]["bytes_read"] + rep["cache"]["digest_bytes"]
    rows.append(("cache: audio bytes read, sink changed", "", audio, "", 0, 0, "0", "yes" if audio == 0 else "NO"))
    print("%-34s %-22s %8d B  %-22s %10s  %6s  %-10s %s" % ("cache: audio read, sink changed", "bytes", audio, "",
                                                             "", "", "0", "ok" if audio == 0 else "MISSED"))
    shutil.rmtree(cache_dir, ignore_errors=True)
    runs = max(3, args.runs // 2)
    _, _, r60, _ = pair(fresh(jrun(g, [wav60], os.path.join(out, "c60"), 2, cache=True)),
                        jrun(g, [wav10], os.path.join(out, "c10"), 2), runs)
    ok = r60 <= 48
    rows.append(("cache: peak RSS cold 60 min", "", r60, "", 0, 0, "<= 48 MiB", "yes" if ok else "NO"))
    print("%-34s %-22s %8.1f MiB %-22s %10s  %6s  %-10s %s" % ("cache: peak RSS, cold 60 min", "cache on", r60, "",
                                                                "", "", "<= 48 MiB", "ok" if ok else "MISSED"))

if want("memory"):
    runs = max(3, args.runs // 2)
    _, _, r60, r10 = pair(jrun("energy-rms.ini", [wav60], os.path.join(out, "m60"), 2),
                          jrun("energy-rms.ini", [wav10], os.path.join(out, "m10"), 2), runs)
    ok = r60 <= 48 and r60 <= 1.10 * r10
    rows.append(("peak RSS", "60 min", r60, "10 min", r10, r60 / r10, "<= 48 MiB, <= 1.10", ok))
    print("%-34s %-22s %8.1f MiB %-22s %8.1f MiB %6.2f  %-10s %s" % ("peak RSS, energy graph -j2", "60-min WAV", r60,
                                                                      "10-min WAV", r10, r60 / r10,
                                                                      "<=48, <=1.10", "ok" if ok else "MISSED"))

if want("plot"):
    # The spectrogram picture of the 40-minute WAV (examples/spectrogram.ini:
    # fft 2048/1024 -> plot, PNG) against sox's spectrogram of the same
    # file, and what that costs in memory: the picture is reduced to its
    # pixels as the spectra stream in.
    example = os.path.join(os.path.dirname(here), "examples", "spectrogram.ini")
    sox = ["sox", wav40, "-n", "spectrogram", "-o", os.path.join(out, "sox-spectrogram.png")]
    runs = max(3, args.runs // 2)
    for j in (2, 1):
        pic = os.path.join(out, "pic%d" % j)
        shutil.rmtree(pic, ignore_errors=True)
        cmd = [joule, "run", example, wav40, "-o", pic, "-j", str(j), "--no-cache"]
        ma, mb, ra, rb = pair(cmd, sox, runs)
        report("spectrogram PNG 40 min, -j%d" % j, "joule -j%d" % j, "sox spectrogram", ma, mb, ma / mb, "<= 1.0",
               ma / mb <= 1.0)
        print("%-34s %-22s %8.1f MiB %-22s %8.1f MiB" % ("  peak RSS", "joule -j%d" % j, ra, "sox", rb), flush=True)
