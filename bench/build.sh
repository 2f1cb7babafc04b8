#!/bin/sh
# Builds the benchmark's C programs (static, -O2) into $OUT (default:
# <workspace>/build/bench). Idempotent: a program is rebuilt only when its
# source is newer than the binary. Prints the output directory.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/../build/bench"}
mkdir -p "$out"
out=$(cd "$out" && pwd)
CC=${CC:-gcc}
for prog in ops true; do
    src="$here/programs/$prog.c"
    bin="$out/$prog"
    if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ] || [ "$0" -nt "$bin" ]; then
        "$CC" -static -O2 -Wall -Wextra -Werror -o "$bin.tmp.$$" "$src"
        mv -f "$bin.tmp.$$" "$bin"
    fi
done
echo "$out"
