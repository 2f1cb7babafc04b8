/* Growth of a memfd by the write family under --memory-limit 64M (issue 5): every path that
 * can grow a memfd is charged before the host runs it and fails with ENOMEM past the limit,
 * and the sandbox keeps running. Memfds live at fd 512 and above (dup, F_DUPFD and a reopen
 * through /proc keep them there); dup2 below, SCM_RIGHTS and io_submit writes of a memfd are
 * refused. Ordinary files are not affected. */
#include "prog.h"
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define MIB (1024UL * 1024UL)

static char chunk[MIB];

static unsigned long charged_now(void)
{
    struct sysinfo si;
    must(sysinfo(&si) == 0);
    return (si.totalram - si.freeram) * si.mem_unit;
}

/* Writes 1 MiB chunks until a write fails; returns the bytes written, errno set. */
static size_t fill(int fd)
{
    size_t done = 0;
    for (;;) {
        ssize_t n = write(fd, chunk, sizeof chunk);
        if (n <= 0)
            return done;
        done += (size_t)n;
        if (done > 256 * MIB) {
            errno = 0;
            return done;
        }
    }
}

static int send_fd(int sock, int fd)
{
    char byte = 'x';
    struct iovec iov = {&byte, 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

int main(void)
{
    unsigned long base = charged_now();
    int a = memfd_create("grow", MFD_CLOEXEC);
    must(a >= 0);
    check(a >= 512, "a memfd lives at fd 512 or above (%d)", a);

    errno = 0;
    size_t held = fill(a);
    check(errno == ENOMEM, "write(2) growth stops with ENOMEM (%s)", strerror(errno));
    check(held > 32 * MIB && held <= 64 * MIB, "after %zu MiB, within the limit", held / MIB);
    check(charged_now() <= 64 * MIB, "the charge stays within the limit");
    check(pwrite(a, chunk, 16, (off_t)(held - 16)) == 16, "overwriting inside the memfd works");

    errno = 0;
    check(pwrite(a, chunk, 16, (off_t)(100 * MIB)) < 0 && errno == ENOMEM,
          "pwrite beyond the limit: ENOMEM");
    struct iovec iov[64];
    for (int i = 0; i < 64; i++)
        iov[i] = (struct iovec){chunk, sizeof chunk};
    errno = 0;
    check(writev(a, iov, 64) < 0 && errno == ENOMEM, "writev beyond the limit: ENOMEM");
    errno = 0;
    check(pwritev2(a, iov, 64, -1, RWF_APPEND) < 0 && errno == ENOMEM,
          "pwritev2 appending beyond the limit: ENOMEM");

    /* A second name for the memfd, made each way, is at or above 512 and as limited. */
    int d = dup(a), f = fcntl(a, F_DUPFD_CLOEXEC, 3);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", a);
    int r = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
    check(d >= 512 && f >= 512 && r >= 512, "dup, F_DUPFD and a reopen stay at 512 or above (%d %d %d)",
          d, f, r);
    errno = 0;
    check(write(r, chunk, sizeof chunk) < 0 && errno == ENOMEM,
          "writing through the reopened fd beyond the limit: ENOMEM");
    errno = 0;
    check(dup2(a, 5) < 0 && errno == EPERM, "dup2 of a memfd below 512: EPERM");
    check(dup2(a, 700) == 700, "dup2 of a memfd to 700 works");
    check(dup2(0, 701) == 701 && close(701) == 0, "dup2 of another fd above 512 works");

    /* Copies into the memfd from a file and a pipe. */
    char tmp[] = "/tmp/memfd-write-XXXXXX";
    int src = mkstemp(tmp);
    must(src >= 0);
    unlink(tmp);
    for (int i = 0; i < 40; i++)
        must(write(src, chunk, sizeof chunk) == (ssize_t)sizeof chunk);
    check(1, "an ordinary file takes 40 MiB of writes");
    must(ftruncate(a, 32 * MIB) == 0 && lseek(a, 0, SEEK_END) == (off_t)(32 * MIB));
    off_t from = 0;
    errno = 0;
    check(sendfile(a, src, &from, 40 * MIB) < 0 && errno == ENOMEM,
          "sendfile of 40 MiB into the memfd: ENOMEM");
    from = 0;
    errno = 0;
    check(copy_file_range(src, &from, a, NULL, 40 * MIB, 0) < 0 && errno == ENOMEM,
          "copy_file_range of 40 MiB into the memfd: ENOMEM");
    from = 0;
    check(sendfile(a, src, &from, 4096) == 4096, "a small sendfile into the memfd works");
    int p[2];
    must(pipe(p) == 0);
    must(write(p[1], chunk, 4096) == 4096);
    check(splice(p[0], NULL, a, NULL, 1 << 30, 0) == 4096,
          "splice from a pipe reserves the pipe's worth, not the length asked");

    /* The memfd cannot leave through a socket or grow by asynchronous I/O. */
    int sv[2];
    must(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    errno = 0;
    check(send_fd(sv[0], a) < 0 && errno == EPERM, "SCM_RIGHTS of a memfd: EPERM");
    check(send_fd(sv[0], src) == 0, "SCM_RIGHTS of an ordinary file works");
    aio_context_t ctx = 0;
    must(syscall(SYS_io_setup, 4, &ctx) == 0);
    struct iocb cb = {.aio_lio_opcode = IOCB_CMD_PWRITE, .aio_fildes = (unsigned)a,
                      .aio_buf = (unsigned long)chunk, .aio_nbytes = 16};
    struct iocb *cbs[1] = {&cb};
    errno = 0;
    check(syscall(SYS_io_submit, ctx, 1, cbs) < 0 && errno == EINVAL,
          "io_submit writing to a memfd: EINVAL");
    syscall(SYS_io_destroy, ctx);

    /* A child inherits the memfd at the same number and the same limit. */
    pid_t c = fork();
    if (c == 0) {
        errno = 0;
        _exit(writev(a, iov, 64) < 0 && errno == ENOMEM ? 0 : 1);
    }
    int status;
    must(waitpid(c, &status, 0) == c);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a child's write beyond the limit: ENOMEM");

    /* Shrinking makes room again; closing every name releases the charge. */
    check(ftruncate(a, 0) == 0 && write(a, chunk, sizeof chunk) == (ssize_t)sizeof chunk,
          "after shrinking, writes grow it again");
    close(d);
    close(f);
    close(r);
    close(700);
    close(a);
    unsigned long after = charged_now();
    check(after <= base + MIB, "closing every name releases the charge (%lu MiB before, %lu after)",
          base / MIB, after / MIB);
    return finish();
}
