/* Permission checks and symlink reading: access(2) (the legacy number, raw), faccessat(2),
 * faccessat2(2), readlink(2) (raw), readlinkat(2). As root and, in a child, as nobody. */
#include "tap.h"
#include <grp.h>
#include <limits.h>

#define sys_access(p, m) syscall(SYS_access, (p), (m))
#define sys_readlink(p, b, n) syscall(SYS_readlink, (p), (b), (n))

static int as_nobody(void *a)
{
    (void)a;
    if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
        return 1;
    int bits = 0;
    if (sys_access("pub", R_OK) == 0)
        bits |= 1;
    if (sys_access("pub", W_OK) == -1 && errno == EACCES)
        bits |= 2;
    if (sys_access("priv/f", F_OK) == -1 && errno == EACCES)
        bits |= 4;
    if (sys_access("pub", X_OK) == -1 && errno == EACCES)
        bits |= 8;
    if (syscall(SYS_faccessat2, AT_FDCWD, "pub", W_OK, AT_EACCESS) == -1 && errno == EACCES)
        bits |= 16;
    return bits == 31 ? 0 : 10 + bits;
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    char buf[PATH_MAX];
    char longname[NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    tap_write_file("a", "x");
    tap_write_file("ex", "#!/bin/sh\n");
    chmod("ex", 0755);
    mkdir("d", 0755);
    tap_write_file("d/in", "y");
    symlink("a", "lnk");
    symlink("missing", "dangling");
    symlink("/conformance-no-such-dir/x", "abs");
    int dfd = open("d", O_RDONLY | O_DIRECTORY);
    int ffd = open("a", O_RDONLY);

    /* access (SYS_access) */
    T_EQ(sys_access("a", R_OK | W_OK), 0, "access: R_OK|W_OK on own file");
    T_EQ(sys_access("a", F_OK), 0, "access: F_OK on an existing file");
    T_ERR(sys_access("a", X_OK), EACCES, "access: X_OK on a 0644 file, even as root -> EACCES");
    T_EQ(sys_access("ex", X_OK), 0, "access: X_OK on a 0755 file");
    T_EQ(sys_access("d", X_OK), 0, "access: X_OK on a directory");
    T_ERR(sys_access("missing", F_OK), ENOENT, "access: missing -> ENOENT");
    T_ERR(sys_access("a/x", F_OK), ENOTDIR, "access: through a file -> ENOTDIR");
    T_ERR(sys_access("a", 0x80), EINVAL, "access: bad mode -> EINVAL");
    T_ERR(sys_access(BADPTR, F_OK), EFAULT, "access: bad pointer -> EFAULT");
    T_ERR(sys_access(longname, F_OK), ENAMETOOLONG, "access: long name -> ENAMETOOLONG");
    T_ERR(sys_access("", F_OK), ENOENT, "access: empty path -> ENOENT");
    T_EQ(sys_access("lnk", R_OK), 0, "access: follows a symlink");
    T_ERR(sys_access("dangling", F_OK), ENOENT, "access: dangling symlink -> ENOENT");
    T_ERR(sys_access("abs", F_OK), ENOENT, "access: absolute symlink to a missing path -> ENOENT");
    T_EQ(sys_access("/", R_OK | X_OK), 0, "access: the root directory");

    /* faccessat / faccessat2 */
    T_EQ(faccessat(dfd, "in", R_OK, 0), 0, "faccessat: relative to dir fd");
    T_ERR(syscall(SYS_faccessat, dfd, "missing", F_OK), ENOENT, "faccessat: missing -> ENOENT");
    T_ERR(syscall(SYS_faccessat, -5, "in", F_OK), EBADF, "faccessat: bad dirfd -> EBADF");
    T_ERR(syscall(SYS_faccessat, ffd, "in", F_OK), ENOTDIR, "faccessat: dirfd is a file -> ENOTDIR");
    T_EQ(syscall(SYS_faccessat, -5, "/", F_OK), 0, "faccessat: absolute path ignores dirfd");
    T_EQ(syscall(SYS_faccessat2, dfd, "in", R_OK, AT_EACCESS), 0, "faccessat2: AT_EACCESS");
    T_ERR(syscall(SYS_faccessat2, dfd, "in", R_OK, 0x1), EINVAL, "faccessat2: bad flags -> EINVAL");
    T_EQ(syscall(SYS_faccessat2, AT_FDCWD, "dangling", F_OK, AT_SYMLINK_NOFOLLOW), 0,
         "faccessat2: AT_SYMLINK_NOFOLLOW sees a dangling link");
    T_ERR(syscall(SYS_faccessat2, AT_FDCWD, "dangling", F_OK, 0), ENOENT, "faccessat2: follows to a missing target -> ENOENT");
    T_EQ(syscall(SYS_faccessat2, dfd, "", F_OK, AT_EMPTY_PATH), 0, "faccessat2: AT_EMPTY_PATH on dir fd");
    T_EQ(syscall(SYS_faccessat2, ffd, "", R_OK, AT_EMPTY_PATH), 0, "faccessat2: AT_EMPTY_PATH on a file fd");
    T_ERR(syscall(SYS_faccessat2, AT_FDCWD, "", F_OK, 0), ENOENT, "faccessat2: empty path without AT_EMPTY_PATH -> ENOENT");
    T_ERR(syscall(SYS_faccessat2, AT_FDCWD, BADPTR, F_OK, 0), EFAULT, "faccessat2: bad pointer -> EFAULT");

    /* as nobody: mode bits are checked */
    tap_write_file("pub", "p");
    chmod("pub", 0644);
    mkdir("priv", 0700);
    tap_write_file("priv/f", "s");
    chmod(".", 0755);
    T_EQ(tap_in_child(as_nobody, NULL), 0, "access: as nobody R_OK ok, W_OK/X_OK/0700 dir -> EACCES");

    /* readlink (SYS_readlink) / readlinkat */
    T_EQ(sys_readlink("lnk", buf, sizeof buf), 1, "readlink: length of the target");
    OK(buf[0] == 'a', "readlink: target content");
    T_EQ(sys_readlink("abs", buf, sizeof buf), 26, "readlink: an absolute target, verbatim length");
    OK(memcmp(buf, "/conformance-no-such-dir/x", 26) == 0, "readlink: absolute target not resolved");
    T_ERR(sys_readlink("lnk", buf, 0), EINVAL, "readlink: bufsiz 0 -> EINVAL");
    T_ERR(sys_readlink("a", buf, sizeof buf), EINVAL, "readlink: not a symlink -> EINVAL");
    T_ERR(sys_readlink("d", buf, sizeof buf), EINVAL, "readlink: a directory -> EINVAL");
    T_ERR(sys_readlink("missing", buf, sizeof buf), ENOENT, "readlink: missing -> ENOENT");
    T_ERR(sys_readlink("a/x", buf, sizeof buf), ENOTDIR, "readlink: through a file -> ENOTDIR");
    T_ERR(sys_readlink("lnk", BADPTR, 10), EFAULT, "readlink: bad buffer -> EFAULT");
    T_ERR(sys_readlink(BADPTR, buf, 10), EFAULT, "readlink: bad path -> EFAULT");
    T_ERR(sys_readlink("", buf, 10), ENOENT, "readlink: empty path -> ENOENT");
    T_EQ(sys_readlink("lnk", buf, 1), 1, "readlink: truncates to bufsiz");
    symlinkat("in", dfd, "l2");
    T_EQ(readlinkat(dfd, "l2", buf, sizeof buf), 2, "readlinkat: relative to dir fd");
    T_ERR(readlinkat(-5, "l2", buf, sizeof buf), EBADF, "readlinkat: bad dirfd -> EBADF");
    T_ERR(readlinkat(ffd, "l2", buf, sizeof buf), ENOTDIR, "readlinkat: dirfd is a file -> ENOTDIR");
    T_ERR(readlinkat(dfd, "", buf, sizeof buf), ENOENT, "readlinkat: empty path on a dir fd -> ENOENT");
    close(dfd);
    close(ffd);
    return tap_done();
}
