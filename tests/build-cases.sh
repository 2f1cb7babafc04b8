#!/bin/sh
# Build the conformance cases (tests/cases/*.c) as static binaries.
# Usage: tests/build-cases.sh [OUTDIR]   (default: <repo>/build/conformance)
# Idempotent: a case is rebuilt only when its source or tap.h is newer than the binary.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$(cd "$here/.." && pwd)/build/conformance}
cc=${CC:-gcc}
mkdir -p "$out/bin"
# One build at a time (cargo test runs two tests that both build).
exec 9>"$out/.build-lock"
flock 9
built=0
for src in "$here"/cases/*.c; do
    name=$(basename "$src" .c)
    bin="$out/bin/$name"
    if [ -x "$bin" ] && [ "$bin" -nt "$src" ] && [ "$bin" -nt "$here/cases/tap.h" ]; then
        continue
    fi
    # Build to a temporary name and rename: an interrupted build never leaves a stale binary.
    $cc -static -O2 -Wall -Wno-unused-result -Wno-unused-function -Wno-stringop-overflow -Wno-stringop-overread -Wno-nonnull -o "$bin.tmp" "$src" -lrt
    mv "$bin.tmp" "$bin"
    built=$((built + 1))
done
echo "build-cases: $built built, output in $out/bin" >&2
