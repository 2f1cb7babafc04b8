/* Metadata: stat(2)/fstat/lstat/newfstatat, statx(2), statfs(2)/fstatfs, chmod(2) family,
 * chown(2) family, utimensat(2)/utimes/utime/futimesat. */
#include "tap.h"
#include <grp.h>
#include <linux/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <utime.h>

/* The legacy numbers, called raw (glibc routes stat(), chmod()... through the *at calls). */
#define sys_stat(p, b) syscall(SYS_stat, (p), (b))
#define sys_lstat(p, b) syscall(SYS_lstat, (p), (b))
#define sys_fstat(fd, b) syscall(SYS_fstat, (fd), (b))
#define sys_chmod(p, m) syscall(SYS_chmod, (p), (m))
#define sys_chown(p, u, g) syscall(SYS_chown, (p), (u), (g))
#define sys_lchown(p, u, g) syscall(SYS_lchown, (p), (u), (g))
#define sys_utimes(p, t) syscall(SYS_utimes, (p), (t))
#define sys_utime(p, t) syscall(SYS_utime, (p), (t))
#define sys_statfs(p, b) syscall(SYS_statfs, (p), (b))

/* As nobody, on root-owned files of the work dir: DAC and ownership checks. */
static int meta_as_nobody(void *a)
{
    (void)a;
    if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
        return 1;
    int bits = 0;
    if (sys_chmod("rootf", 0666) == -1 && errno == EPERM)
        bits |= 1;
    if (sys_chown("rootf", 65534, 65534) == -1 && errno == EPERM)
        bits |= 2;
    if (utimensat(AT_FDCWD, "rootf", NULL, 0) == -1 && errno == EACCES)
        bits |= 4;
    struct timespec ts[2] = {{1, 0}, {2, 0}};
    if (utimensat(AT_FDCWD, "rootf", ts, 0) == -1 && errno == EPERM)
        bits |= 8;
    if (syscall(SYS_truncate, "rootf", 0L) == -1 && errno == EACCES)
        bits |= 16;
    struct stat st;
    if (sys_stat("rootdir/f", &st) == -1 && errno == EACCES)
        bits |= 32;
    if (sys_lchown("rootl", 65534, 65534) == -1 && errno == EPERM)
        bits |= 64;
    if (sys_chmod("mine", 0600) == 0 && sys_chown("mine", 65534, 65534) == 0)
        bits |= 128;
    return bits == 255 ? 0 : 1000 + bits;
}

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
    T_EQ(sys_stat("f", &st), 0, "stat: regular file");
    OK(S_ISREG(st.st_mode) && st.st_size == 5 && st.st_nlink == 1, "stat: type, size and link count");
    OK((st.st_mode & 07777) == 0644, "stat: permission bits 0644");
    T_ERR(sys_stat("missing", &st), ENOENT, "stat: missing -> ENOENT");
    T_ERR(sys_stat("f", BADPTR), EFAULT, "stat: bad buffer -> EFAULT");
    T_ERR(sys_stat(BADPTR, &st), EFAULT, "stat: bad path -> EFAULT");
    T_ERR(sys_stat("f/x", &st), ENOTDIR, "stat: through a file -> ENOTDIR");
    T_EQ(sys_stat("l", &st), 0, "stat: follows a symlink");
    OK(S_ISREG(st.st_mode), "stat: the target is regular");
    T_EQ(sys_lstat("l", &st), 0, "lstat: the symlink itself");
    OK(S_ISLNK(st.st_mode) && st.st_size == 1, "lstat: S_IFLNK, size = target length");
    T_EQ(sys_fstat(fd, &st), 0, "fstat: open fd");
    OK(st.st_size == 5, "fstat: size");
    T_ERR(sys_fstat(-1, &st), EBADF, "fstat: bad fd -> EBADF");
    T_ERR(sys_fstat(fd, BADPTR), EFAULT, "fstat: bad buffer -> EFAULT");
    int p[2];
    pipe(p);
    fstat(p[0], &st);
    OK(S_ISFIFO(st.st_mode), "fstat: a pipe is S_IFIFO");
    T_EQ(fstatat(AT_FDCWD, "l", &st, AT_SYMLINK_NOFOLLOW), 0, "newfstatat: AT_SYMLINK_NOFOLLOW");
    OK(S_ISLNK(st.st_mode), "newfstatat: saw the link");
    T_EQ(fstatat(fd, "", &st, AT_EMPTY_PATH), 0, "newfstatat: AT_EMPTY_PATH on an fd");
    OK(st.st_size == 5 && S_ISREG(st.st_mode), "newfstatat: AT_EMPTY_PATH gives the fd's file");
    T_EQ(fstatat(p[0], "", &st, AT_EMPTY_PATH), 0, "newfstatat: AT_EMPTY_PATH on a pipe");
    OK(S_ISFIFO(st.st_mode), "newfstatat: AT_EMPTY_PATH on a pipe is S_IFIFO");
    T_ERR(fstatat(-1, "", &st, AT_EMPTY_PATH), EBADF, "newfstatat: AT_EMPTY_PATH, bad fd -> EBADF");
    T_ERR(fstatat(fd, "", BADPTR, AT_EMPTY_PATH), EFAULT, "newfstatat: AT_EMPTY_PATH, bad buffer -> EFAULT");
    {
        struct stat cwd, dot;
        stat(".", &dot);
        T_EQ(fstatat(AT_FDCWD, "", &cwd, AT_EMPTY_PATH), 0, "newfstatat: AT_FDCWD with AT_EMPTY_PATH");
        OK(cwd.st_ino == dot.st_ino && S_ISDIR(cwd.st_mode), "newfstatat: AT_FDCWD, \"\" is the working directory");
    }
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
    OK(sx.stx_size == 5, "statx: AT_EMPTY_PATH gives the fd's file");
    T_ERR(statx(-1, "", AT_EMPTY_PATH, STATX_SIZE, &sx), EBADF, "statx: AT_EMPTY_PATH, bad fd -> EBADF");
    T_EQ(statx(AT_FDCWD, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx), 0, "statx: AT_FDCWD with AT_EMPTY_PATH");
    OK(S_ISDIR(sx.stx_mode), "statx: AT_FDCWD, \"\" is the working directory");

    /* statfs / fstatfs */
    struct statfs sf, sf2;
    T_EQ(sys_statfs(".", &sf), 0, "statfs: work dir");
    T_EQ(fstatfs(fd, &sf2), 0, "fstatfs: open file");
    OK(sf.f_type == sf2.f_type && sf.f_bsize == sf2.f_bsize, "fstatfs: same filesystem as statfs");
    T_ERR(sys_statfs("missing", &sf), ENOENT, "statfs: missing -> ENOENT");
    T_ERR(sys_statfs(".", BADPTR), EFAULT, "statfs: bad buffer -> EFAULT");
    T_ERR(fstatfs(-1, &sf), EBADF, "fstatfs: bad fd -> EBADF");

    /* chmod / fchmod / fchmodat */
    T_EQ(sys_chmod("f", 0600), 0, "chmod: 0600");
    stat("f", &st);
    OK((st.st_mode & 07777) == 0600, "chmod: applied");
    T_ERR(sys_chmod("missing", 0600), ENOENT, "chmod: missing -> ENOENT");
    T_ERR(sys_chmod(BADPTR, 0600), EFAULT, "chmod: bad pointer -> EFAULT");
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
    T_EQ(sys_chmod("f", 04755), 0, "chmod: setuid bit as root");
    stat("f", &st);
    OK((st.st_mode & 07777) == 04755, "chmod: setuid bit kept");

    /* chown / fchown / lchown / fchownat */
    T_EQ(sys_chown("f", 1234, 5678), 0, "chown: to 1234:5678 as root");
    stat("f", &st);
    OK(st.st_uid == 1234 && st.st_gid == 5678, "chown: owner and group");
    OK((st.st_mode & 04000) == 0, "chown: clears the setuid bit");
    T_EQ(sys_chown("f", -1, 42), 0, "chown: -1 keeps the owner");
    stat("f", &st);
    OK(st.st_uid == 1234 && st.st_gid == 42, "chown: only group changed");
    T_ERR(sys_chown("missing", 0, 0), ENOENT, "chown: missing -> ENOENT");
    T_EQ(fchown(fd, 0, 0), 0, "fchown: back to root");
    T_ERR(fchown(-1, 0, 0), EBADF, "fchown: bad fd -> EBADF");
    T_EQ(sys_lchown("l", 77, 77), 0, "lchown: the link itself");
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
    T_EQ(sys_utimes("f", tv), 0, "utimes: microsecond times");
    stat("f", &st);
    OK(st.st_mtim.tv_sec == 3000, "utimes: mtime");
    struct timeval tvbad[2] = {{0, 2000000}, {0, 0}};
    T_ERR(sys_utimes("f", tvbad), EINVAL, "utimes: tv_usec out of range -> EINVAL");
    struct utimbuf ub = {4000, 5000};
    T_EQ(sys_utime("f", &ub), 0, "utime: seconds");
    stat("f", &st);
    OK(st.st_atim.tv_sec == 4000 && st.st_mtim.tv_sec == 5000, "utime: both times");
    T_EQ(syscall(SYS_futimesat, dfd, "..", tv), 0, "futimesat: relative to a dir fd");
    T_ERR(sys_utime("missing", &ub), ENOENT, "utime: missing -> ENOENT");

    /* more error paths */
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    T_ERR(sys_lstat("missing", &st), ENOENT, "lstat: missing -> ENOENT");
    T_ERR(sys_lstat(BADPTR, &st), EFAULT, "lstat: bad path -> EFAULT");
    T_ERR(sys_lstat("f", BADPTR), EFAULT, "lstat: bad buffer -> EFAULT");
    T_ERR(sys_stat(longname, &st), ENAMETOOLONG, "stat: long name -> ENAMETOOLONG");
    T_ERR(sys_stat("", &st), ENOENT, "stat: empty path -> ENOENT");
    T_EQ(sys_stat("/", &st), 0, "stat: the root directory");
    OK(S_ISDIR(st.st_mode) && st.st_uid == 0, "stat: / is a root-owned directory");
    struct stat r2;
    sys_stat("/..", &r2);
    OK(r2.st_ino == st.st_ino && r2.st_dev == st.st_dev, "stat: /.. is /");
    T_ERR(sys_statfs("f/x", &sf), ENOTDIR, "statfs: through a file -> ENOTDIR");
    T_ERR(sys_statfs(BADPTR, &sf), EFAULT, "statfs: bad path -> EFAULT");
    T_EQ(sys_statfs("/", &sf), 0, "statfs: the root directory");
    T_ERR(sys_chmod("f/x", 0600), ENOTDIR, "chmod: through a file -> ENOTDIR");
    T_ERR(fchmodat(-5, "f", 0600, 0), EBADF, "fchmodat: bad dirfd -> EBADF");
    T_ERR(syscall(SYS_fchmodat, AT_FDCWD, "missing", 0600), ENOENT, "fchmodat: missing -> ENOENT");
    T_ERR(sys_chown(BADPTR, 0, 0), EFAULT, "chown: bad pointer -> EFAULT");
    T_ERR(sys_lchown("missing", 0, 0), ENOENT, "lchown: missing -> ENOENT");
    T_ERR(fchownat(-5, "f", 0, 0, 0), EBADF, "fchownat: bad dirfd -> EBADF");
    T_EQ(fchownat(AT_FDCWD, "l", 9, 9, AT_SYMLINK_NOFOLLOW), 0, "fchownat: AT_SYMLINK_NOFOLLOW on the link");
    lstat("l", &st);
    OK(st.st_uid == 9, "fchownat: link owner 9");
    T_EQ(sys_utimes("f", NULL), 0, "utimes: NULL sets the current time");
    T_ERR(sys_utimes("missing", NULL), ENOENT, "utimes: missing -> ENOENT");
    T_ERR(sys_utimes(BADPTR, NULL), EFAULT, "utimes: bad path -> EFAULT");
    T_ERR(syscall(SYS_futimesat, -5, "f", NULL), EBADF, "futimesat: bad dirfd -> EBADF");
    T_EQ(syscall(SYS_utimensat, dfd, NULL, NULL, 0), 0, "utimensat: NULL path means the dir fd itself");
    T_ERR(utimensat(-5, "f", NULL, 0), EBADF, "utimensat: bad dirfd -> EBADF");
    struct timespec fts[2] = {{1500000000, 0}, {1600000000, 0}};
    T_EQ(futimens(fd, fts), 0, "utimensat: futimens (NULL path) with explicit times on an open file");
    fstat(fd, &st);
    OK(st.st_mtim.tv_sec == 1600000000, "utimensat: futimens set the mtime");
    T_EQ(syscall(SYS_utimensat, fd, NULL, NULL, 0), 0, "utimensat: NULL path, NULL times on an open file");
    T_ERR(syscall(SYS_utimensat, -1, NULL, NULL, 0), EBADF, "utimensat: NULL path on a bad fd -> EBADF");
    T_EQ(statx(dfd, "..", 0, STATX_INO, &sx), 0, "statx: relative to a dir fd");
    T_ERR(statx(-5, "f", 0, STATX_BASIC_STATS, &sx), EBADF, "statx: bad dirfd -> EBADF");
    T_EQ(statx(AT_FDCWD, "l", AT_SYMLINK_NOFOLLOW, STATX_TYPE, &sx), 0, "statx: AT_SYMLINK_NOFOLLOW");
    OK(S_ISLNK(sx.stx_mode), "statx: saw the link");

    /* as nobody */
    tap_write_file("rootf", "r");
    chmod("rootf", 0644);
    mkdir("rootdir", 0700);
    tap_write_file("rootdir/f", "s");
    symlink("rootf", "rootl");
    tap_write_file("mine", "m");
    chown("mine", 65534, 65534);
    chmod(".", 0755);
    T_EQ(tap_in_child(meta_as_nobody, NULL), 0, "chmod: as nobody on root's files -> EPERM/EACCES; own file ok");
    return tap_done();
}
