/* Renaming and linking: rename(2) (raw legacy number), renameat(2), renameat2(2), link(2) (raw),
 * linkat(2), symlink(2) (raw), symlinkat(2). */
#include "tap.h"
#include <limits.h>

#define sys_rename(a, b) syscall(SYS_rename, (a), (b))
#define sys_link(a, b) syscall(SYS_link, (a), (b))
#define sys_symlink(a, b) syscall(SYS_symlink, (a), (b))

static long read_small(const char *p, char *buf, size_t n)
{
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return -1;
    long r = read(fd, buf, n);
    close(fd);
    return r;
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    char buf[PATH_MAX];
    char longname[NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    struct stat st;
    tap_write_file("a", "alpha");
    mkdir("d", 0755);
    mkdir("e", 0755);
    tap_write_file("e/f", "in e");
    int dfd = open("d", O_RDONLY | O_DIRECTORY);
    int ffd = open("a", O_RDONLY);

    /* rename */
    tap_write_file("r1", "one");
    tap_write_file("r2", "two");
    T_EQ(sys_rename("r1", "r3"), 0, "rename: to a new name");
    T_ERR(access("r1", F_OK), ENOENT, "rename: old name gone");
    T_EQ(read_small("r3", buf, sizeof buf), 3, "rename: new name has the content");
    T_EQ(sys_rename("r3", "r2"), 0, "rename: replaces an existing file");
    T_EQ(read_small("r2", buf, sizeof buf) == 3 && memcmp(buf, "one", 3) == 0, 1, "rename: the replaced name has the new content");
    T_EQ(sys_rename("r2", "r2"), 0, "rename: same name is a no-op");
    T_ERR(sys_rename("missing", "x"), ENOENT, "rename: missing source -> ENOENT");
    T_ERR(sys_rename("r2", "nope/x"), ENOENT, "rename: missing target dir -> ENOENT");
    T_ERR(sys_rename("d", "r2"), ENOTDIR, "rename: dir over file -> ENOTDIR");
    T_ERR(sys_rename("r2", "d"), EISDIR, "rename: file over dir -> EISDIR");
    T_ERR(sys_rename("d", "d/in2"), EINVAL, "rename: dir into itself -> EINVAL");
    T_ERR(sys_rename("d", "e"), ENOTEMPTY, "rename: dir over a non-empty dir -> ENOTEMPTY");
    mkdir("empty", 0755);
    T_EQ(sys_rename("empty", "d2"), 0, "rename: a directory");
    T_EQ(sys_rename("d2", "d"), 0, "rename: dir over an empty dir");
    close(dfd);
    dfd = open("d", O_RDONLY | O_DIRECTORY);
    T_ERR(sys_rename(".", "x"), EBUSY, "rename: . as source -> EBUSY");
    T_ERR(sys_rename(BADPTR, "x"), EFAULT, "rename: bad old pointer -> EFAULT");
    T_ERR(sys_rename("r2", BADPTR), EFAULT, "rename: bad new pointer -> EFAULT");
    T_ERR(sys_rename("r2", longname), ENAMETOOLONG, "rename: long new name -> ENAMETOOLONG");
    T_ERR(sys_rename("a/x", "y"), ENOTDIR, "rename: source through a file -> ENOTDIR");
    T_EQ(sys_rename("e/f", "f-moved"), 0, "rename: across directories");
    T_EQ(access("f-moved", F_OK), 0, "rename: arrived in the other directory");
    symlink("a", "sl");
    T_EQ(sys_rename("sl", "sl2"), 0, "rename: a symlink is renamed, not its target");
    T_EQ(readlink("sl2", buf, sizeof buf), 1, "rename: the renamed symlink keeps its target");
    T_EQ(access("a", F_OK), 0, "rename: the target is untouched");

    /* renameat / renameat2 */
    T_EQ(renameat(AT_FDCWD, "r2", dfd, "moved"), 0, "renameat: into a dir fd");
    T_ERR(renameat(-5, "x", AT_FDCWD, "y"), EBADF, "renameat: bad old dirfd -> EBADF");
    T_ERR(renameat(AT_FDCWD, "a", ffd, "y"), ENOTDIR, "renameat: new dirfd is a file -> ENOTDIR");
    tap_write_file("r4", "four");
    T_ERR(renameat2(dfd, "moved", AT_FDCWD, "r4", RENAME_NOREPLACE), EEXIST, "renameat2: RENAME_NOREPLACE -> EEXIST");
    T_EQ(renameat2(dfd, "moved", AT_FDCWD, "r5", RENAME_NOREPLACE), 0, "renameat2: RENAME_NOREPLACE to a free name");
    T_EQ(renameat2(AT_FDCWD, "r5", dfd, "moved", 0), 0, "renameat2: flags 0 like renameat");
    T_EQ(renameat2(dfd, "moved", AT_FDCWD, "r4", RENAME_EXCHANGE), 0, "renameat2: RENAME_EXCHANGE");
    T_EQ(read_small("r4", buf, sizeof buf), 3, "renameat2: exchanged content size");
    T_EQ(read_small("d/moved", buf, sizeof buf), 4, "renameat2: the other side too");
    T_ERR(renameat2(AT_FDCWD, "r4", AT_FDCWD, "none", RENAME_EXCHANGE), ENOENT, "renameat2: RENAME_EXCHANGE with a missing target -> ENOENT");
    T_ERR(renameat2(AT_FDCWD, "r4", AT_FDCWD, "r5", RENAME_NOREPLACE | RENAME_EXCHANGE), EINVAL, "renameat2: NOREPLACE|EXCHANGE -> EINVAL");
    T_ERR(renameat2(AT_FDCWD, "r4", AT_FDCWD, "r5", 0x100), EINVAL, "renameat2: unknown flag -> EINVAL");
    T_IS(renameat2(AT_FDCWD, "r4", AT_FDCWD, "r5", RENAME_WHITEOUT), 0, "renameat2: RENAME_WHITEOUT as root");

    /* link / linkat */
    T_EQ(sys_link("a", "hard"), 0, "link: hard link");
    stat("a", &st);
    OK(st.st_nlink == 2, "link: link count 2");
    struct stat s2;
    stat("hard", &s2);
    OK(st.st_ino == s2.st_ino && st.st_dev == s2.st_dev, "link: same inode");
    T_ERR(sys_link("a", "hard"), EEXIST, "link: existing target -> EEXIST");
    T_ERR(sys_link("d", "dl"), EPERM, "link: a directory -> EPERM");
    T_ERR(sys_link("missing", "x"), ENOENT, "link: missing source -> ENOENT");
    T_ERR(sys_link("a", "nope/x"), ENOENT, "link: missing target dir -> ENOENT");
    T_ERR(sys_link(BADPTR, "x"), EFAULT, "link: bad old pointer -> EFAULT");
    T_ERR(sys_link("a", BADPTR), EFAULT, "link: bad new pointer -> EFAULT");
    T_ERR(sys_link("a", longname), ENAMETOOLONG, "link: long name -> ENAMETOOLONG");
    T_ERR(sys_link("a/x", "y"), ENOTDIR, "link: through a file -> ENOTDIR");
    symlink("a", "lnk");
    T_EQ(linkat(AT_FDCWD, "lnk", dfd, "lk", 0), 0, "linkat: without FOLLOW links the symlink");
    lstat("d/lk", &st);
    OK(S_ISLNK(st.st_mode), "linkat: new name is a symlink");
    T_EQ(linkat(AT_FDCWD, "lnk", dfd, "lk2", AT_SYMLINK_FOLLOW), 0, "linkat: AT_SYMLINK_FOLLOW");
    lstat("d/lk2", &st);
    OK(S_ISREG(st.st_mode), "linkat: followed to the regular file");
    T_ERR(linkat(AT_FDCWD, "a", AT_FDCWD, "x", 0x1), EINVAL, "linkat: bad flags -> EINVAL");
    T_ERR(linkat(-5, "a", AT_FDCWD, "x", 0), EBADF, "linkat: bad old dirfd -> EBADF");
    T_EQ(linkat(ffd, "", AT_FDCWD, "byfd", AT_EMPTY_PATH), 0, "linkat: AT_EMPTY_PATH on a file fd as root");
    stat("a", &st);
    OK(st.st_nlink == 4, "linkat: link count 4 (a, hard, lk2, byfd)");
    T_ERR(linkat(dfd, "", AT_FDCWD, "dirlink", AT_EMPTY_PATH), EPERM, "linkat: AT_EMPTY_PATH on a dir fd -> EPERM");

    /* symlink / symlinkat */
    T_EQ(sys_symlink("/nonexistent/target", "dangling"), 0, "symlink: dangling target allowed");
    lstat("dangling", &st);
    OK(S_ISLNK(st.st_mode) && st.st_size == 19, "symlink: S_IFLNK with the target's length");
    T_ERR(sys_symlink("a", "a"), EEXIST, "symlink: existing name -> EEXIST");
    T_ERR(sys_symlink("a", "dangling"), EEXIST, "symlink: existing dangling link -> EEXIST");
    T_ERR(sys_symlink("", "empty"), ENOENT, "symlink: empty target -> ENOENT");
    T_ERR(sys_symlink("a", BADPTR), EFAULT, "symlink: bad linkpath -> EFAULT");
    T_ERR(sys_symlink(BADPTR, "x"), EFAULT, "symlink: bad target -> EFAULT");
    T_ERR(sys_symlink("a", "nope/x"), ENOENT, "symlink: missing parent -> ENOENT");
    T_ERR(sys_symlink("a", longname), ENAMETOOLONG, "symlink: long name -> ENAMETOOLONG");
    static char longtarget[PATH_MAX + 10];
    memset(longtarget, 't', sizeof longtarget - 1);
    T_ERR(sys_symlink(longtarget, "lt"), ENAMETOOLONG, "symlink: target >= PATH_MAX -> ENAMETOOLONG");
    T_EQ(symlinkat("../a", dfd, "up"), 0, "symlinkat: relative to dir fd");
    T_EQ(access("d/up", F_OK), 0, "symlinkat: resolves through ..");
    T_ERR(symlinkat("a", -5, "x"), EBADF, "symlinkat: bad dirfd -> EBADF");
    T_ERR(symlinkat("a", ffd, "x"), ENOTDIR, "symlinkat: dirfd is a file -> ENOTDIR");
    close(dfd);
    close(ffd);
    return tap_done();
}
