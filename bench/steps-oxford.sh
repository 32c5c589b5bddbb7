#!/bin/sh
# Step counting on real walks: runs examples/steps.ini over the Oxford Step
# Counter walks and reports, per walk, the detected and true step counts
# and the absolute percentage error; then the median and worst error over
# all walks and per carrying position.
#
#   bench/steps-oxford.sh [DATA_DIR] [-- extra joule arguments, e.g. --set steps.cutoff=2.5]
#
# DATA_DIR defaults to ../shared/data/steps-oxford beside the source tree
# (it holds <walk>.csv files and truth.csv; see its README). JOULE names the
# joule command (default: the build tree's, build/src/cli/joule).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$here/../shared/data/steps-oxford}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
joule=${JOULE:-$here/build/src/cli/joule}
[ -d "$data" ] || { echo "steps-oxford: no data folder $data" >&2; exit 2; }
[ -x "$joule" ] || { echo "steps-oxford: no joule at $joule (set JOULE)" >&2; exit 2; }
out=$(mktemp -d "${TMPDIR:-/tmp}/steps-oxford.XXXXXX")
trap 'rm -rf "$out"' EXIT
walks=$(awk -F, 'NR > 1 { print $1 }' "$data/truth.csv")
files=""
for w in $walks; do files="$files $data/$w.csv"; done
# shellcheck disable=SC2086
"$joule" run "$here/examples/steps.ini" $files -o "$out" --no-progress "$@" 2>"$out/stderr.txt" || {
    cat "$out/stderr.txt" >&2
    exit 1
}
for w in $walks; do
    n=$(($(wc -l <"$out/$w.steps.csv") - 1))
    echo "$w $n"
done >"$out/counts.txt"
awk '
function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
FNR == NR { found[$1] = $2; next }
FNR == 1 { next }
{
    w = $1; pos = tolower($4); truth = $7; f = found[w]
    e = (f > truth ? f - truth : truth - f) * 100.0 / truth
    printf "%-38s %-12s truth %4d found %4d  error %5.2f %%\n", w, pos, truth, f, e
    all[++n] = e; if (e > worst) worst = e
    k = ++np[pos]; pe[pos, k] = e; if (e > pw[pos]) pw[pos] = e
}
END {
    printf "\nall %d walks: median %.2f %%, worst %.2f %%\n", n, median(all, n), worst
    k = 0
    for (p in np) names[++k] = p
    for (i = 2; i <= k; i++) { t = names[i]; for (j = i - 1; j >= 1 && names[j] > t; j--) names[j + 1] = names[j]; names[j + 1] = t }
    for (q = 1; q <= k; q++) {
        p = names[q]; m = np[p]; for (i = 1; i <= m; i++) tmp[i] = pe[p, i]
        printf "  %-12s %2d walks: median %5.2f %%, worst %5.2f %%\n", p, m, median(tmp, m), pw[p]
    }
}' "$out/counts.txt" FS=, "$data/truth.csv"
