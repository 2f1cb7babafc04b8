#!/usr/bin/env bash
# programs.sh [OUTDIR]: compiles the C test programs of sentry/tests/programs/*.c, statically
# (gcc -static -O2), into OUTDIR (default: build/programs under the repository root), one
# executable per source file, named after it. Idempotent: a program newer than its source and
# every header of that directory is not rebuilt. Safe to run concurrently (flock).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

src_dir="$REPO_ROOT/sentry/tests/programs"
out="$(abs_dir "${1:-$REPO_ROOT/build/programs}")"
CC="${CC:-gcc}"
CFLAGS=(-static -O2 -Wall -Wextra -pthread -D_GNU_SOURCE)

command -v "$CC" >/dev/null || die "no C compiler '$CC' (run rootfs-fixtures/setup.sh as root, or apt-get install gcc libc6-dev)"

# One builder at a time per output directory (test binaries may start it together).
if command -v flock >/dev/null; then
    exec 9>"$out/.lock"
    flock 9
fi

shopt -s nullglob
headers=("$src_dir"/*.h)
sources=("$src_dir"/*.c)
[ "${#sources[@]}" -gt 0 ] || die "no C programs in $src_dir"

built=0
for src in "${sources[@]}"; do
    name="$(basename "$src" .c)"
    bin="$out/$name"
    fresh=1
    if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
        fresh=0
    else
        for h in "${headers[@]}"; do
            if [ "$h" -nt "$bin" ]; then fresh=0; fi
        done
    fi
    [ "$fresh" = 0 ] || continue
    "$CC" "${CFLAGS[@]}" -I"$src_dir" -o "$bin.tmp" "$src" || die "compiling $src failed"
    chmod 755 "$bin.tmp"
    mv -f "$bin.tmp" "$bin"
    built=$((built + 1))
done
[ "$built" = 0 ] || note "built $built program(s) in $out"
