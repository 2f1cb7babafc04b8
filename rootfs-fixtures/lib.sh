# Shared helpers of the fixture scripts. Sourced, not run.
# shellcheck shell=bash

# The repository root (the parent of rootfs-fixtures/).
FIXTURES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$FIXTURES_DIR/.." && pwd)"

die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

note() {
    echo "$(basename "$0"): $*" >&2
}

# pkg_installed PKG: true when dpkg knows PKG as installed.
pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# apt_install PKG...: installs packages with apt-get (as root only), running
# `apt-get update` first only when the package lists do not know a package yet.
apt_install() {
    [ "$(id -u)" = 0 ] || die "missing packages: $* (run as root, or: sudo apt-get install $*)"
    command -v apt-get >/dev/null || die "missing packages: $* and apt-get is not available"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "$@" </dev/null; then
        apt-get update -q </dev/null || die "apt-get update failed"
        apt-get install -y -q --no-install-recommends "$@" </dev/null || die "apt-get install $* failed"
    fi
}

# abs_dir DIR: DIR as an absolute path (created if missing).
abs_dir() {
    mkdir -p "$1" && (cd "$1" && pwd)
}

# write_if_changed FILE: replaces FILE with stdin only when the content differs.
write_if_changed() {
    local file="$1" tmp
    tmp="$(mktemp "$file.XXXXXX")"
    cat >"$tmp"
    if [ -f "$file" ] && cmp -s "$tmp" "$file"; then
        rm -f "$tmp"
    else
        chmod 644 "$tmp"
        mv -f "$tmp" "$file"
    fi
}

# base_layout DIR: the directories and /etc files every fixture rootfs has.
base_layout() {
    local dir="$1"
    mkdir -p "$dir/etc" "$dir/root" "$dir/proc" "$dir/dev" "$dir/tmp" "$dir/usr/bin"
    chmod 1777 "$dir/tmp"
    chmod 700 "$dir/root"
    write_if_changed "$dir/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    write_if_changed "$dir/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
    echo sentry | write_if_changed "$dir/etc/hostname"
}
