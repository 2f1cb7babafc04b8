// conformance: ns
/* Reopening a task's fds through /proc/self/fd (proc(5)): an unlinked file and a memfd get a
 * new open file of the same inode, with its own offset and the access asked for; a pipe gives
 * its other end's data. Run natively with a /proc of its own (unshare --mount-proc). */
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
    return tap_done();
}
