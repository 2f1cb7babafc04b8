// conformance: ns
/* Reopening a task's fds through /proc/self/fd (proc(5)): an unlinked file and a memfd get a
 * new open file of the same inode, with its own offset and the access asked for; a pipe gives
 * its other end's data. lstat of /proc's links shows them as procfs does. Run natively with a
 * /proc of its own (unshare --mount-proc). */
#include "tap.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

static int reopen(int fd, int flags)
{
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    return open(self, flags);
}

/* lstat of a /proc link: its mode (type and permissions) and its size. */
static int link_is(const char *path, mode_t mode, off_t size)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (st.st_mode != mode || st.st_size != size)
        tap_diag("%s: mode %o size %lld", path, st.st_mode, (long long)st.st_size);
    return st.st_mode == mode && st.st_size == size;
}

/* Linux's procfs links: /proc/self, /proc/thread-self and a process's exe, cwd and root have
 * size 0; an fd link has size 64 and its owner's permissions by the fd's access mode. */
static void proc_links(void)
{
    OK(link_is("/proc/self", S_IFLNK | 0777, 0), "lstat: /proc/self is a link of size 0");
    OK(link_is("/proc/thread-self", S_IFLNK | 0777, 0),
       "lstat: /proc/thread-self is a link of size 0");
    OK(link_is("/proc/self/exe", S_IFLNK | 0777, 0), "lstat: /proc/self/exe is a link of size 0");
    OK(link_is("/proc/self/cwd", S_IFLNK | 0777, 0), "lstat: /proc/self/cwd is a link of size 0");
    OK(link_is("/proc/self/root", S_IFLNK | 0777, 0),
       "lstat: /proc/self/root is a link of size 0");

    int file = open("modes", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    T_EQ(write(file, "hello", 5), 5, "write: a file for the fd links");
    close(file);
    int ro = T_OK(open("modes", O_RDONLY), "open: the file O_RDONLY");
    int wo = T_OK(open("modes", O_WRONLY), "open: the file O_WRONLY");
    int rw = T_OK(open("modes", O_RDWR), "open: the file O_RDWR");
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", ro);
    OK(link_is(path, S_IFLNK | 0500, 64), "lstat: /proc/self/fd/N of O_RDONLY is lr-x------, 64");
    snprintf(path, sizeof path, "/proc/self/fd/%d", wo);
    OK(link_is(path, S_IFLNK | 0300, 64), "lstat: /proc/self/fd/N of O_WRONLY is l-wx------, 64");
    snprintf(path, sizeof path, "/proc/self/fd/%d", rw);
    OK(link_is(path, S_IFLNK | 0700, 64), "lstat: /proc/self/fd/N of O_RDWR is lrwx------, 64");
    snprintf(path, sizeof path, "/proc/self/task/%d/fd/%d", gettid(), wo);
    OK(link_is(path, S_IFLNK | 0300, 64),
       "lstat: /proc/self/task/T/fd/N of O_WRONLY is l-wx------, 64");

    struct stat st;
    snprintf(path, sizeof path, "/proc/self/fd/%d", ro);
    T_EQ(fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW), 0,
         "newfstatat: /proc/self/fd/N with AT_SYMLINK_NOFOLLOW");
    OK(st.st_mode == (S_IFLNK | 0500) && st.st_size == 64,
       "newfstatat: the link's mode and size, as lstat's");
    struct statx stx;
    snprintf(path, sizeof path, "/proc/self/fd/%d", rw);
    T_EQ(statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx), 0,
         "statx: /proc/self/fd/N with AT_SYMLINK_NOFOLLOW");
    OK(stx.stx_mode == (S_IFLNK | 0700) && stx.stx_size == 64,
       "statx: the link's mode and size, as lstat's");
    T_EQ(statx(AT_FDCWD, "/proc/self", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx), 0,
         "statx: /proc/self with AT_SYMLINK_NOFOLLOW");
    OK(stx.stx_mode == (S_IFLNK | 0777) && stx.stx_size == 0, "statx: /proc/self has size 0");
    snprintf(path, sizeof path, "/proc/self/fd/%d", ro);
    T_EQ(stat(path, &st), 0, "stat: /proc/self/fd/N of a file");
    OK(S_ISREG(st.st_mode) && st.st_size == 5, "stat: follows the link to the file");

    char want[4096 + 8], got[4096 + 8];
    OK(getcwd(want, 4096) != NULL, "getcwd: for the link's target");
    strcat(want, "/modes");
    ssize_t n = readlink(path, got, sizeof got - 1);
    got[n > 0 ? n : 0] = 0;
    OK(n > 0 && strcmp(got, want) == 0, "readlink: /proc/self/fd/N names the file");
    snprintf(want, sizeof want, "%d", getpid());
    n = readlink("/proc/self", got, sizeof got - 1);
    got[n > 0 ? n : 0] = 0;
    OK(n > 0 && strcmp(got, want) == 0, "readlink: /proc/self names the process");
    close(ro);
    close(wo);
    close(rw);
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    char buf[16];

    int gone = T_OK(open("gone", O_RDWR | O_CREAT | O_TRUNC, 0600), "open: a file to unlink");
    T_EQ(write(gone, "abc", 3), 3, "write: to the file");
    T_EQ(unlink("gone"), 0, "unlink: the open file");
    int fd = T_OK(reopen(gone, O_RDONLY), "open: /proc/self/fd/N of an unlinked file");
    OK(read(fd, buf, sizeof buf) == 3 && memcmp(buf, "abc", 3) == 0,
       "read: the reopen starts at offset 0");
    T_ERR(write(fd, "x", 1), EBADF, "write: the reopen is read-only, as asked");
    struct stat a, b;
    fstat(gone, &a);
    fstat(fd, &b);
    OK(a.st_ino == b.st_ino && b.st_nlink == 0, "fstat: the same unlinked inode");
    close(fd);
    close(gone);

    int mfd = T_OK(memfd_create("reopen", MFD_CLOEXEC), "memfd_create: to reopen");
    T_EQ(write(mfd, "xyz", 3), 3, "write: to the memfd");
    fd = T_OK(reopen(mfd, O_RDWR), "open: /proc/self/fd/N of a memfd");
    OK(read(fd, buf, sizeof buf) == 3 && memcmp(buf, "xyz", 3) == 0,
       "read: the reopened memfd from offset 0");
    T_EQ(write(fd, "!", 1), 1, "write: through the reopened memfd");
    OK(pread(mfd, buf, 4, 0) == 4 && memcmp(buf, "xyz!", 4) == 0, "pread: the memfd sees it");
    close(fd);
    close(mfd);

    int p[2];
    T_EQ(pipe(p), 0, "pipe: for a reopen");
    char self[64];
    struct stat ps;
    snprintf(self, sizeof self, "/proc/self/fd/%d", p[0]);
    T_EQ(stat(self, &ps), 0, "stat: /proc/self/fd/N of a pipe");
    OK(S_ISFIFO(ps.st_mode), "stat: follows the link to the pipe");
    T_EQ(lstat(self, &ps), 0, "lstat: /proc/self/fd/N of a pipe");
    OK(S_ISLNK(ps.st_mode), "lstat: the link itself");
    fd = T_OK(reopen(p[1], O_WRONLY), "open: /proc/self/fd/N of a pipe");
    T_EQ(write(fd, "q", 1), 1, "write: through the reopened pipe");
    OK(read(p[0], buf, 1) == 1 && buf[0] == 'q', "read: the pipe's data");
    close(fd);
    close(p[0]);
    close(p[1]);
    T_ERR(reopen(9999, O_RDONLY), ENOENT, "open: /proc/self/fd/N of a closed fd -> ENOENT");

    proc_links();
    return tap_done();
}
