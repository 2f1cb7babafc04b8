/* Path-bearing calls: open(2)/openat(2)/openat2(2)/creat(2), access(2)/faccessat2, readlink(2),
 * mkdir(2), mknod(2), unlink(2), rmdir(2), rename(2)/renameat2, link(2), symlink(2),
 * truncate(2), chdir(2)/fchdir(2)/getcwd(3), getdents64(2), umask(2). */
#include "tap.h"
#include <dirent.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/sysmacros.h>

static long openat2_(int dfd, const char *p, struct open_how *h, size_t sz)
{
    return syscall(SYS_openat2, dfd, p, h, sz);
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    char longname[NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    static char longpath[PATH_MAX + 10];
    memset(longpath, 'b', sizeof longpath - 1);
    char buf[PATH_MAX];

    /* open / openat / creat */
    int fd = T_OK(open("a", O_CREAT | O_WRONLY | O_EXCL, 0640), "open: O_CREAT|O_EXCL creates");
    close(fd);
    T_ERR(open("a", O_CREAT | O_EXCL | O_WRONLY, 0640), EEXIST, "open: O_EXCL on existing -> EEXIST");
    T_ERR(open("missing", O_RDONLY), ENOENT, "open: missing file -> ENOENT");
    T_ERR(open("missing/x", O_RDONLY), ENOENT, "open: missing parent -> ENOENT");
    T_ERR(open("a/x", O_RDONLY), ENOTDIR, "open: file as directory -> ENOTDIR");
    T_ERR(open(longname, O_RDONLY), ENAMETOOLONG, "open: component > NAME_MAX -> ENAMETOOLONG");
    T_ERR(open(longpath, O_RDONLY), ENAMETOOLONG, "open: path >= PATH_MAX -> ENAMETOOLONG");
    T_ERR(open(BADPTR, O_RDONLY), EFAULT, "open: bad path pointer -> EFAULT");
    T_ERR(open("", O_RDONLY), ENOENT, "open: empty path -> ENOENT");
    T_ERR(open(".", O_WRONLY), EISDIR, "open: directory for writing -> EISDIR");
    T_ERR(open("a", O_RDONLY | O_DIRECTORY), ENOTDIR, "open: O_DIRECTORY on a file -> ENOTDIR");
    struct stat st;
    fd = open("a", O_RDONLY);
    fstat(fd, &st);
    OK((st.st_mode & 07777) == 0640, "open: mode 0640 applied (umask 022 keeps it)");
    close(fd);
    mkdir("d", 0755);
    int dfd = T_OK(open("d", O_RDONLY | O_DIRECTORY), "open: O_DIRECTORY on a directory");
    fd = T_OK(openat(dfd, "in", O_CREAT | O_RDWR, 0600), "openat: relative to a dir fd");
    close(fd);
    T_OK(access("d/in", F_OK), "openat: file created inside the dir");
    T_ERR(openat(-5, "in", O_RDONLY), EBADF, "openat: bad dirfd with relative path -> EBADF");
    T_ERR(openat(fd = open("a", O_RDONLY), "x", O_RDONLY), ENOTDIR, "openat: dirfd is a file -> ENOTDIR");
    close(fd);
    fd = T_OK(openat(-5, "/", O_RDONLY), "openat: absolute path ignores dirfd");
    close(fd);
    fd = T_OK(creat("c", 0600), "creat: creates");
    T_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_WRONLY, "creat: opens write-only");
    write(fd, "12345", 5);
    close(fd);
    fd = creat("c", 0600);
    fstat(fd, &st);
    OK(st.st_size == 0, "creat: truncates an existing file");
    close(fd);
    fd = T_OK(open(".", O_RDWR | O_TMPFILE, 0600),
              "open: O_TMPFILE in a directory");
    fstat(fd, &st);
    OK(st.st_nlink == 0, "open: O_TMPFILE file has no name");
    close(fd);
    symlink("a", "lnk");
    T_ERR(open("lnk", O_RDONLY | O_NOFOLLOW), ELOOP, "open: O_NOFOLLOW on a symlink -> ELOOP");
    fd = T_OK(open("lnk", O_PATH | O_NOFOLLOW), "open: O_PATH|O_NOFOLLOW opens the link itself");
    T_ERR(read(fd, buf, 1), EBADF, "read: O_PATH fd -> EBADF");
    close(fd);
    symlink("loop1", "loop2");
    symlink("loop2", "loop1");
    T_ERR(open("loop1", O_RDONLY), ELOOP, "open: symlink loop -> ELOOP");

    /* openat2 */
    struct open_how how = {.flags = O_RDONLY};
    fd = T_OK(openat2_(AT_FDCWD, "a", &how, sizeof how), "openat2: plain open");
    close(fd);
    how.resolve = RESOLVE_BENEATH;
    T_ERR(openat2_(dfd, "../a", &how, sizeof how), EXDEV, "openat2: RESOLVE_BENEATH with .. -> EXDEV");
    fd = T_OK(openat2_(dfd, "in", &how, sizeof how), "openat2: RESOLVE_BENEATH inside");
    close(fd);
    how.resolve = RESOLVE_NO_SYMLINKS;
    T_ERR(openat2_(AT_FDCWD, "lnk", &how, sizeof how), ELOOP, "openat2: RESOLVE_NO_SYMLINKS -> ELOOP");
    how.resolve = RESOLVE_IN_ROOT;
    fd = T_OK(openat2_(dfd, "/in", &how, sizeof how), "openat2: RESOLVE_IN_ROOT treats dirfd as /");
    close(fd);
    how.resolve = 0x80000000ull;
    T_ERR(openat2_(AT_FDCWD, "a", &how, sizeof how), EINVAL, "openat2: unknown resolve flag -> EINVAL");
    how.resolve = 0;
    how.mode = 0644;
    T_ERR(openat2_(AT_FDCWD, "a", &how, sizeof how), EINVAL, "openat2: mode without O_CREAT -> EINVAL");
    how.mode = 0;
    T_ERR(openat2_(AT_FDCWD, "a", &how, 8), EINVAL, "openat2: size too small -> EINVAL");
    T_ERR(openat2_(AT_FDCWD, "a", BADPTR, sizeof how), EFAULT, "openat2: bad how pointer -> EFAULT");

    /* access / faccessat / faccessat2 */
    T_EQ(access("a", R_OK | W_OK), 0, "access: R_OK|W_OK on own file");
    T_ERR(access("missing", F_OK), ENOENT, "access: missing -> ENOENT");
    T_ERR(access("a", 0x80), EINVAL, "access: bad mode -> EINVAL");
    T_ERR(access(BADPTR, F_OK), EFAULT, "access: bad pointer -> EFAULT");
    T_EQ(faccessat(dfd, "in", R_OK, 0), 0, "faccessat: relative to dir fd");
    T_EQ(syscall(SYS_faccessat2, dfd, "in", R_OK, AT_EACCESS), 0, "faccessat2: AT_EACCESS");
    T_ERR(syscall(SYS_faccessat2, dfd, "in", R_OK, 0x1), EINVAL, "faccessat2: bad flags -> EINVAL");
    T_EQ(syscall(SYS_faccessat2, AT_FDCWD, "lnk", F_OK, AT_SYMLINK_NOFOLLOW), 0, "faccessat2: AT_SYMLINK_NOFOLLOW");
    T_EQ(syscall(SYS_faccessat2, dfd, "", F_OK, AT_EMPTY_PATH), 0, "faccessat2: AT_EMPTY_PATH on dir fd");

    /* readlink / readlinkat */
    T_EQ(readlink("lnk", buf, sizeof buf), 1, "readlink: length of the target");
    OK(buf[0] == 'a', "readlink: target content");
    T_EQ(readlink("lnk", buf, 0) == -1 ? errno : 0, EINVAL, "readlink: bufsiz 0 -> EINVAL");
    T_ERR(readlink("a", buf, sizeof buf), EINVAL, "readlink: not a symlink -> EINVAL");
    T_ERR(readlink("missing", buf, sizeof buf), ENOENT, "readlink: missing -> ENOENT");
    T_ERR(readlink("lnk", BADPTR, 10), EFAULT, "readlink: bad buffer -> EFAULT");
    symlinkat("in", dfd, "l2");
    T_EQ(readlinkat(dfd, "l2", buf, sizeof buf), 2, "readlinkat: relative to dir fd");
    T_EQ(readlink("lnk", buf, 1), 1, "readlink: truncates to bufsiz");

    /* mkdir / mkdirat / rmdir */
    T_EQ(mkdir("m", 0700), 0, "mkdir: creates");
    T_ERR(mkdir("m", 0700), EEXIST, "mkdir: existing -> EEXIST");
    T_ERR(mkdir("nope/m", 0700), ENOENT, "mkdir: missing parent -> ENOENT");
    T_ERR(mkdir(longname, 0700), ENAMETOOLONG, "mkdir: long name -> ENAMETOOLONG");
    T_ERR(mkdir(BADPTR, 0700), EFAULT, "mkdir: bad pointer -> EFAULT");
    T_EQ(mkdirat(dfd, "sub", 0755), 0, "mkdirat: relative to dir fd");
    T_ERR(rmdir("d"), ENOTEMPTY, "rmdir: non-empty -> ENOTEMPTY");
    T_ERR(rmdir("a"), ENOTDIR, "rmdir: a file -> ENOTDIR");
    T_ERR(rmdir("m/."), EINVAL, "rmdir: last component . -> EINVAL");
    T_EQ(rmdir("m"), 0, "rmdir: empty dir");
    T_ERR(rmdir("m"), ENOENT, "rmdir: missing -> ENOENT");

    /* mknod / mknodat */
    T_EQ(mknod("fifo", S_IFIFO | 0600, 0), 0, "mknod: a FIFO");
    stat("fifo", &st);
    OK(S_ISFIFO(st.st_mode), "mknod: the node is a FIFO");
    T_EQ(mknodat(dfd, "reg", S_IFREG | 0600, 0), 0, "mknodat: a regular file");
    T_ERR(mknod("fifo", S_IFIFO | 0600, 0), EEXIST, "mknod: existing -> EEXIST");
    T_ERR(mknod("bad", 0170000 | 0600, 0), EINVAL, "mknod: bad type -> EINVAL");
    T_EQ(mknod("null", S_IFCHR | 0600, makedev(1, 3)), 0, "mknod: char device as root");

    /* unlink / unlinkat */
    T_EQ(unlink("fifo"), 0, "unlink: removes");
    T_ERR(unlink("fifo"), ENOENT, "unlink: missing -> ENOENT");
    T_ERR(unlink("d"), EISDIR, "unlink: directory -> EISDIR");
    T_ERR(unlink(BADPTR), EFAULT, "unlink: bad pointer -> EFAULT");
    T_EQ(unlinkat(dfd, "sub", AT_REMOVEDIR), 0, "unlinkat: AT_REMOVEDIR");
    T_ERR(unlinkat(dfd, "reg", 0x1), EINVAL, "unlinkat: bad flags -> EINVAL");
    T_EQ(unlinkat(dfd, "reg", 0), 0, "unlinkat: a file");

    /* rename / renameat / renameat2 */
    tap_write_file("r1", "one");
    tap_write_file("r2", "two");
    T_EQ(rename("r1", "r3"), 0, "rename: to a new name");
    T_ERR(access("r1", F_OK), ENOENT, "rename: old name gone");
    T_EQ(rename("r3", "r2"), 0, "rename: replaces an existing file");
    T_ERR(rename("missing", "x"), ENOENT, "rename: missing source -> ENOENT");
    T_ERR(rename("d", "r2"), ENOTDIR, "rename: dir over file -> ENOTDIR");
    T_ERR(rename("r2", "d"), EISDIR, "rename: file over dir -> EISDIR");
    T_ERR(rename("d", "d/in2"), EINVAL, "rename: dir into itself -> EINVAL");
    T_EQ(renameat(AT_FDCWD, "r2", dfd, "moved"), 0, "renameat: into a dir fd");
    tap_write_file("r4", "four");
    T_ERR(renameat2(dfd, "moved", AT_FDCWD, "r4", RENAME_NOREPLACE), EEXIST, "renameat2: RENAME_NOREPLACE -> EEXIST");
    T_EQ(renameat2(dfd, "moved", AT_FDCWD, "r4", RENAME_EXCHANGE), 0, "renameat2: RENAME_EXCHANGE");
    fd = open("r4", O_RDONLY);
    T_EQ(read(fd, buf, 10), 3, "renameat2: exchanged content size");
    close(fd);
    T_ERR(renameat2(AT_FDCWD, "r4", AT_FDCWD, "r5", RENAME_NOREPLACE | RENAME_EXCHANGE), EINVAL, "renameat2: NOREPLACE|EXCHANGE -> EINVAL");

    /* link / linkat */
    T_EQ(link("a", "hard"), 0, "link: hard link");
    stat("a", &st);
    OK(st.st_nlink == 2, "link: link count 2");
    T_ERR(link("a", "hard"), EEXIST, "link: existing target -> EEXIST");
    T_ERR(link("d", "dl"), EPERM, "link: a directory -> EPERM");
    T_ERR(link("missing", "x"), ENOENT, "link: missing source -> ENOENT");
    T_EQ(linkat(AT_FDCWD, "lnk", dfd, "lk", 0), 0, "linkat: without FOLLOW links the symlink");
    lstat("d/lk", &st);
    OK(S_ISLNK(st.st_mode), "linkat: new name is a symlink");
    T_EQ(linkat(AT_FDCWD, "lnk", dfd, "lk2", AT_SYMLINK_FOLLOW), 0, "linkat: AT_SYMLINK_FOLLOW");
    lstat("d/lk2", &st);
    OK(S_ISREG(st.st_mode), "linkat: followed to the regular file");
    T_ERR(linkat(AT_FDCWD, "a", AT_FDCWD, "x", 0x1), EINVAL, "linkat: bad flags -> EINVAL");

    /* symlink / symlinkat */
    T_EQ(symlink("/nonexistent/target", "dangling"), 0, "symlink: dangling target allowed");
    T_ERR(symlink("a", "a"), EEXIST, "symlink: existing name -> EEXIST");
    T_ERR(symlink("", "empty"), ENOENT, "symlink: empty target -> ENOENT");
    T_ERR(symlink("a", BADPTR), EFAULT, "symlink: bad linkpath -> EFAULT");
    T_EQ(symlinkat("../a", dfd, "up"), 0, "symlinkat: relative to dir fd");
    T_EQ(access("d/up", F_OK), 0, "symlinkat: resolves through ..");

    /* truncate */
    tap_write_file("t", "0123456789");
    T_EQ(truncate("t", 3), 0, "truncate: shrink");
    stat("t", &st);
    OK(st.st_size == 3, "truncate: size 3");
    T_ERR(truncate("t", -1), EINVAL, "truncate: negative -> EINVAL");
    T_ERR(truncate("d", 0), EISDIR, "truncate: directory -> EISDIR");
    T_ERR(truncate("missing", 0), ENOENT, "truncate: missing -> ENOENT");
    T_ERR(truncate(BADPTR, 0), EFAULT, "truncate: bad pointer -> EFAULT");

    /* chdir / fchdir / getcwd */
    char base[PATH_MAX];
    getcwd(base, sizeof base);
    T_EQ(chdir("d"), 0, "chdir: into a subdirectory");
    OK(access("in", F_OK) == 0, "chdir: relative paths now resolve in it");
    T_ERR(chdir("missing"), ENOENT, "chdir: missing -> ENOENT");
    T_ERR(chdir("in"), ENOTDIR, "chdir: a file -> ENOTDIR");
    T_ERR(chdir(BADPTR), EFAULT, "chdir: bad pointer -> EFAULT");
    T_EQ(chdir(".."), 0, "chdir: ..");
    T_EQ(fchdir(dfd), 0, "fchdir: to a dir fd");
    getcwd(buf, sizeof buf);
    OK(strlen(buf) == strlen(base) + 2 && strcmp(buf + strlen(base), "/d") == 0, "getcwd: reflects fchdir");
    T_ERR(syscall(SYS_getcwd, buf, 1), ERANGE, "getcwd: buffer too small -> ERANGE");
    T_ERR(syscall(SYS_getcwd, BADPTR, 100), EFAULT, "getcwd: bad buffer -> EFAULT");
    T_EQ(syscall(SYS_getcwd, buf, sizeof buf), (long)strlen(base) + 3, "getcwd: returns length including NUL");
    int afd = open("in", O_RDONLY);
    T_ERR(fchdir(afd), ENOTDIR, "fchdir: a file -> ENOTDIR");
    T_ERR(fchdir(-1), EBADF, "fchdir: bad fd -> EBADF");
    close(afd);
    chdir(base);

    /* getdents64 / getdents */
    char dbuf[4096];
    int gfd = open("d", O_RDONLY | O_DIRECTORY);
    long n = T_OK(syscall(SYS_getdents64, gfd, dbuf, sizeof dbuf), "getdents64: reads entries");
    int seen = 0;
    for (long off = 0; off < n;) {
        struct dirent64 *de = (struct dirent64 *)(dbuf + off);
        if (!strcmp(de->d_name, "in") && de->d_type == DT_REG)
            seen |= 1;
        if (!strcmp(de->d_name, "..") && de->d_type == DT_DIR)
            seen |= 2;
        off += de->d_reclen;
    }
    OK(seen == 3, "getdents64: has 'in' (DT_REG) and '..' (DT_DIR)");
    T_EQ(syscall(SYS_getdents64, gfd, dbuf, sizeof dbuf), 0, "getdents64: 0 at end");
    lseek(gfd, 0, SEEK_SET);
    T_ERR(syscall(SYS_getdents64, gfd, dbuf, 10), EINVAL, "getdents64: buffer too small -> EINVAL");
    T_ERR(syscall(SYS_getdents64, gfd, BADPTR, 4096), EFAULT, "getdents64: bad buffer -> EFAULT");
    afd = open("a", O_RDONLY);
    T_ERR(syscall(SYS_getdents64, afd, dbuf, sizeof dbuf), ENOTDIR, "getdents64: on a file -> ENOTDIR");
    T_ERR(syscall(SYS_getdents64, -1, dbuf, sizeof dbuf), EBADF, "getdents64: bad fd -> EBADF");
    lseek(gfd, 0, SEEK_SET);
    T_OK(syscall(SYS_getdents, gfd, dbuf, sizeof dbuf), "getdents: legacy call reads entries");
    close(afd);
    close(gfd);

    /* umask */
    mode_t old = umask(077);
    OK(old == 022, "umask: previous value 022");
    T_EQ(umask(022), 077, "umask: returns the value just set");
    umask(077);
    fd = open("um", O_CREAT | O_WRONLY, 0666);
    fstat(fd, &st);
    OK((st.st_mode & 0777) == 0600, "umask: applied to new files");
    close(fd);
    umask(022);
    close(dfd);
    return tap_done();
}
