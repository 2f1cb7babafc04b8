/* Calls the sentry denies by design (DESIGN.md, invariants 3 and 4): io_uring, ptrace,
 * process_vm_*, bpf, perf_event_open, kexec, modules, handles, int 0x80 and x32 numbers, and
 * the priority-inheritance futex operations.
 * Each point prints what it OBSERVES ("-> fd", "-> 16 bytes", "-> errno=EPERM"): natively the
 * host's answer, under the sentry the denial. denied.expect-sentry declares the sentry's lines
 * ({deny} is the errno the sentry's table gives for that syscall). Every call here is harmless
 * natively: bad arguments, or effects confined to this process. */
#include "tap.h"
#include <linux/futex.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <linux/perf_event.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

static char obs[64];

/* Normalises a raw result: fd-returning calls say "fd", byte counts say "N bytes". */
static const char *seen(long r, int e, const char *ok_word)
{
    if (r == -1)
        snprintf(obs, sizeof obs, "errno=%s", tap_errname(e));
    else if (!strcmp(ok_word, "bytes"))
        snprintf(obs, sizeof obs, "%ld bytes", r);
    else
        snprintf(obs, sizeof obs, "%s", ok_word);
    return obs;
}

#define SEE(expr, word, ...)                                                        \
    do {                                                                            \
        errno = 0;                                                                  \
        long _r = (long)(expr);                                                     \
        int _e = errno;                                                             \
        tap_ok(1, __VA_ARGS__, seen(_r, _e, word));                                  \
    } while (0)

static long int80_getpid(void)
{
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
    return r;
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    struct io_uring_params up = {0};
    SEE(syscall(SYS_io_uring_setup, 4, &up), "fd", "io_uring_setup: 4 entries -> %s");
    SEE(syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0), "ok", "io_uring_enter: fd -1 -> %s");
    SEE(syscall(SYS_io_uring_register, -1, 0, NULL, 0), "ok", "io_uring_register: fd -1 -> %s");

    SEE(ptrace(PTRACE_PEEKUSER, 0x3ffffff0, 0, 0), "ok", "ptrace: PEEKUSER on a missing pid -> %s");
    fflush(stdout);
    pid_t c = fork();
    if (c == 0)
        _exit(ptrace(PTRACE_TRACEME, 0, 0, 0) == 0 ? 0 : errno);
    int st;
    waitpid(c, &st, 0);
    tap_ok(1, "ptrace: PTRACE_TRACEME in a child -> %s",
           WEXITSTATUS(st) == 0 ? "ok" : (snprintf(obs, sizeof obs, "errno=%s", tap_errname(WEXITSTATUS(st))), obs));

    char src[16] = "0123456789abcdef", dst[16];
    struct iovec l = {dst, 16}, r = {src, 16};
    SEE(process_vm_readv(getpid(), &l, 1, &r, 1, 0), "bytes", "process_vm_readv: own memory -> %s");
    struct iovec l2 = {src, 16}, r2 = {dst, 16};
    SEE(process_vm_writev(getpid(), &l2, 1, &r2, 1, 0), "bytes", "process_vm_writev: own memory -> %s");

    SEE(syscall(SYS_bpf, 0x7fff, NULL, 0), "ok", "bpf: unknown command -> %s");
    SEE(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), "fd", "perf_event_open: NULL attr -> %s");
    SEE(syscall(SYS_kexec_load, 0, 0, NULL, 0xdead0000UL), "ok", "kexec_load: bad flags -> %s");
    SEE(syscall(SYS_kexec_file_load, -1, -1, 0, "", 0xdead0000UL), "ok", "kexec_file_load: bad flags -> %s");
    SEE(syscall(SYS_init_module, NULL, 0, ""), "ok", "init_module: empty image -> %s");
    SEE(syscall(SYS_finit_module, -1, "", 0), "ok", "finit_module: fd -1 -> %s");
    SEE(syscall(SYS_delete_module, "conformance_no_such_module", O_NONBLOCK), "ok",
        "delete_module: missing module -> %s");
    struct { struct file_handle h; unsigned char b[128]; } fh = {.h.handle_bytes = 128};
    int mount_id;
    SEE(name_to_handle_at(AT_FDCWD, ".", &fh.h, &mount_id, 0), "ok", "name_to_handle_at: work dir -> %s");
    struct file_handle zero = {.handle_bytes = 0};
    SEE(open_by_handle_at(AT_FDCWD, &zero, O_RDONLY), "fd", "open_by_handle_at: empty handle -> %s");

    /* int 0x80: the i386 ABI. In a child, since a host without IA32 emulation kills it. */
    fflush(stdout);
    int pp[2];
    pipe(pp);
    c = fork();
    if (c == 0) {
        long v = int80_getpid();
        const char *w = v == getpid() ? "returns getpid()" : v == -ENOSYS ? "errno=ENOSYS" : "other";
        write(pp[1], w, strlen(w));
        _exit(0);
    }
    close(pp[1]);
    char ib[32] = {0};
    read(pp[0], ib, sizeof ib - 1);
    waitpid(c, &st, 0);
    if (WIFSIGNALED(st))
        snprintf(ib, sizeof ib, "killed by signal %d", WTERMSIG(st));
    tap_ok(1, "int80: getpid through int 0x80 -> %s", ib);
    /* x32: getpid with the x32 bit set. */
    SEE(syscall(39 | 0x40000000), "ok", "x32: getpid with the x32 bit -> %s");

    /* Priority-inheritance futexes: their owners are thread ids in the host's numbers. glibc
     * asks FUTEX_UNLOCK_PI whether the kernel has them before it makes such a mutex. */
    unsigned int word = 0;
    SEE(syscall(SYS_futex, &word, FUTEX_UNLOCK_PI, 0, NULL, NULL, 0), "ok",
        "futex: FUTEX_UNLOCK_PI of a free word -> %s");
    pthread_mutexattr_t attr;
    pthread_mutex_t mutex;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
    int made = pthread_mutex_init(&mutex, &attr);
    tap_ok(1, "futex: pthread_mutex_init of a PTHREAD_PRIO_INHERIT mutex -> %s",
           made == 0 ? "ok" : (snprintf(obs, sizeof obs, "errno=%s", tap_errname(made)), obs));
    return tap_done();
}
