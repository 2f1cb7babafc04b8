/* Metadata: stat(2)/fstat/lstat/newfstatat, statx(2), statfs(2)/fstatfs, chmod(2) family,
 * chown(2) family, utimensat(2)/utimes/utime/futimesat. */
#include "tap.h"
#include <linux/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <utime.h>

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    struct stat st;
    tap_write_file("f", "12345");
    symlink("f", "l");
    mkdir("d", 0755);
    int fd = open("f", O_RDWR);
    int dfd = open("d", O_RDONLY | O_DIRECTORY);

    /* stat / lstat / fstat / newfstatat */
    T_EQ(stat("f", &st), 0, "stat: regular file");
    OK(S_ISREG(st.st_mode) && st.st_size == 5 && st.st_nlink == 1, "stat: type, size and link count");
    OK((st.st_mode & 07777) == 0644, "stat: permission bits 0644");
    T_ERR(stat("missing", &st), ENOENT, "stat: missing -> ENOENT");
    T_ERR(stat("f", BADPTR), EFAULT, "stat: bad buffer -> EFAULT");
    T_ERR(stat(BADPTR, &st), EFAULT, "stat: bad path -> EFAULT");
    T_ERR(stat("f/x", &st), ENOTDIR, "stat: through a file -> ENOTDIR");
    T_EQ(stat("l", &st), 0, "stat: follows a symlink");
    OK(S_ISREG(st.st_mode), "stat: the target is regular");
    T_EQ(lstat("l", &st), 0, "lstat: the symlink itself");
    OK(S_ISLNK(st.st_mode) && st.st_size == 1, "lstat: S_IFLNK, size = target length");
    T_EQ(fstat(fd, &st), 0, "fstat: open fd");
    OK(st.st_size == 5, "fstat: size");
    T_ERR(fstat(-1, &st), EBADF, "fstat: bad fd -> EBADF");
    T_ERR(fstat(fd, BADPTR), EFAULT, "fstat: bad buffer -> EFAULT");
    int p[2];
    pipe(p);
    fstat(p[0], &st);
    OK(S_ISFIFO(st.st_mode), "fstat: a pipe is S_IFIFO");
    T_EQ(fstatat(AT_FDCWD, "l", &st, AT_SYMLINK_NOFOLLOW), 0, "newfstatat: AT_SYMLINK_NOFOLLOW");
    OK(S_ISLNK(st.st_mode), "newfstatat: saw the link");
    T_EQ(fstatat(fd, "", &st, AT_EMPTY_PATH), 0, "newfstatat: AT_EMPTY_PATH on an fd");
    T_ERR(fstatat(AT_FDCWD, "f", &st, 0x1), EINVAL, "newfstatat: bad flags -> EINVAL");
    T_ERR(fstatat(-7, "f", &st, 0), EBADF, "newfstatat: bad dirfd -> EBADF");
    T_ERR(fstatat(AT_FDCWD, "", &st, 0), ENOENT, "newfstatat: empty path without AT_EMPTY_PATH -> ENOENT");

    /* statx */
    struct statx sx;
    T_EQ(statx(AT_FDCWD, "f", 0, STATX_BASIC_STATS, &sx), 0, "statx: basic stats");
    OK(sx.stx_size == 5 && S_ISREG(sx.stx_mode), "statx: size and type");
    OK((sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS, "statx: mask has the basic stats");
    T_ERR(statx(AT_FDCWD, "f", 0, STATX__RESERVED, &sx), EINVAL, "statx: reserved mask bit -> EINVAL");
    T_ERR(statx(AT_FDCWD, "f", 0x40000000, STATX_BASIC_STATS, &sx), EINVAL, "statx: bad flags -> EINVAL");
    T_ERR(statx(AT_FDCWD, "f", 0, STATX_BASIC_STATS, BADPTR), EFAULT, "statx: bad buffer -> EFAULT");
    T_ERR(statx(AT_FDCWD, "missing", 0, STATX_BASIC_STATS, &sx), ENOENT, "statx: missing -> ENOENT");
    T_EQ(statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &sx), 0, "statx: AT_EMPTY_PATH");

    /* statfs / fstatfs */
    struct statfs sf, sf2;
    T_EQ(statfs(".", &sf), 0, "statfs: work dir");
    T_EQ(fstatfs(fd, &sf2), 0, "fstatfs: open file");
    OK(sf.f_type == sf2.f_type && sf.f_bsize == sf2.f_bsize, "fstatfs: same filesystem as statfs");
    T_ERR(statfs("missing", &sf), ENOENT, "statfs: missing -> ENOENT");
    T_ERR(statfs(".", BADPTR), EFAULT, "statfs: bad buffer -> EFAULT");
    T_ERR(fstatfs(-1, &sf), EBADF, "fstatfs: bad fd -> EBADF");

    /* chmod / fchmod / fchmodat */
    T_EQ(chmod("f", 0600), 0, "chmod: 0600");
    stat("f", &st);
    OK((st.st_mode & 07777) == 0600, "chmod: applied");
    T_ERR(chmod("missing", 0600), ENOENT, "chmod: missing -> ENOENT");
    T_ERR(chmod(BADPTR, 0600), EFAULT, "chmod: bad pointer -> EFAULT");
    T_EQ(fchmod(fd, 0640), 0, "fchmod: 0640");
    fstat(fd, &st);
    OK((st.st_mode & 07777) == 0640, "fchmod: applied");
    T_ERR(fchmod(-1, 0600), EBADF, "fchmod: bad fd -> EBADF");
    T_EQ(fchmodat(AT_FDCWD, "l", 0604, 0), 0, "fchmodat: follows the link");
    stat("f", &st);
    OK((st.st_mode & 07777) == 0604, "fchmodat: target changed");
    T_ERR(syscall(452 /* fchmodat2 */, AT_FDCWD, "f", 0600, 0x2), EINVAL, "fchmodat2: unknown flag -> EINVAL");
    T_ERR(syscall(452, AT_FDCWD, "l", 0600, AT_SYMLINK_NOFOLLOW), EOPNOTSUPP,
          "fchmodat2: AT_SYMLINK_NOFOLLOW on a symlink -> EOPNOTSUPP");
    T_EQ(syscall(452, AT_FDCWD, "f", 0604, 0), 0, "fchmodat2: flags 0 like fchmodat");
    T_EQ(chmod("f", 04755), 0, "chmod: setuid bit as root");
    stat("f", &st);
    OK((st.st_mode & 07777) == 04755, "chmod: setuid bit kept");

    /* chown / fchown / lchown / fchownat */
    T_EQ(chown("f", 1234, 5678), 0, "chown: to 1234:5678 as root");
    stat("f", &st);
    OK(st.st_uid == 1234 && st.st_gid == 5678, "chown: owner and group");
    OK((st.st_mode & 04000) == 0, "chown: clears the setuid bit");
    T_EQ(chown("f", -1, 42), 0, "chown: -1 keeps the owner");
    stat("f", &st);
    OK(st.st_uid == 1234 && st.st_gid == 42, "chown: only group changed");
    T_ERR(chown("missing", 0, 0), ENOENT, "chown: missing -> ENOENT");
    T_EQ(fchown(fd, 0, 0), 0, "fchown: back to root");
    T_ERR(fchown(-1, 0, 0), EBADF, "fchown: bad fd -> EBADF");
    T_EQ(lchown("l", 77, 77), 0, "lchown: the link itself");
    lstat("l", &st);
    OK(st.st_uid == 77, "lchown: link owner changed");
    stat("l", &st);
    OK(st.st_uid == 0, "lchown: target unchanged");
    T_EQ(fchownat(dfd, "", 5, 5, AT_EMPTY_PATH), 0, "fchownat: AT_EMPTY_PATH on the dir fd");
    stat("d", &st);
    OK(st.st_uid == 5, "fchownat: dir owner changed");
    T_ERR(fchownat(AT_FDCWD, "f", 0, 0, 0x1), EINVAL, "fchownat: bad flags -> EINVAL");

    /* utimensat / utimes / utime / futimesat */
    struct timespec ts[2] = {{1000000000, 5}, {1200000000, 7}};
    T_EQ(utimensat(AT_FDCWD, "f", ts, 0), 0, "utimensat: explicit times");
    stat("f", &st);
    OK(st.st_atim.tv_sec == 1000000000 && st.st_mtim.tv_sec == 1200000000 && st.st_mtim.tv_nsec == 7,
       "utimensat: atime and mtime with nanoseconds");
    struct timespec om[2] = {{0, UTIME_OMIT}, {123, 0}};
    T_EQ(utimensat(AT_FDCWD, "f", om, 0), 0, "utimensat: UTIME_OMIT for atime");
    stat("f", &st);
    OK(st.st_atim.tv_sec == 1000000000 && st.st_mtim.tv_sec == 123, "utimensat: atime kept");
    struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
    T_ERR(utimensat(AT_FDCWD, "f", bad, 0), EINVAL, "utimensat: tv_nsec out of range -> EINVAL");
    T_ERR(utimensat(AT_FDCWD, "f", ts, 0x1), EINVAL, "utimensat: bad flags -> EINVAL");
    T_ERR(utimensat(AT_FDCWD, "missing", ts, 0), ENOENT, "utimensat: missing -> ENOENT");
    T_ERR(utimensat(AT_FDCWD, "f", BADPTR, 0), EFAULT, "utimensat: bad times pointer -> EFAULT");
    T_EQ(utimensat(AT_FDCWD, "l", ts, AT_SYMLINK_NOFOLLOW), 0, "utimensat: AT_SYMLINK_NOFOLLOW");
    lstat("l", &st);
    OK(st.st_mtim.tv_sec == 1200000000, "utimensat: link mtime set");
    struct timeval tv[2] = {{2000, 0}, {3000, 0}};
    T_EQ(utimes("f", tv), 0, "utimes: microsecond times");
    stat("f", &st);
    OK(st.st_mtim.tv_sec == 3000, "utimes: mtime");
    struct timeval tvbad[2] = {{0, 2000000}, {0, 0}};
    T_ERR(utimes("f", tvbad), EINVAL, "utimes: tv_usec out of range -> EINVAL");
    struct utimbuf ub = {4000, 5000};
    T_EQ(utime("f", &ub), 0, "utime: seconds");
    stat("f", &st);
    OK(st.st_atim.tv_sec == 4000 && st.st_mtim.tv_sec == 5000, "utime: both times");
    T_EQ(syscall(SYS_futimesat, dfd, "..", tv), 0, "futimesat: relative to a dir fd");
    T_ERR(utime("missing", &ub), ENOENT, "utime: missing -> ENOENT");
    return tap_done();
}
