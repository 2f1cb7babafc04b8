#!/usr/bin/env bash
# oci.sh [TARBALL]: packs the busybox rootfs (busybox.sh) into a tarball that the OCI tests
# give to `podman import` (without the conformance programs) (default: build/oci/busybox.tar under the repository root).
# Owners are root and times are fixed, so the same rootfs gives the same bytes; rebuilt
# only when the rootfs changed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rootfs="$REPO_ROOT/build/rootfs/busybox"
out="${1:-$REPO_ROOT/build/oci/busybox.tar}"
[ -x "$rootfs/bin/busybox" ] || "$FIXTURES_DIR/busybox.sh"
mkdir -p "$(dirname "$out")"
stamp="$out.stamp"
want="$(cat "$rootfs/.fixture-busybox" 2>/dev/null || echo none) $(cksum <"$0" | cut -d' ' -f1)"
if [ -f "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
tar -C "$rootfs" --exclude=./.fixture-busybox --exclude=./conformance --sort=name --owner=0 --group=0 \
    --numeric-owner --mtime=@0 -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "$want" >"$stamp"
