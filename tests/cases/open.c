/* Opening files: open(2) (the legacy number, called raw), openat(2), openat2(2), creat(2).
 * Error paths from open(2) ERRORS and openat2(2) ERRORS. O_PATH comes last. */
#include "tap.h"
#include <limits.h>
#include <linux/openat2.h>
#include <sys/socket.h>
#include <sys/un.h>

#define sys_open(p, f, m) syscall(SYS_open, (p), (f), (m))
#define sys_creat(p, m) syscall(SYS_creat, (p), (m))

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
    struct stat st;

    /* open (SYS_open) */
    int fd = T_OK(sys_open("a", O_CREAT | O_WRONLY | O_EXCL, 0640), "open: O_CREAT|O_EXCL creates");
    T_EQ(write(fd, "hello", 5), 5, "open: the new fd is writable");
    close(fd);
    /* Twice: the second open finds its directory already resolved. */
    for (int i = 0; i < 2; i++) {
        fd = T_OK(open("a", O_RDONLY), "open: an existing file, read-only");
        /* The kernel adds its O_LARGEFILE (0100000; glibc defines O_LARGEFILE as 0 here). */
        T_EQ(fcntl(fd, F_GETFL) & ~0100000, O_RDONLY, "open: F_GETFL shows the open's own flags");
        close(fd);
    }
    T_ERR(sys_open("a", O_CREAT | O_EXCL | O_WRONLY, 0640), EEXIST, "open: O_EXCL on existing -> EEXIST");
    T_ERR(sys_open("missing", O_RDONLY, 0), ENOENT, "open: missing file -> ENOENT");
    T_ERR(sys_open("missing/x", O_RDONLY, 0), ENOENT, "open: missing parent -> ENOENT");
    T_ERR(sys_open("missing/x", O_CREAT | O_WRONLY, 0600), ENOENT, "open: O_CREAT in a missing dir -> ENOENT");
    T_ERR(sys_open("a/x", O_RDONLY, 0), ENOTDIR, "open: file as directory -> ENOTDIR");
    T_ERR(sys_open(longname, O_RDONLY, 0), ENAMETOOLONG, "open: component > NAME_MAX -> ENAMETOOLONG");
    T_ERR(sys_open(longpath, O_RDONLY, 0), ENAMETOOLONG, "open: path >= PATH_MAX -> ENAMETOOLONG");
    T_ERR(sys_open(BADPTR, O_RDONLY, 0), EFAULT, "open: bad path pointer -> EFAULT");
    T_ERR(sys_open(KPTR, O_RDONLY, 0), EFAULT, "open: kernel path pointer -> EFAULT");
    T_ERR(sys_open("", O_RDONLY, 0), ENOENT, "open: empty path -> ENOENT");
    T_ERR(sys_open(".", O_WRONLY, 0), EISDIR, "open: directory for writing -> EISDIR");
    T_ERR(sys_open(".", O_RDONLY | O_CREAT, 0600), EISDIR, "open: O_CREAT on a directory -> EISDIR");
    T_ERR(sys_open("a", O_RDONLY | O_DIRECTORY, 0), ENOTDIR, "open: O_DIRECTORY on a file -> ENOTDIR");
    T_ERR(sys_open("newdir", O_CREAT | O_DIRECTORY | O_RDWR, 0700), EINVAL, "open: O_CREAT|O_DIRECTORY -> EINVAL");
    fd = sys_open("a", O_RDONLY, 0);
    fstat(fd, &st);
    OK((st.st_mode & 07777) == 0640, "open: mode 0640 applied (umask 022 keeps it)");
    close(fd);
    fd = T_OK(sys_open("a", O_RDWR | O_TRUNC, 0), "open: O_TRUNC on existing");
    fstat(fd, &st);
    OK(st.st_size == 0, "open: O_TRUNC emptied the file");
    write(fd, "0123456789", 10);
    close(fd);
    fd = T_OK(sys_open("a", O_WRONLY | O_APPEND, 0), "open: O_APPEND");
    write(fd, "X", 1);
    fstat(fd, &st);
    OK(st.st_size == 11, "open: O_APPEND writes at the end");
    close(fd);
    fd = T_OK(sys_open("a", O_RDONLY | O_CLOEXEC, 0), "open: O_CLOEXEC");
    T_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "open: FD_CLOEXEC set");
    T_EQ(read(fd, buf, 4), 4, "open: the fd reads the file");
    OK(memcmp(buf, "0123", 4) == 0, "open: content read back");
    close(fd);
    fd = T_OK(sys_open(".", O_RDONLY | O_DIRECTORY, 0), "open: O_DIRECTORY on a directory");
    close(fd);
    fd = T_OK(sys_open("a", O_RDONLY | O_NOATIME, 0), "open: O_NOATIME as owner");
    close(fd);
    symlink("a", "lnk");
    symlink("loop1", "loop2");
    symlink("loop2", "loop1");
    symlink("missing-target", "dangling");
    T_ERR(sys_open("lnk", O_RDONLY | O_NOFOLLOW, 0), ELOOP, "open: O_NOFOLLOW on a symlink -> ELOOP");
    T_ERR(sys_open("loop1", O_RDONLY, 0), ELOOP, "open: symlink loop -> ELOOP");
    fd = T_OK(sys_open("lnk", O_RDONLY, 0), "open: follows a symlink");
    close(fd);
    fd = T_OK(sys_open("dangling", O_CREAT | O_WRONLY, 0600), "open: O_CREAT through a dangling symlink creates the target");
    close(fd);
    T_EQ(access("missing-target", F_OK), 0, "open: the dangling link's target now exists");
    T_ERR(sys_open("lnk", O_CREAT | O_EXCL | O_WRONLY, 0600), EEXIST, "open: O_CREAT|O_EXCL on a symlink -> EEXIST");
    mkdir("ro", 0555);
    T_EQ(sys_open("ro/new", O_CREAT | O_WRONLY, 0600) >= 0, 1, "open: root creates in a 0555 dir (CAP_DAC_OVERRIDE)");

    /* openat */
    mkdir("d", 0755);
    int dfd = T_OK(openat(AT_FDCWD, "d", O_RDONLY | O_DIRECTORY), "openat: AT_FDCWD, O_DIRECTORY");
    fd = T_OK(openat(dfd, "in", O_CREAT | O_RDWR, 0600), "openat: relative to a dir fd");
    close(fd);
    T_OK(access("d/in", F_OK), "openat: file created inside the dir");
    T_ERR(openat(-5, "in", O_RDONLY), EBADF, "openat: bad dirfd with relative path -> EBADF");
    T_ERR(openat(999, "in", O_RDONLY), EBADF, "openat: closed dirfd -> EBADF");
    int ffd = open("a", O_RDONLY);
    T_ERR(openat(ffd, "x", O_RDONLY), ENOTDIR, "openat: dirfd is a file -> ENOTDIR");
    fd = T_OK(openat(-5, "/", O_RDONLY), "openat: absolute path ignores dirfd");
    close(fd);
    fd = T_OK(openat(dfd, "..", O_RDONLY | O_DIRECTORY), "openat: .. of a dir fd");
    fstat(fd, &st);
    struct stat cw;
    stat(".", &cw);
    OK(st.st_ino == cw.st_ino && st.st_dev == cw.st_dev, "openat: .. is the parent directory");
    close(fd);
    T_ERR(openat(dfd, "missing", O_RDONLY), ENOENT, "openat: missing -> ENOENT");
    T_ERR(openat(dfd, BADPTR, O_RDONLY), EFAULT, "openat: bad path -> EFAULT");
    T_ERR(openat(AT_FDCWD, "a", O_WRONLY | O_DIRECTORY), ENOTDIR, "openat: O_DIRECTORY|O_WRONLY on a file -> ENOTDIR");

    /* creat (SYS_creat) */
    fd = T_OK(sys_creat("c", 0600), "creat: creates");
    T_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_WRONLY, "creat: opens write-only");
    write(fd, "12345", 5);
    close(fd);
    fd = sys_creat("c", 0600);
    fstat(fd, &st);
    OK(st.st_size == 0, "creat: truncates an existing file");
    close(fd);
    T_ERR(sys_creat("d", 0600), EISDIR, "creat: a directory -> EISDIR");
    T_ERR(sys_creat("missing/c", 0600), ENOENT, "creat: missing parent -> ENOENT");
    T_ERR(sys_creat(BADPTR, 0600), EFAULT, "creat: bad pointer -> EFAULT");
    T_ERR(sys_creat(longname, 0600), ENAMETOOLONG, "creat: long name -> ENAMETOOLONG");

    /* O_TMPFILE */
    fd = T_OK(open(".", O_RDWR | O_TMPFILE, 0600), "openat: O_TMPFILE in a directory");
    fstat(fd, &st);
    OK(st.st_nlink == 0, "openat: O_TMPFILE file has no name");
    T_EQ(linkat(fd, "", AT_FDCWD, "named", AT_EMPTY_PATH), 0, "linkat: AT_EMPTY_PATH gives an O_TMPFILE file a name");
    fstat(fd, &st);
    OK(st.st_nlink == 1, "linkat: the O_TMPFILE file has one link now");
    close(fd);
    T_ERR(open("a", O_RDWR | O_TMPFILE, 0600), ENOTDIR, "openat: O_TMPFILE on a file -> ENOTDIR");
    T_ERR(open(".", O_RDONLY | O_TMPFILE, 0600), EINVAL, "openat: O_TMPFILE read-only -> EINVAL");

    /* openat2 */
    struct open_how how = {.flags = O_RDONLY};
    fd = T_OK(openat2_(AT_FDCWD, "a", &how, sizeof how), "openat2: plain open");
    close(fd);
    how.resolve = RESOLVE_BENEATH;
    T_ERR(openat2_(dfd, "../a", &how, sizeof how), EXDEV, "openat2: RESOLVE_BENEATH with .. -> EXDEV");
    T_ERR(openat2_(dfd, "/etc", &how, sizeof how), EXDEV, "openat2: RESOLVE_BENEATH absolute -> EXDEV");
    fd = T_OK(openat2_(dfd, "in", &how, sizeof how), "openat2: RESOLVE_BENEATH inside");
    close(fd);
    how.resolve = RESOLVE_NO_SYMLINKS;
    T_ERR(openat2_(AT_FDCWD, "lnk", &how, sizeof how), ELOOP, "openat2: RESOLVE_NO_SYMLINKS -> ELOOP");
    how.resolve = RESOLVE_IN_ROOT;
    fd = T_OK(openat2_(dfd, "/in", &how, sizeof how), "openat2: RESOLVE_IN_ROOT treats dirfd as /");
    close(fd);
    fd = T_OK(openat2_(dfd, "../../../in", &how, sizeof how), "openat2: RESOLVE_IN_ROOT clamps ..");
    close(fd);
    how.resolve = RESOLVE_NO_XDEV;
    fd = T_OK(openat2_(dfd, "in", &how, sizeof how), "openat2: RESOLVE_NO_XDEV on one filesystem");
    close(fd);
    how.resolve = RESOLVE_BENEATH | RESOLVE_IN_ROOT;
    T_ERR(openat2_(dfd, "in", &how, sizeof how), EINVAL, "openat2: BENEATH|IN_ROOT -> EINVAL");
    how.resolve = 0x80000000ull;
    T_ERR(openat2_(AT_FDCWD, "a", &how, sizeof how), EINVAL, "openat2: unknown resolve flag -> EINVAL");
    how.resolve = 0;
    how.mode = 0644;
    T_ERR(openat2_(AT_FDCWD, "a", &how, sizeof how), EINVAL, "openat2: mode without O_CREAT -> EINVAL");
    how.mode = 0;
    how.flags = 1ull << 40;
    T_ERR(openat2_(AT_FDCWD, "a", &how, sizeof how), EINVAL, "openat2: unknown open flag -> EINVAL");
    how.flags = O_CREAT | O_WRONLY;
    how.mode = 0600;
    fd = T_OK(openat2_(dfd, "made2", &how, sizeof how), "openat2: O_CREAT with a mode");
    fstat(fd, &st);
    OK((st.st_mode & 0777) == 0600, "openat2: mode applied");
    close(fd);
    how.flags = O_RDONLY;
    how.mode = 0;
    T_ERR(openat2_(AT_FDCWD, "a", &how, 8), EINVAL, "openat2: size too small -> EINVAL");
    struct { struct open_how h; unsigned long long extra; } big = {{.flags = O_RDONLY}, 0};
    fd = T_OK(openat2_(AT_FDCWD, "a", &big.h, sizeof big), "openat2: larger struct with zero tail");
    close(fd);
    big.extra = 1;
    T_ERR(openat2_(AT_FDCWD, "a", &big.h, sizeof big), E2BIG, "openat2: non-zero tail -> E2BIG");
    T_ERR(openat2_(AT_FDCWD, "a", BADPTR, sizeof how), EFAULT, "openat2: bad how pointer -> EFAULT");
    T_ERR(openat2_(AT_FDCWD, BADPTR, &how, sizeof how), EFAULT, "openat2: bad path pointer -> EFAULT");
    T_ERR(openat2_(AT_FDCWD, "missing", &how, sizeof how), ENOENT, "openat2: missing -> ENOENT");

    /* umask: every create applies the caller's (umask 002 keeps group write). */
    mode_t old_mask = umask(002);
    int uf = openat(AT_FDCWD, "um-file", O_CREAT | O_EXCL | O_WRONLY, 0666);
    OK(uf >= 0 && fstat(uf, &st) == 0 && (st.st_mode & 0777) == 0664, "umask 002: open(O_CREAT, 0666) makes 0664");
    close(uf);
    T_EQ(mkdir("um-dir", 0777), 0, "umask 002: mkdir");
    OK(stat("um-dir", &st) == 0 && (st.st_mode & 0777) == 0775, "umask 002: mkdir 0777 makes 0775");
    T_EQ(mknod("um-fifo", S_IFIFO | 0666, 0), 0, "umask 002: mknod of a FIFO");
    OK(stat("um-fifo", &st) == 0 && (st.st_mode & 0777) == 0664, "umask 002: the FIFO is 0664");
    int us = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un ua = {.sun_family = AF_UNIX};
    strcpy(ua.sun_path, "um-sock");
    T_EQ(bind(us, (struct sockaddr *)&ua, sizeof ua), 0, "umask 002: bind of an AF_UNIX path");
    OK(lstat("um-sock", &st) == 0 && (st.st_mode & 0777) == 0775, "umask 002: the socket file is 0775");
    close(us);
    /* A child's umask is its own: the parent's creates keep the parent's. */
    fflush(stdout);
    pid_t masker = fork();
    if (masker == 0) {
        umask(077);
        int cf = open("um-child", O_CREAT | O_WRONLY, 0666);
        _exit(cf >= 0 && fstat(cf, &st) == 0 && (st.st_mode & 0777) == 0600 ? 0 : 1);
    }
    int mst = -1;
    waitpid(masker, &mst, 0);
    OK(WIFEXITED(mst) && WEXITSTATUS(mst) == 0, "umask 077 in a child: its open(O_CREAT, 0666) makes 0600");
    int pf = open("um-parent", O_CREAT | O_WRONLY, 0666);
    OK(pf >= 0 && fstat(pf, &st) == 0 && (st.st_mode & 0777) == 0664,
       "umask 002 in the parent after the child's: open(O_CREAT, 0666) still makes 0664");
    close(pf);
    unlink("um-child");
    unlink("um-parent");
    umask(old_mask);
    unlink("um-file");
    rmdir("um-dir");
    unlink("um-fifo");
    unlink("um-sock");

    /* O_PATH */
    fd = T_OK(sys_open("a", O_PATH, 0), "open: O_PATH on a file");
    T_ERR(read(fd, buf, 1), EBADF, "read: O_PATH fd -> EBADF");
    T_EQ(fstat(fd, &st), 0, "fstat: on an O_PATH fd");
    close(fd);
    fd = T_OK(sys_open("lnk", O_PATH | O_NOFOLLOW, 0), "open: O_PATH|O_NOFOLLOW opens the link itself");
    T_EQ(fstatat(fd, "", &st, AT_EMPTY_PATH), 0, "newfstatat: AT_EMPTY_PATH on an O_PATH symlink fd");
    OK(S_ISLNK(st.st_mode), "newfstatat: the O_PATH fd is the symlink");
    T_EQ(readlinkat(fd, "", buf, sizeof buf), 1, "readlinkat: empty path on an O_PATH symlink fd");
    close(fd);
    close(ffd);
    close(dfd);
    return tap_done();
}
