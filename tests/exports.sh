#!/bin/sh
# libjoule exports the documented joule_* API and nothing else: its
# internals (jl_*) can change without breaking a program that embeds it.
set -eu
lib=${JOULE_LIB:-../src/lib/.libs/libjoule.so}
if ! command -v nm >/dev/null 2>&1; then
  echo "exports: nm is not installed: skipped"; exit 77
fi
[ -f "$lib" ] || { echo "exports: $lib not found" >&2; exit 1; }
all=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//')
bad=$(printf '%s\n' "$all" | grep -v -e '^joule_' -e '^JOULE_[0-9]*$' -e '^$' || true)
if [ -n "$bad" ]; then
  echo "exports: libjoule exports symbols outside the joule_* API:" >&2
  printf '  %s\n' $bad >&2
  exit 1
fi
n=$(printf '%s\n' "$all" | grep -c '^joule_')
# the harness is part of the API
printf '%s\n' "$all" | grep -qx joule_harness_open || { echo "exports: joule_harness_open is missing" >&2; exit 1; }
echo "exports: $n joule_* functions, nothing else"
