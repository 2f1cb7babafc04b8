/* Record locks asked about: fcntl(2) F_GETLK and F_OFD_GETLK over locks another process
 * holds (named by the pid fork returned), the caller's own, and OFD locks (pid -1); ranges
 * from SEEK_SET, SEEK_CUR and SEEK_END, to the end of the file, backwards; what is written
 * back when nothing conflicts; and the errors. */
#include "tap.h"

static struct flock lock_of(short type, short whence, off_t start, off_t len)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = whence;
    fl.l_start = start;
    fl.l_len = len;
    return fl;
}

/* Whether fl reports a holder: its type, range from the start and pid. */
static int holds(const struct flock *fl, short type, off_t start, off_t len, pid_t pid)
{
    return fl->l_type == type && fl->l_whence == SEEK_SET && fl->l_start == start &&
           fl->l_len == len && fl->l_pid == pid;
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    char b[1];
    int ready[2], done[2];
    if (pipe(ready) != 0 || pipe(done) != 0)
        return tap_done();
    tap_write_file("locked", "0123456789abcdefghij");
    fflush(stdout);
    /* Another process: a write lock over 0-3, a read lock from 10 to the end. */
    pid_t holder = fork();
    if (holder == 0) {
        int fd = open("locked", O_RDWR);
        struct flock w = lock_of(F_WRLCK, SEEK_SET, 0, 4), r = lock_of(F_RDLCK, SEEK_SET, 10, 0);
        int ok = fcntl(fd, F_SETLK, &w) == 0 && fcntl(fd, F_SETLK, &r) == 0;
        if (write(ready[1], ok ? "l" : "x", 1) != 1 || read(done[0], b, 1) != 1)
            _exit(1);
        _exit(0);
    }
    OK(read(ready[0], b, 1) == 1 && b[0] == 'l', "fork: another process takes two locks");
    int fd = open("locked", O_RDWR);

    struct flock fl = lock_of(F_WRLCK, SEEK_SET, 0, 10);
    T_EQ(fcntl(fd, F_GETLK, &fl), 0, "fcntl: F_GETLK over another process's write lock");
    OK(holds(&fl, F_WRLCK, 0, 4, holder), "fcntl: F_GETLK names the write lock, its range and holder");

    fl = lock_of(F_RDLCK, SEEK_SET, 5, 5);
    fl.l_pid = 1234;
    T_EQ(fcntl(fd, F_GETLK, &fl), 0, "fcntl: F_GETLK of a read lock beside a write lock");
    OK(fl.l_type == F_UNLCK && fl.l_whence == SEEK_SET && fl.l_start == 5 && fl.l_len == 5 &&
           fl.l_pid == 1234,
       "fcntl: F_GETLK without a conflict writes F_UNLCK and leaves the rest");

    fl = lock_of(F_RDLCK, SEEK_SET, 12, 0);
    T_EQ(fcntl(fd, F_GETLK, &fl), 0, "fcntl: F_GETLK of a read lock over a read lock");
    OK(fl.l_type == F_UNLCK, "fcntl: F_GETLK: two read locks do not conflict");

    fl = lock_of(F_WRLCK, SEEK_SET, 12, 0);
    T_EQ(fcntl(fd, F_GETLK, &fl), 0, "fcntl: F_GETLK of a write lock to the end");
    OK(holds(&fl, F_RDLCK, 10, 0, holder), "fcntl: F_GETLK names a read lock to the end (l_len 0)");

    lseek(fd, 2, SEEK_SET);
    fl = lock_of(F_RDLCK, SEEK_CUR, 0, 1);
    T_EQ(fcntl(fd, F_GETLK, &fl), 0, "fcntl: F_GETLK from the file offset (SEEK_CUR)");
    OK(holds(&fl, F_WRLCK, 0, 4, holder), "fcntl: F_GETLK from SEEK_CUR finds the lock there");

    fl = lock_of(F_WRLCK, SEEK_END, -5, 0);
    T_EQ(fcntl(fd, F_GETLK, &fl), 0, "fcntl: F_GETLK from the end (SEEK_END)");
    OK(holds(&fl, F_RDLCK, 10, 0, holder), "fcntl: F_GETLK from SEEK_END finds the lock there");

    fl = lock_of(F_WRLCK, SEEK_SET, 4, -4);
    T_EQ(fcntl(fd, F_GETLK, &fl), 0, "fcntl: F_GETLK with a negative length");
    OK(holds(&fl, F_WRLCK, 0, 4, holder), "fcntl: F_GETLK: a negative length reaches back");

    struct flock own = lock_of(F_WRLCK, SEEK_SET, 5, 2);
    T_EQ(fcntl(fd, F_SETLK, &own), 0, "fcntl: F_SETLK of a lock of the caller's own");
    fl = lock_of(F_WRLCK, SEEK_SET, 5, 2);
    T_EQ(fcntl(fd, F_GETLK, &fl), 0, "fcntl: F_GETLK over the caller's own lock");
    OK(fl.l_type == F_UNLCK, "fcntl: F_GETLK: the caller's own lock does not conflict");

    fl = lock_of(F_UNLCK, SEEK_SET, 0, 1);
    T_ERR(fcntl(fd, F_GETLK, &fl), EINVAL, "fcntl: F_GETLK of F_UNLCK -> EINVAL");
    fl = lock_of(F_WRLCK, 7, 0, 1);
    T_ERR(fcntl(fd, F_GETLK, &fl), EINVAL, "fcntl: F_GETLK with a bad whence -> EINVAL");
    fl = lock_of(F_WRLCK, SEEK_SET, -1, 1);
    T_ERR(fcntl(fd, F_GETLK, &fl), EINVAL, "fcntl: F_GETLK before the start -> EINVAL");
    fl = lock_of(F_WRLCK, SEEK_SET, 2, -4);
    T_ERR(fcntl(fd, F_GETLK, &fl), EINVAL, "fcntl: F_GETLK reaching back before the start -> EINVAL");
    T_ERR(fcntl(fd, F_GETLK, BADPTR), EFAULT, "fcntl: F_GETLK bad pointer -> EFAULT");
    fl = lock_of(F_WRLCK, SEEK_SET, 0, 1);
    T_ERR(fcntl(-1, F_GETLK, &fl), EBADF, "fcntl: F_GETLK fd -1 -> EBADF");
    int path = open("locked", O_PATH);
    T_ERR(fcntl(path, F_GETLK, &fl), EBADF, "fcntl: F_GETLK on an O_PATH fd -> EBADF");

    /* OFD locks: owned by the open file, named by pid -1. */
    tap_write_file("ofd", "x");
    int o1 = open("ofd", O_RDWR), o2 = open("ofd", O_RDWR);
    struct flock ofd = lock_of(F_WRLCK, SEEK_SET, 40, 10);
    T_EQ(fcntl(o1, F_OFD_SETLK, &ofd), 0, "fcntl: F_OFD_SETLK on one open of a file");
    fl = lock_of(F_RDLCK, SEEK_SET, 45, 1);
    T_EQ(fcntl(o2, F_GETLK, &fl), 0, "fcntl: F_GETLK over an OFD lock of the same process");
    OK(holds(&fl, F_WRLCK, 40, 10, -1), "fcntl: F_GETLK names an OFD lock's holder as -1");
    fl = lock_of(F_RDLCK, SEEK_SET, 45, 1);
    T_EQ(fcntl(o1, F_GETLK, &fl), 0, "fcntl: F_GETLK through the open file that holds it");
    OK(holds(&fl, F_WRLCK, 40, 10, -1),
       "fcntl: F_GETLK: an OFD lock conflicts even through its own open file");
    fl = lock_of(F_RDLCK, SEEK_SET, 45, 1);
    T_EQ(fcntl(o2, F_OFD_GETLK, &fl), 0, "fcntl: F_OFD_GETLK over another open file's lock");
    OK(holds(&fl, F_WRLCK, 40, 10, -1), "fcntl: F_OFD_GETLK names it as -1");
    fl = lock_of(F_RDLCK, SEEK_SET, 45, 1);
    T_EQ(fcntl(o1, F_OFD_GETLK, &fl), 0, "fcntl: F_OFD_GETLK through the open file that holds it");
    OK(fl.l_type == F_UNLCK, "fcntl: F_OFD_GETLK: the open file's own lock does not conflict");
    struct flock posix = lock_of(F_WRLCK, SEEK_SET, 0, 2);
    T_EQ(fcntl(o2, F_SETLK, &posix), 0, "fcntl: F_SETLK beside the OFD lock");
    fl = lock_of(F_WRLCK, SEEK_SET, 0, 10);
    T_EQ(fcntl(o1, F_OFD_GETLK, &fl), 0, "fcntl: F_OFD_GETLK over the process's own POSIX lock");
    OK(holds(&fl, F_WRLCK, 0, 2, getpid()), "fcntl: F_OFD_GETLK names the process's own POSIX lock");
    int again = open("locked", O_RDWR);
    fl = lock_of(F_WRLCK, SEEK_SET, 0, 10);
    T_EQ(fcntl(again, F_OFD_GETLK, &fl), 0, "fcntl: F_OFD_GETLK over another process's lock");
    OK(holds(&fl, F_WRLCK, 0, 4, holder), "fcntl: F_OFD_GETLK names its holder by pid");
    fl = lock_of(F_WRLCK, SEEK_SET, 0, 1);
    fl.l_pid = 1;
    T_ERR(fcntl(o1, F_OFD_GETLK, &fl), EINVAL, "fcntl: F_OFD_GETLK with l_pid set -> EINVAL");
    T_ERR(fcntl(o1, F_OFD_GETLK, BADPTR), EFAULT, "fcntl: F_OFD_GETLK bad pointer -> EFAULT");
    fl = lock_of(F_WRLCK, SEEK_SET, 0, 1);
    T_ERR(fcntl(-1, F_OFD_GETLK, &fl), EBADF, "fcntl: F_OFD_GETLK fd -1 -> EBADF");

    if (write(done[1], "u", 1) != 1)
        tap_diag("could not release the holder");
    int st = 0;
    OK(waitpid(holder, &st, 0) == holder && tap_child_code(st) == 0, "waitpid: the holder ends");
    fl = lock_of(F_WRLCK, SEEK_SET, 0, 10);
    T_EQ(fcntl(again, F_OFD_GETLK, &fl), 0, "fcntl: F_OFD_GETLK after the holder ended");
    OK(holds(&fl, F_WRLCK, 5, 2, getpid()), "fcntl: its locks are gone, the caller's remain");
    close(again);
    close(o2);
    close(o1);
    close(path);
    close(fd);
    return tap_done();
}
