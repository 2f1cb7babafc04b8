#!/usr/bin/env bash
# setup.sh: prepares a machine for building and testing sentry, then builds the fixtures.
#
# Installs (as root, with apt-get, only what is missing, with one `apt-get update`):
# busybox-static (the busybox rootfs), gcc and libc6-dev (the static C test programs), make
# (bench's make_j2),
# util-linux (setpriv, flock: the unprivileged test variant), stress-ng (a test runs one of
# its stressors; tests/stress/run.py runs them all), podman and conmon (sentry/tests/
# oci_podman.rs drives the sentry as podman's runtime), runc and containerd (the engine
# tests run with runc too; oci_containerd.rs drives containerd's runc shim). Then builds build/rootfs/busybox,
# build/rootfs/hostlibs, build/programs and build/oci. Quick when everything is already there.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

missing=()
pkg_installed busybox-static && [ -x /bin/busybox ] || missing+=(busybox-static)
command -v gcc >/dev/null || missing+=(gcc)
# make, for the parallel build benchmark of bench/ (make_j2) and its test.
command -v make >/dev/null || missing+=(make)
pkg_installed libc6-dev || missing+=(libc6-dev)
command -v setpriv >/dev/null && command -v flock >/dev/null || missing+=(util-linux)
command -v stress-ng >/dev/null || missing+=(stress-ng)
# script(1), for the terminal tests in the host-library rootfs.
command -v script >/dev/null || missing+=(bsdutils)
# The host-library rootfs copies python3 when present; ldd comes with libc-bin.
command -v ldd >/dev/null || missing+=(libc-bin)
# For the OCI tests, only where we can install them (they skip, saying why, without).
if [ "$(id -u)" = 0 ]; then
    command -v podman >/dev/null || missing+=(podman)
    command -v conmon >/dev/null || missing+=(conmon)
    # The engine tests also run with runc, to check that they test the engines' behaviour.
    command -v runc >/dev/null || missing+=(runc)
    command -v containerd >/dev/null || missing+=(containerd)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing: ${missing[*]} (run this script as root, or: sudo apt-get install ${missing[*]})"
    note "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q </dev/null || die "apt-get update failed"
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null || die "apt-get install ${missing[*]} failed"
fi

"$FIXTURES_DIR/busybox.sh"
"$FIXTURES_DIR/hostlibs.sh"
"$FIXTURES_DIR/programs.sh"
"$FIXTURES_DIR/oci.sh"
