#!/usr/bin/env bash
# oci.sh [DIR]: packs the root filesystems the OCI tests give to `podman import` into tarballs
# in DIR (default: build/oci under the repository root):
#   busybox.tar   the busybox rootfs (busybox.sh), without the conformance programs;
#   hostlibs.tar  the host-library rootfs (hostlibs.sh: the host's dynamic libraries, python3,
#                 coreutils), without git and python's static library, which no OCI test runs.
# Owners are root and times are fixed, so the same rootfs gives the same bytes; each tarball is
# rebuilt only when its rootfs (or this script) changed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out_dir="${1:-$REPO_ROOT/build/oci}"
mkdir -p "$out_dir"
self="$(cksum <"$0" | cut -d' ' -f1)"

# pack NAME ROOTFS STAMPFILE [TAR OPTIONS...]: ROOTFS into $out_dir/NAME.tar, unless the stamp
# of the rootfs and of this script is the one recorded at the last pack.
pack() {
    local name="$1" rootfs="$2" stampfile="$3"
    shift 3
    local out="$out_dir/$name.tar"
    local stamp="$out.stamp"
    local want
    want="$(cat "$rootfs/$stampfile" 2>/dev/null || echo none) $self"
    if [ -f "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    tar -C "$rootfs" --exclude="./$stampfile" "$@" --sort=name --owner=0 --group=0 \
        --numeric-owner --mtime=@0 -cf "$out.tmp" .
    mv "$out.tmp" "$out"
    echo "$want" >"$stamp"
    note "$out ($(du -sh "$out" | cut -f1))"
}

busybox="$REPO_ROOT/build/rootfs/busybox"
[ -x "$busybox/bin/busybox" ] || "$FIXTURES_DIR/busybox.sh"
pack busybox "$busybox" .fixture-busybox --exclude=./conformance

hostlibs="$REPO_ROOT/build/rootfs/hostlibs"
[ -f "$hostlibs/.fixture-hostlibs" ] || "$FIXTURES_DIR/hostlibs.sh"
[ -x "$hostlibs/usr/bin/python3" ] || [ -x "$hostlibs/bin/python3" ] ||
    note "$hostlibs has no python3: the OCI tests that need it fail"
pack hostlibs "$hostlibs" .fixture-hostlibs \
    --exclude='./usr/lib/git-core' --exclude='./usr/local/libexec/git-core' \
    --exclude='./usr/share/git-core' --exclude='./usr/local/share/git-core' \
    --exclude='./usr/bin/git' --exclude='./usr/local/bin/git' \
    --exclude='./usr/lib/python3*/config-*' --exclude='./usr/lib/python3*/test'
