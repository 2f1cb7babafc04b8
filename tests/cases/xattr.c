/* Extended attributes: setxattr(2), getxattr(2), listxattr(2), removexattr(2) and their
 * l- and f- forms (user.* namespace). */
#include "tap.h"
#include <sys/xattr.h>

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    char buf[256];
    tap_write_file("f", "x");
    symlink("f", "l");
    int fd = open("f", O_RDWR);

    T_EQ(setxattr("f", "user.a", "va", 2, 0), 0, "setxattr: user.a");
    T_EQ(getxattr("f", "user.a", buf, sizeof buf), 2, "getxattr: value length");
    OK(memcmp(buf, "va", 2) == 0, "getxattr: value content");
    T_EQ(getxattr("f", "user.a", NULL, 0), 2, "getxattr: size query with size 0");
    T_ERR(getxattr("f", "user.a", buf, 1), ERANGE, "getxattr: buffer too small -> ERANGE");
    T_ERR(getxattr("f", "user.none", buf, sizeof buf), ENODATA, "getxattr: missing attribute -> ENODATA");
    T_ERR(getxattr("missing", "user.a", buf, sizeof buf), ENOENT, "getxattr: missing file -> ENOENT");
    T_ERR(getxattr("f", "user.a", BADPTR, 10), EFAULT, "getxattr: bad buffer -> EFAULT");
    T_ERR(setxattr("f", "user.a", "x", 1, XATTR_CREATE), EEXIST, "setxattr: XATTR_CREATE on existing -> EEXIST");
    T_ERR(setxattr("f", "user.b", "x", 1, XATTR_REPLACE), ENODATA, "setxattr: XATTR_REPLACE on missing -> ENODATA");
    T_ERR(setxattr("f", "user.a", "x", 1, 0x10), EINVAL, "setxattr: bad flags -> EINVAL");
    T_ERR(setxattr("f", "bogus.a", "x", 1, 0), EOPNOTSUPP, "setxattr: unknown namespace -> EOPNOTSUPP");
    T_ERR(setxattr("f", "", "x", 1, 0), ERANGE, "setxattr: empty name -> ERANGE");
    T_ERR(setxattr("f", "user.a", BADPTR, 4, 0), EFAULT, "setxattr: bad value pointer -> EFAULT");
    T_EQ(fsetxattr(fd, "user.b", "vb", 2, 0), 0, "fsetxattr: user.b");
    T_EQ(fgetxattr(fd, "user.b", buf, sizeof buf), 2, "fgetxattr: user.b");
    T_ERR(fgetxattr(-1, "user.b", buf, sizeof buf), EBADF, "fgetxattr: bad fd -> EBADF");
    long n = T_EQ(listxattr("f", buf, sizeof buf), 14, "listxattr: two names");
    OK(n == 14 && memmem(buf, n, "user.a", 7) && memmem(buf, n, "user.b", 7), "listxattr: user.a and user.b");
    T_EQ(listxattr("f", NULL, 0), 14, "listxattr: size query");
    T_ERR(listxattr("f", buf, 3), ERANGE, "listxattr: buffer too small -> ERANGE");
    T_EQ(flistxattr(fd, buf, sizeof buf), 14, "flistxattr: same list");
    T_ERR(flistxattr(-1, buf, sizeof buf), EBADF, "flistxattr: bad fd -> EBADF");
    /* A file only its owner may read: its attributes are the owner's to read by fd. */
    int own = open("private", O_RDWR | O_CREAT | O_EXCL, 0600);
    T_EQ(fsetxattr(own, "user.p", "secret", 6, 0), 0, "fsetxattr: on an owner-only file");
    T_EQ(fgetxattr(own, "user.p", buf, sizeof buf), 6, "fgetxattr: an owner-only file's attribute");
    OK(memcmp(buf, "secret", 6) == 0, "fgetxattr: its value");
    T_EQ(fgetxattr(own, "user.p", NULL, 0), 6, "fgetxattr: size query");
    T_ERR(fgetxattr(own, "user.p", buf, 2), ERANGE, "fgetxattr: buffer too small -> ERANGE");
    T_ERR(fgetxattr(own, "user.none", buf, sizeof buf), ENODATA, "fgetxattr: missing -> ENODATA");
    T_EQ(flistxattr(own, NULL, 0), 7, "flistxattr: size query on an owner-only file");
    T_ERR(flistxattr(own, buf, 3), ERANGE, "flistxattr: buffer too small -> ERANGE");
    T_EQ(flistxattr(own, buf, sizeof buf), 7, "flistxattr: one name");
    close(own);
    T_ERR(lsetxattr("l", "user.c", "x", 1, 0), EPERM, "lsetxattr: user.* on a symlink -> EPERM");
    T_ERR(lgetxattr("l", "user.a", buf, sizeof buf), ENODATA, "lgetxattr: the link has no user.a");
    T_EQ(llistxattr("l", buf, sizeof buf), 0, "llistxattr: link has no user attributes");
    T_EQ(getxattr("l", "user.a", buf, sizeof buf), 2, "getxattr: follows the link");
    T_EQ(removexattr("f", "user.a"), 0, "removexattr: user.a");
    T_ERR(removexattr("f", "user.a"), ENODATA, "removexattr: again -> ENODATA");
    T_EQ(fremovexattr(fd, "user.b"), 0, "fremovexattr: user.b");
    T_ERR(fremovexattr(fd, "user.b"), ENODATA, "fremovexattr: again -> ENODATA");
    T_ERR(lremovexattr("l", "user.a"), EPERM, "lremovexattr: user.* on a symlink -> EPERM");
    T_EQ(listxattr("f", buf, sizeof buf), 0, "listxattr: empty after removal");
    /* more error paths */
    char longname[300] = "user.";
    memset(longname + 5, 'x', 260);
    longname[265] = 0;
    T_ERR(setxattr("f", longname, "x", 1, 0), ERANGE, "setxattr: name > 255 bytes -> ERANGE");
    T_ERR(setxattr("missing", "user.a", "x", 1, 0), ENOENT, "setxattr: missing file -> ENOENT");
    T_ERR(setxattr(BADPTR, "user.a", "x", 1, 0), EFAULT, "setxattr: bad path -> EFAULT");
    T_ERR(setxattr("f", BADPTR, "x", 1, 0), EFAULT, "setxattr: bad name -> EFAULT");
    T_ERR(setxattr("f/x", "user.a", "x", 1, 0), ENOTDIR, "setxattr: through a file -> ENOTDIR");
    T_EQ(setxattr("l", "user.v", "via", 3, 0), 0, "setxattr: follows a symlink");
    T_EQ(getxattr("f", "user.v", buf, sizeof buf), 3, "setxattr: the target got it");
    T_ERR(getxattr(BADPTR, "user.v", buf, sizeof buf), EFAULT, "getxattr: bad path -> EFAULT");
    T_ERR(lgetxattr("missing", "user.v", buf, sizeof buf), ENOENT, "lgetxattr: missing -> ENOENT");
    T_ERR(listxattr("missing", buf, sizeof buf), ENOENT, "listxattr: missing -> ENOENT");
    T_ERR(listxattr("f", BADPTR, sizeof buf), EFAULT, "listxattr: bad buffer -> EFAULT");
    T_ERR(llistxattr(BADPTR, buf, sizeof buf), EFAULT, "llistxattr: bad path -> EFAULT");
    T_ERR(removexattr("missing", "user.v"), ENOENT, "removexattr: missing file -> ENOENT");
    T_ERR(lremovexattr("missing", "user.v"), ENOENT, "lremovexattr: missing file -> ENOENT");
    T_EQ(removexattr("l", "user.v"), 0, "removexattr: follows a symlink");
    T_ERR(fsetxattr(-1, "user.a", "x", 1, 0), EBADF, "fsetxattr: bad fd -> EBADF");
    T_ERR(fremovexattr(-1, "user.a"), EBADF, "fremovexattr: bad fd -> EBADF");
    mkdir("d", 0755);
    T_EQ(setxattr("d", "user.dir", "1", 1, 0), 0, "setxattr: on a directory");
    T_EQ(lsetxattr("d", "trusted.t", "1", 1, 0), 0, "lsetxattr: trusted.* as root");
    T_EQ(lgetxattr("d", "trusted.t", buf, sizeof buf), 1, "lgetxattr: trusted.* as root");
    close(fd);
    return tap_done();
}
