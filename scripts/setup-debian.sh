#!/bin/sh
# setup-debian.sh — install what joule needs to build and test, on Debian 12
# (as root; with sudo otherwise). Installs only what is missing; safe to rerun.
set -eu
# clang and its runtimes (libclang-rt-dev, only recommended by clang) build
# the libFuzzer targets of tests/fuzz/run.sh. libcairo2-dev builds the plot
# plugin (optional to configure, wanted here so that it is built and
# tested), and fonts-dejavu-core gives its text a font on a bare machine.
# vamp-plugin-sdk and ladspa-sdk give the bridges their headers (vamp.h,
# ladspa.h); vamp-examples, ladspa-sdk, cmt and swh-plugins give them
# plugins to run, and vamp-simple-host and applyplugin to agree with.
# libopenmpi-dev and openmpi-bin build joule-mpi and run its test;
# libhiredis-dev builds the cache's Redis tier, redis-server tests it.
pkgs="gcc g++ make autoconf automake libtool pkg-config
      libsndfile1-dev libfftw3-dev libinih-dev libebur128-dev libxxhash-dev check
      libcairo2-dev fonts-dejavu-core
      clang libclang-rt-dev
      vamp-plugin-sdk vamp-examples ladspa-sdk cmt swh-plugins
      libopenmpi-dev openmpi-bin libhiredis-dev redis-server"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "setup: installing$missing" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing >/dev/null
