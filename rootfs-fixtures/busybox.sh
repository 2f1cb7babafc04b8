#!/usr/bin/env bash
# busybox.sh [DIR]: builds a static-busybox root filesystem from Debian's busybox-static
# package into DIR (default: build/rootfs/busybox under the repository root).
#
# The rootfs holds /bin/busybox and one symlink per applet (in the directory busybox names
# for it: /bin, /sbin, /usr/bin, /usr/sbin), /etc/{passwd,group,hostname}, /tmp (1777),
# /root, and empty /proc and /dev. Idempotent: a second run changes nothing and is quick.
# Installs busybox-static with apt-get when it is missing and we are root.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="$(abs_dir "${1:-$REPO_ROOT/build/rootfs/busybox}")"
[ "$dir" != / ] || die "refusing to build a rootfs in /"

if ! pkg_installed busybox-static || [ ! -x /bin/busybox ]; then
    note "installing busybox-static"
    apt_install busybox-static
fi
[ -x /bin/busybox ] || die "/bin/busybox is missing after installing busybox-static"

# Fast path: the same busybox and the same version of this script built the tree already.
stamp="$dir/.fixture-busybox"
want="$(dpkg-query -W -f='${Version}' busybox-static) $(cksum <"$0" | cut -d' ' -f1) $(stat -c %s-%Y /bin/busybox)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$dir/bin/busybox" ]; then
    exit 0
fi

base_layout "$dir"
mkdir -p "$dir/bin" "$dir/sbin" "$dir/usr/sbin"
if ! cmp -s /bin/busybox "$dir/bin/busybox"; then
    cp -f /bin/busybox "$dir/bin/busybox.new"
    chmod 755 "$dir/bin/busybox.new"
    mv -f "$dir/bin/busybox.new" "$dir/bin/busybox"
fi

# One relative symlink per applet, so the links work both inside the sandbox and on the host.
count=0
while IFS= read -r applet; do
    case "$applet" in
    "" | bin/busybox) continue ;;
    esac
    sub="$(dirname "$applet")"
    up=""
    if [ "$sub" != . ]; then
        IFS=/ read -ra parts <<<"$sub"
        for _ in "${parts[@]}"; do up="../$up"; done
    fi
    target="${up}bin/busybox"
    link="$dir/$applet"
    if [ "$(readlink "$link" 2>/dev/null || true)" != "$target" ]; then
        mkdir -p "$dir/$sub"
        ln -sfn "$target" "$link"
    fi
    count=$((count + 1))
done < <("$dir/bin/busybox" --list-full)

"$dir/bin/sh" -c 'true' || die "$dir/bin/sh does not run"
echo "$want" >"$stamp"
note "busybox rootfs with $count applets in $dir"
