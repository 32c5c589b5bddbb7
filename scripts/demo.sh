#!/bin/sh
# demo.sh — from a fresh Debian machine to a result: install what is missing,
# build joule, write an example WAV (30 s: tones, a sweep, noise, silence)
# and run examples/energy.ini on it.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup-debian.sh"
"$top/scripts/build.sh" build
cd "$top"
mkdir -p demo
build/examples/mktone demo/example.wav 30
build/src/cli/joule run examples/energy.ini demo/example.wav -o demo --stats
echo
echo "input:  $top/demo/example.wav"
echo "output: $top/demo/example.energy.csv ($(($(wc -l < demo/example.energy.csv) - 1)) frames); the first rows:"
head -n 4 demo/example.energy.csv | cut -c 1-120
