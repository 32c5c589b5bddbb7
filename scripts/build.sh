#!/bin/sh
# build.sh [DIR [CONFIGURE ARGS...]] — configure and build joule out of tree
# in DIR (default: build/). Regenerates the build system when needed.
# The compiler's output (warnings included) is shown; make's silent rules
# keep it to one line per file otherwise. autoreconf is quiet unless it fails.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-build}
[ $# -gt 0 ] && shift
cd "$top"
if ! { [ -x configure ] && [ configure -nt configure.ac ]; }; then
  log=$(mktemp)
  if ! autoreconf -fi >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "build.sh: autoreconf failed" >&2
    exit 1
  fi
  rm -f "$log"
fi
mkdir -p "$dir"
cd "$dir"
[ -f Makefile ] || "$top/configure" "$@"
make -j"$(nproc)"
