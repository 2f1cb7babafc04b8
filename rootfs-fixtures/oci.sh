#!/usr/bin/env bash
# oci.sh [TARBALL]: packs the busybox rootfs (busybox.sh) into a tarball that the OCI tests
# give to `podman import` (without the conformance programs) (default: build/oci/busybox.tar
# under the repository root), and the same as a one-layer OCI image archive beside it
# (busybox-oci.tar, named sentry-test/busybox:latest) for `ctr image import`; and, when
# hostlibs.sh has built it with python3, the host-library rootfs as hostlibs.tar.
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

# The OCI image layout: the tarball as its only layer, a config, a manifest, an index.
layout="$(mktemp -d)"
trap 'rm -rf "$layout"' EXIT
mkdir -p "$layout/blobs/sha256"
blob() { # blob FILE: moves FILE into the layout under its digest; prints "DIGEST SIZE"
    local digest size
    digest="$(sha256sum "$1" | cut -d' ' -f1)"
    size="$(stat -c %s "$1")"
    mv "$1" "$layout/blobs/sha256/$digest"
    echo "$digest $size"
}
cp "$out" "$layout/layer"
read -r layer_digest layer_size < <(blob "$layout/layer")
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$layer_digest" >"$layout/config"
read -r config_digest config_size < <(blob "$layout/config")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$layout/manifest"
read -r manifest_digest manifest_size < <(blob "$layout/manifest")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"sentry-test/busybox:latest"}}]}' \
    "$manifest_digest" "$manifest_size" >"$layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
oci_out="$(dirname "$out")/busybox-oci.tar"
tar -C "$layout" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$oci_out.tmp" .
mv "$oci_out.tmp" "$oci_out"
# The host-library rootfs (hostlibs.sh), packed the same way for the podman tests.
hostlibs="$REPO_ROOT/build/rootfs/hostlibs"
if [ -x "$hostlibs/usr/bin/python3" ] || [ -x "$hostlibs/bin/python3" ]; then
    hostlibs_out="$(dirname "$out")/hostlibs.tar"
    tar -C "$hostlibs" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
        -cf "$hostlibs_out.tmp" .
    mv "$hostlibs_out.tmp" "$hostlibs_out"
fi
echo "$want" >"$stamp"
