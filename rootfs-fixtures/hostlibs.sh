#!/usr/bin/env bash
# hostlibs.sh [DIR]: builds a root filesystem from the host's own dynamically linked programs
# and the shared libraries they load (found with ldd, dynamic loader included), into DIR
# (default: build/rootfs/hostlibs under the repository root).
#
# Programs: sh, bash, a coreutils set, find, xargs, grep, sed, tar, gzip, python3 with its
# standard library (and the libraries of its extension modules, sqlite3 among them), sqlite3,
# and git with its exec path when present. The host's merged-/usr symlinks (/bin -> usr/bin, ...)
# are reproduced. Idempotent: files are copied only when the host's copy is newer.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="$(abs_dir "${1:-$REPO_ROOT/build/rootfs/hostlibs}")"
[ "$dir" != / ] || die "refusing to build a rootfs in /"

base_layout "$dir"

# Top-level symlinks of a merged-/usr host (bin -> usr/bin, lib -> usr/lib, ...).
for top in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$top" ]; then
        target="$(readlink "/$top")"
        mkdir -p "$dir/$(dirname "$top")"
        [ "$(readlink "$dir/$top" 2>/dev/null || true)" = "$target" ] || {
            [ -d "$dir/$top" ] && [ ! -L "$dir/$top" ] && die "$dir/$top is a directory, expected a symlink to $target (remove $dir and rerun)"
            ln -sfn "$target" "$dir/$top"
            mkdir -p "$dir/$(dirname "$top")/$target"
        }
    fi
done

files=()  # host paths to copy (each with its parents), symlinks kept as symlinks
dirs=()   # host directories to copy whole
elves=()  # ELF files whose libraries ldd must find

# add_path PATH: PATH (its directory canonicalised) and, if it is a symlink, what it points to.
add_path() {
    local path="$1" depth="${2:-0}" parent name link
    [ "$depth" -lt 16 ] || return 0
    [ -e "$path" ] || [ -L "$path" ] || return 0
    parent="$(cd "$(dirname "$path")" && pwd -P)"
    name="$(basename "$path")"
    path="$parent/$name"
    files+=("$path")
    if [ -L "$path" ]; then
        link="$(readlink "$path")"
        case "$link" in
        /*) add_path "$link" $((depth + 1)) ;;
        *) add_path "$parent/$link" $((depth + 1)) ;;
        esac
    else
        elves+=("$path")
    fi
}

# add_program NAME: the program PATH finds under NAME, preferring the system's own
# (/usr/bin, /bin) over shims in a user's PATH (pyenv, ...).
add_program() {
    local name="$1" found=""
    for d in /usr/bin /bin /usr/sbin /sbin /usr/local/bin; do
        if [ -x "$d/$name" ]; then
            found="$d/$name"
            break
        fi
    done
    [ -n "$found" ] || found="$(command -v "$name" 2>/dev/null || true)"
    case "$found" in
    /*) add_path "$found" ;;
    *) return 1 ;;
    esac
}

required=(sh bash cat ls cp mv rm mkdir rmdir ln chmod chown touch echo printf head tail wc tr
    cut sort uniq env id uname date sleep true false stat readlink realpath basename dirname tee
    yes seq dd du df md5sum sha256sum test expr nproc whoami find xargs grep sed tar gzip cmp diff
    awk mkfifo timeout stty tty script)
for prog in "${required[@]}"; do
    add_program "$prog" || die "the host has no '$prog'"
done
add_program sqlite3 || note "no sqlite3 program on the host (the sqlite3 library still comes with python3)"
# procps and psmisc, to show that the sandbox's /proc is what process tools read.
for prog in ps top pstree; do
    add_program "$prog" || note "no '$prog' on the host (procps/psmisc): the process-tool test skips it"
done
# top needs a terminal description even in batch mode.
[ -d /lib/terminfo ] && dirs+=(/lib/terminfo)

# python3 and its standard library (including lib-dynload's extension modules).
if add_program python3; then
    py="${files[${#files[@]}-1]}"
    py="$(readlink -f "$py")"
    stdlib="$("$py" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')"
    dynload="$("$py" -c 'import sysconfig; print(sysconfig.get_path("platstdlib"))')/lib-dynload"
    dirs+=("$stdlib")
    if [ -d "$dynload" ]; then
        for so in "$dynload"/*.so; do elves+=("$so"); done
    fi
else
    note "no python3 on the host"
fi

# git with its helpers and templates, when the host has it.
if add_program git; then
    gitbin="$(readlink -f "$(command -v git)")"
    add_path "$gitbin"
    exec_path="$("$gitbin" --exec-path)"
    dirs+=("$exec_path")
    elves+=("$exec_path/git-remote-http")
    for tdir in /usr/share/git-core /usr/local/share/git-core; do
        if [ -d "$tdir" ]; then dirs+=("$tdir"); fi
    done
fi

# The shared libraries of every collected ELF file, and the dynamic loader itself.
libs="$(ldd "${elves[@]}" 2>/dev/null | awk '
    $2 == "=>" && $3 ~ /^\// { print $3 }
    $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 }
' | sort -u)"
while IFS= read -r lib; do
    [ -n "$lib" ] && add_path "$lib"
done <<<"$libs"
for loader in /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-aarch64.so.1; do
    [ -e "$loader" ] && add_path "$loader"
done

# Copy through tar, which keeps symlinks, modes and times and creates the parents (cp --parents
# of coreutils 9.1 fails on ACL lookups of relative parents). The tar stream is only written when
# something changed since the last run, so a rerun is quick.
list="$(printf '%s\n' "${files[@]}" "${dirs[@]}" | sort -u)"
stamp="$dir/.fixture-hostlibs"
want="$( (cksum <"$0"; printf '%s\n' "$list" | tr '\n' '\0' | xargs -0 sh -c 'find "$@" -printf "%p %s %T@\n"' sh | cksum) | tr '\n' ' ')"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    printf '%s\n' "${files[@]}" | sed 's,^/,,' | sort -u | tar -C / -cf - --no-recursion -T - | tar -xf - -C "$dir"
    printf '%s\n' "${dirs[@]}" | sed 's,^/,,' | sort -u | tar -C / -cf - -T - | tar -xf - -C "$dir"
    rewrite_stamp=1
fi

# The loader's configuration and, when we may chroot, a cache matching this tree.
if [ -f /etc/ld.so.conf ]; then
    cp -a -u /etc/ld.so.conf "$dir/etc/"
    [ -d /etc/ld.so.conf.d ] && cp -a -u /etc/ld.so.conf.d "$dir/etc/"
    if [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then
        ldconfig -r "$dir" 2>/dev/null || note "ldconfig -r $dir failed; the loader uses its default paths"
    fi
fi

[ -z "${rewrite_stamp:-}" ] || echo "$want" >"$stamp"
note "host-library rootfs in $dir ($(du -sh "$dir" | cut -f1))"
