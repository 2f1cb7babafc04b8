/* File I/O on descriptors: read(2), write(2), pread/pwrite, vectored I/O, lseek(2), dup*(2),
 * fcntl(2), close(2), close_range(2), pipe2(2), ftruncate(2), fsync(2), sendfile(2), splice(2),
 * copy_file_range(2), fallocate(2), flock(2). */
#include "tap.h"
#include <linux/close_range.h>
#include <limits.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/time.h>
#include <sys/uio.h>

static volatile sig_atomic_t got_alarm;
static void on_alarm(int s) { (void)s; got_alarm++; }

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    char buf[256];
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);

    /* write(2) / read(2) */
    T_EQ(write(fd, "hello world", 11), 11, "write: 11 bytes to a regular file");
    T_EQ(write(fd, "", 0), 0, "write: zero length returns 0");
    T_ERR(write(-1, "x", 1), EBADF, "write: fd -1 -> EBADF");
    T_ERR(write(fd, BADPTR, 4), EFAULT, "write: bad buffer -> EFAULT");
    int rofd = open("f", O_RDONLY);
    T_ERR(write(rofd, "x", 1), EBADF, "write: fd opened O_RDONLY -> EBADF");
    T_EQ(read(rofd, buf, sizeof buf), 11, "read: whole file");
    OK(memcmp(buf, "hello world", 11) == 0, "read: content matches what was written");
    T_EQ(read(rofd, buf, sizeof buf), 0, "read: at EOF returns 0");
    T_EQ(read(rofd, BADPTR, 4), 0, "read: bad buffer at EOF returns 0 (nothing copied)");
    lseek(rofd, 0, SEEK_SET);
    T_ERR(read(rofd, BADPTR, 4), EFAULT, "read: bad buffer with data pending -> EFAULT");
    T_ERR(read(9999, buf, 1), EBADF, "read: unused fd -> EBADF");
    int wofd = open("f", O_WRONLY);
    T_ERR(read(wofd, buf, 1), EBADF, "read: fd opened O_WRONLY -> EBADF");
    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    T_ERR(read(dfd, buf, 1), EISDIR, "read: on a directory -> EISDIR");

    /* pread64 / pwrite64 */
    T_EQ(pread(fd, buf, 5, 6), 5, "pread64: 5 bytes at offset 6");
    OK(memcmp(buf, "world", 5) == 0, "pread64: content at offset");
    T_EQ(lseek(fd, 0, SEEK_CUR), 11, "pread64: file offset unchanged");
    T_ERR(pread(fd, buf, 1, -1), EINVAL, "pread64: negative offset -> EINVAL");
    int p[2];
    pipe(p);
    T_ERR(pread(p[0], buf, 1, 0), ESPIPE, "pread64: on a pipe -> ESPIPE");
    T_EQ(pwrite(fd, "W", 1, 6), 1, "pwrite64: one byte at offset 6");
    pread(fd, buf, 11, 0);
    OK(memcmp(buf, "hello World", 11) == 0, "pwrite64: content updated in place");
    T_ERR(pwrite(fd, "x", 1, -5), EINVAL, "pwrite64: negative offset -> EINVAL");
    T_ERR(pwrite(p[1], "x", 1, 0), ESPIPE, "pwrite64: on a pipe -> ESPIPE");

    /* readv / writev / preadv / pwritev / preadv2 / pwritev2 */
    struct iovec iov[3] = {{"ab", 2}, {"cde", 3}, {"f", 1}};
    int vfd = open("v", O_RDWR | O_CREAT | O_TRUNC, 0644);
    T_EQ(writev(vfd, iov, 3), 6, "writev: three buffers gathered");
    char a[2], b[4];
    struct iovec riov[2] = {{a, 2}, {b, 4}};
    lseek(vfd, 0, SEEK_SET);
    T_EQ(readv(vfd, riov, 2), 6, "readv: scatter into two buffers");
    OK(memcmp(a, "ab", 2) == 0 && memcmp(b, "cdef", 4) == 0, "readv: scatter order");
    T_ERR(writev(vfd, iov, -1), EINVAL, "writev: negative iovcnt -> EINVAL");
    T_ERR(readv(vfd, riov, IOV_MAX + 1), EINVAL, "readv: iovcnt > IOV_MAX -> EINVAL");
    T_ERR(readv(vfd, BADPTR, 2), EFAULT, "readv: bad iovec pointer -> EFAULT");
    T_EQ(writev(vfd, iov, 0), 0, "writev: iovcnt 0 returns 0");
    T_EQ(pwritev(vfd, iov, 1, 10), 2, "pwritev: at offset 10");
    T_EQ(preadv(vfd, riov, 1, 10), 2, "preadv: at offset 10");
    OK(memcmp(a, "ab", 2) == 0, "preadv: content");
    T_EQ(pwritev2(vfd, iov, 1, 0, 0), 2, "pwritev2: flags 0 behaves as pwritev");
    T_ERR(pwritev2(vfd, iov, 1, 0, 0x7fffff00), EOPNOTSUPP, "pwritev2: unknown flags -> EOPNOTSUPP");
    T_EQ(preadv2(vfd, riov, 1, 0, 0), 2, "preadv2: flags 0 behaves as preadv");
    T_ERR(preadv2(vfd, riov, 1, 0, 0x7fffff00), EOPNOTSUPP, "preadv2: unknown flags -> EOPNOTSUPP");

    /* lseek(2) */
    T_EQ(lseek(fd, 0, SEEK_END), 11, "lseek: SEEK_END gives the size");
    T_EQ(lseek(fd, -3, SEEK_CUR), 8, "lseek: SEEK_CUR relative");
    T_ERR(lseek(fd, -100, SEEK_SET), EINVAL, "lseek: negative result -> EINVAL");
    T_ERR(lseek(fd, 0, 42), EINVAL, "lseek: bad whence -> EINVAL");
    T_ERR(lseek(p[0], 0, SEEK_SET), ESPIPE, "lseek: on a pipe -> ESPIPE");
    T_ERR(lseek(-1, 0, SEEK_SET), EBADF, "lseek: bad fd -> EBADF");
    T_EQ(lseek(fd, 100, SEEK_SET), 100, "lseek: past EOF allowed");
    T_EQ(lseek(fd, 0, SEEK_DATA), 0, "lseek: SEEK_DATA at 0");
    T_ERR(lseek(fd, 200, SEEK_DATA), ENXIO, "lseek: SEEK_DATA past EOF -> ENXIO");

    /* dup / dup2 / dup3 */
    int d = T_OK(dup(fd), "dup: returns a new fd");
    OK(d > fd, "dup: lowest free number above the used ones");
    T_ERR(dup(-1), EBADF, "dup: bad fd -> EBADF");
    T_EQ(dup2(fd, 100), 100, "dup2: to a chosen number");
    T_EQ(dup2(fd, fd), fd, "dup2: same fd returns it");
    T_ERR(dup2(-1, 101), EBADF, "dup2: bad oldfd -> EBADF");
    T_ERR(dup2(fd, -1), EBADF, "dup2: negative newfd -> EBADF");
    T_EQ(dup3(fd, 102, O_CLOEXEC), 102, "dup3: with O_CLOEXEC");
    T_EQ(fcntl(102, F_GETFD), FD_CLOEXEC, "dup3: FD_CLOEXEC set on the new fd");
    T_ERR(dup3(fd, fd, 0), EINVAL, "dup3: oldfd == newfd -> EINVAL");
    T_ERR(dup3(fd, 103, 0x4), EINVAL, "dup3: bad flags -> EINVAL");
    lseek(fd, 3, SEEK_SET);
    T_EQ(lseek(100, 0, SEEK_CUR), 3, "dup2: duplicates share the file offset");

    /* fcntl(2) */
    T_EQ(fcntl(fd, F_GETFD), 0, "fcntl: F_GETFD is 0 after open without O_CLOEXEC");
    T_EQ(fcntl(fd, F_SETFD, FD_CLOEXEC), 0, "fcntl: F_SETFD");
    T_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC, "fcntl: F_GETFD sees FD_CLOEXEC");
    T_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR, "fcntl: F_GETFL access mode");
    T_EQ(fcntl(fd, F_SETFL, O_APPEND), 0, "fcntl: F_SETFL O_APPEND");
    OK(fcntl(fd, F_GETFL) & O_APPEND, "fcntl: F_GETFL sees O_APPEND");
    T_EQ(fcntl(fd, F_DUPFD, 200), 200, "fcntl: F_DUPFD at least 200");
    T_EQ(fcntl(fd, F_DUPFD_CLOEXEC, 200), 201, "fcntl: F_DUPFD_CLOEXEC next free");
    T_ERR(fcntl(fd, 0x7fff), EINVAL, "fcntl: unknown command -> EINVAL");
    T_ERR(fcntl(-1, F_GETFD), EBADF, "fcntl: bad fd -> EBADF");
    T_ERR(fcntl(fd, F_DUPFD, -1), EINVAL, "fcntl: F_DUPFD negative -> EINVAL");
    T_EQ(fcntl(p[1], F_GETPIPE_SZ), 65536, "fcntl: F_GETPIPE_SZ default 64 KiB");
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 5};
    T_EQ(fcntl(fd, F_SETLK, &fl), 0, "fcntl: F_SETLK write lock");
    fl.l_type = F_RDLCK;
    T_EQ(fcntl(fd, F_GETLK, &fl), 0, "fcntl: F_GETLK");
    OK(fl.l_type == F_UNLCK, "fcntl: F_GETLK own lock does not conflict");
    T_ERR(fcntl(fd, F_SETLK, BADPTR), EFAULT, "fcntl: F_SETLK bad pointer -> EFAULT");

    /* close / close_range */
    T_EQ(close(d), 0, "close: open fd");
    T_ERR(close(d), EBADF, "close: already closed -> EBADF");
    T_ERR(close(-1), EBADF, "close: -1 -> EBADF");
    T_EQ(syscall(SYS_close_range, 200, 210, 0), 0, "close_range: closes 200..210");
    T_ERR(fcntl(200, F_GETFD), EBADF, "close_range: fd 200 is closed");
    T_ERR(fcntl(201, F_GETFD), EBADF, "close_range: fd 201 is closed");
    T_EQ(syscall(SYS_close_range, 100, 100, CLOSE_RANGE_CLOEXEC), 0, "close_range: CLOSE_RANGE_CLOEXEC");
    T_EQ(fcntl(100, F_GETFD), FD_CLOEXEC, "close_range: CLOEXEC set, fd still open");
    T_ERR(syscall(SYS_close_range, 10, 5, 0), EINVAL, "close_range: first > last -> EINVAL");
    T_ERR(syscall(SYS_close_range, 0, 5, 0x80000000u), EINVAL, "close_range: bad flags -> EINVAL");

    /* pipe / pipe2 */
    int q[2];
    T_EQ(pipe2(q, O_CLOEXEC | O_NONBLOCK), 0, "pipe2: O_CLOEXEC|O_NONBLOCK");
    OK(fcntl(q[0], F_GETFL) & O_NONBLOCK, "pipe2: O_NONBLOCK on the read end");
    T_ERR(read(q[0], buf, 1), EAGAIN, "read: empty non-blocking pipe -> EAGAIN");
    T_ERR(pipe2(q, 0x1), EINVAL, "pipe2: bad flags -> EINVAL");
    T_ERR(pipe2(BADPTR, 0), EFAULT, "pipe2: bad pointer -> EFAULT");
    T_ERR(syscall(SYS_pipe, BADPTR), EFAULT, "pipe: bad pointer -> EFAULT");
    write(p[1], "xyz", 3);
    T_EQ(read(p[0], buf, 10), 3, "read: pipe returns what is available");
    close(q[0]);
    signal(SIGPIPE, SIG_IGN);
    T_ERR(write(q[1], "x", 1), EPIPE, "write: pipe without reader -> EPIPE");
    close(q[1]);

    /* EINTR: a blocking read is interrupted by a handled signal (signal(7): no SA_RESTART). */
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 2000}, {0, 2000}};
    setitimer(ITIMER_REAL, &it, NULL);
    T_ERR(read(p[0], buf, 1), EINTR, "read: empty pipe interrupted by a signal -> EINTR");
    struct itimerval zero = {0};
    setitimer(ITIMER_REAL, &zero, NULL);
    OK(got_alarm > 0, "read: the handler ran before EINTR");

    /* ftruncate / fsync / fdatasync / fallocate / fadvise / sync_file_range / syncfs */
    fcntl(fd, F_SETFL, 0);
    T_EQ(ftruncate(fd, 4), 0, "ftruncate: shrink to 4");
    struct stat st;
    fstat(fd, &st);
    OK(st.st_size == 4, "ftruncate: size is 4");
    T_EQ(ftruncate(fd, 4096), 0, "ftruncate: grow to 4096");
    T_ERR(ftruncate(fd, -1), EINVAL, "ftruncate: negative -> EINVAL");
    T_ERR(ftruncate(rofd, 0), EINVAL, "ftruncate: fd not open for writing -> EINVAL");
    T_ERR(ftruncate(p[0], 0), EINVAL, "ftruncate: on a pipe -> EINVAL");
    T_EQ(fsync(fd), 0, "fsync: regular file");
    T_ERR(fsync(-1), EBADF, "fsync: bad fd -> EBADF");
    T_ERR(fsync(p[0]), EINVAL, "fsync: on a pipe -> EINVAL");
    T_EQ(fdatasync(fd), 0, "fdatasync: regular file");
    T_EQ(fallocate(fd, 0, 0, 8192), 0, "fallocate: extend to 8192");
    fstat(fd, &st);
    OK(st.st_size == 8192, "fallocate: size is 8192");
    T_ERR(fallocate(fd, 0, -1, 10), EINVAL, "fallocate: negative offset -> EINVAL");
    T_ERR(fallocate(rofd, 0, 0, 10), EBADF, "fallocate: read-only fd -> EBADF");
    T_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) == 0, 1, "fadvise64: SEQUENTIAL");
    T_EQ(syscall(SYS_fadvise64, fd, 0, 0, 99), -1, "fadvise64: bad advice -> -1");
    T_EQ(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE), 0, "sync_file_range: WRITE");
    T_ERR(sync_file_range(fd, 0, 0, 0x100), EINVAL, "sync_file_range: bad flags -> EINVAL");
    T_EQ(syncfs(fd), 0, "syncfs: on a file fd");
    T_ERR(syncfs(-1), EBADF, "syncfs: bad fd -> EBADF");
    T_EQ(readahead(fd, 0, 4096), 0, "readahead: regular file");
    T_ERR(readahead(p[0], 0, 10), EINVAL, "readahead: on a pipe -> EINVAL");

    /* flock(2) */
    T_EQ(flock(fd, LOCK_EX), 0, "flock: LOCK_EX");
    int fd2 = open("f", O_RDWR);
    T_ERR(flock(fd2, LOCK_EX | LOCK_NB), EWOULDBLOCK, "flock: second open file -> EWOULDBLOCK");
    T_EQ(flock(fd, LOCK_UN), 0, "flock: LOCK_UN");
    T_EQ(flock(fd2, LOCK_SH | LOCK_NB), 0, "flock: LOCK_SH after unlock");
    T_ERR(flock(fd2, 0), EINVAL, "flock: no operation -> EINVAL");
    T_ERR(flock(-1, LOCK_SH), EBADF, "flock: bad fd -> EBADF");

    /* sendfile / copy_file_range / splice / tee */
    int src = open("src", O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(src, "0123456789", 10);
    int dst = open("dst", O_RDWR | O_CREAT | O_TRUNC, 0644);
    off_t off = 2;
    T_EQ(sendfile(dst, src, &off, 5), 5, "sendfile: 5 bytes from offset 2");
    OK(off == 7, "sendfile: offset advanced to 7");
    pread(dst, buf, 5, 0);
    OK(memcmp(buf, "23456", 5) == 0, "sendfile: content copied");
    T_ERR(sendfile(dst, -1, NULL, 5), EBADF, "sendfile: bad in_fd -> EBADF");
    T_ERR(sendfile(dst, src, BADPTR, 5), EFAULT, "sendfile: bad offset pointer -> EFAULT");
    loff_t o1 = 0, o2 = 0;
    T_EQ(copy_file_range(src, &o1, dst, &o2, 10, 0), 10, "copy_file_range: 10 bytes");
    T_ERR(copy_file_range(src, &o1, dst, &o2, 10, 1), EINVAL, "copy_file_range: flags != 0 -> EINVAL");
    int s2[2];
    pipe(s2);
    loff_t so = 0;
    T_EQ(splice(src, &so, s2[1], NULL, 4, 0), 4, "splice: file -> pipe");
    T_EQ(tee(s2[0], p[1], 4, SPLICE_F_NONBLOCK), 4, "tee: pipe -> pipe duplicates 4 bytes");
    T_EQ(read(s2[0], buf, 10), 4, "splice: pipe has the 4 bytes");
    OK(memcmp(buf, "0123", 4) == 0, "splice: content");
    T_ERR(splice(src, NULL, dst, NULL, 4, 0), EINVAL, "splice: neither end a pipe -> EINVAL");
    T_ERR(tee(s2[0], fd, 4, 0), EINVAL, "tee: out not a pipe -> EINVAL");

    return tap_done();
}
