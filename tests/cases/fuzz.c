// conformance: fuzz
/* The syscall fuzzer (issue 6, point 6): issues COUNT random x86_64 syscalls with random and
 * malformed arguments (bad pointers, huge lengths, random flags, random fds).
 *
 *   fuzz [COUNT [SEED]]      (defaults: 100000, a random seed; the seed is printed first)
 *
 * Syscall i is generated from (SEED, i) alone, so a run is replayable. The calls run in a worker
 * process; the parent only supervises: when a worker dies (e.g. it unmapped its own stack) or
 * makes no progress for 2 s (a blocking call), the parent starts a new worker at the next
 * index. Skipped: calls that would end the fuzzer itself (exit, exit_group, rt_sigreturn,
 * execve/execveat, signals aimed at its own process, group or parent), process creation
 * (fork/vfork/clone/clone3: the fuzzer stays one task) and calls that sleep by design
 * (pause, nanosleep, waits, poll/select, futex). Resource limits (file size 64 MiB, address
 * space 2 GiB, no core files) keep a run from filling the disk or the memory.
 * Only ever run under the sentry, as an unprivileged user (the runner does that). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct shared {
    volatile uint64_t next;   /* index the worker is about to issue */
    volatile uint64_t issued; /* calls issued in total */
};

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static char *buf;        /* a valid, writable 64 KiB buffer */
static const char *paths[32];
static int npaths;

static uint64_t arg(uint64_t *s)
{
    uint64_t r = splitmix(s);
    switch (r % 16) {
    case 0: return 0;
    case 1: return (uint64_t)-1;
    case 2: return r >> 58;                       /* small: 0..63 (fds, flags, sizes) */
    case 3: return 0x10;                          /* unmapped */
    case 4: return 0xffffffffff600000ull;         /* kernel half */
    case 5: return (uint64_t)buf + ((r >> 20) % 60000); /* valid memory */
    case 6: return (uint64_t)paths[(r >> 8) % npaths];
    case 7: return (uint64_t)1 << ((r >> 8) % 64); /* one bit: flags */
    case 8: return 0xffffffffull;
    case 9: return (uint64_t)1 << 62;             /* huge length */
    case 10: return (r >> 8) & 0xffff;            /* medium */
    case 11: return (uint64_t)buf;
    case 12: return r & 0x7fffffff;
    case 13: return (uint64_t)-4096 + ((r >> 8) % 4096);
    default: return r;                            /* anything */
    }
}

static int skip(long nr, uint64_t *a, pid_t self, pid_t parent)
{
    switch (nr) {
    /* would end the fuzzer */
    case SYS_exit: case SYS_exit_group: case SYS_rt_sigreturn:
    case SYS_execve: case SYS_execveat:
    /* process creation: keep one task */
    case SYS_fork: case SYS_vfork: case SYS_clone: case SYS_clone3:
    /* sleep or wait by design */
    case SYS_pause: case SYS_nanosleep: case SYS_clock_nanosleep: case SYS_rt_sigsuspend:
    case SYS_wait4: case SYS_waitid: case SYS_rt_sigtimedwait: case SYS_futex:
    case SYS_poll: case SYS_ppoll: case SYS_select: case SYS_pselect6:
    case SYS_epoll_wait: case SYS_epoll_pwait: case SYS_epoll_pwait2:
    case SYS_semop: case SYS_semtimedop: case SYS_msgrcv: case SYS_msgsnd:
    case SYS_mq_timedreceive: case SYS_mq_timedsend: case SYS_futex_waitv:
    case SYS_vhangup: case SYS_sched_yield:
        return 1;
    case SYS_kill: case SYS_tkill: case SYS_rt_sigqueueinfo: case SYS_pidfd_send_signal:
    case SYS_pidfd_open: case SYS_process_madvise:
        return (pid_t)a[0] <= 0 || (pid_t)a[0] == self || (pid_t)a[0] == parent;
    case SYS_tgkill: case SYS_rt_tgsigqueueinfo:
        return (pid_t)a[0] <= 0 || (pid_t)a[0] == self || (pid_t)a[0] == parent ||
               (pid_t)a[1] == self || (pid_t)a[1] == parent;
    default:
        return 0;
    }
}

static void worker(struct shared *sh, uint64_t seed, uint64_t start, uint64_t count, pid_t parent)
{
    /* No terminal I/O can block or garble: 0, 1, 2 are /dev/null. */
    int dn = open("/dev/null", O_RDWR);
    dup2(dn, 0);
    dup2(dn, 1);
    dup2(dn, 2);
    if (dn > 2)
        close(dn);
    for (int s = 1; s < 32; s++)
        signal(s, SIG_IGN); /* SIGPIPE, SIGXFSZ, SIGTTOU...: see errors instead */
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    pid_t self = getpid();
    for (uint64_t i = start; i < count; i++) {
        sh->next = i;
        uint64_t s = seed ^ (i * 0xd1342543de82ef95ull);
        long nr = splitmix(&s) % 460;
        uint64_t a[6];
        for (int k = 0; k < 6; k++)
            a[k] = arg(&s);
        sh->issued++;
        if (skip(nr, a, self, parent))
            continue;
        syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    }
    sh->next = count;
    _exit(0);
}

int main(int argc, char **argv)
{
    uint64_t count = argc > 1 ? strtoull(argv[1], NULL, 0) : 100000;
    uint64_t seed;
    if (argc > 2) {
        seed = strtoull(argv[2], NULL, 0);
    } else {
        int fd = open("/dev/urandom", O_RDONLY);
        if (fd < 0 || read(fd, &seed, sizeof seed) != sizeof seed)
            seed = 1;
        if (fd >= 0)
            close(fd);
    }
    printf("# fuzz seed=%llu count=%llu\n", (unsigned long long)seed, (unsigned long long)count);
    fflush(stdout);
    const char *d = getenv("CONFORMANCE_TMP");
    if (d) {
        mkdir(d, 0700);
        if (chdir(d) != 0)
            printf("# chdir work dir failed: %s\n", strerror(errno));
    }
    struct rlimit fs = {64 << 20, 64 << 20}, as = {2ull << 30, 2ull << 30}, core = {0, 0};
    setrlimit(RLIMIT_FSIZE, &fs);
    setrlimit(RLIMIT_AS, &as);
    setrlimit(RLIMIT_CORE, &core);
    buf = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t bs = seed;
    for (int i = 0; i < 65536; i += 8) {
        uint64_t v = splitmix(&bs);
        memcpy(buf + i, &v, 8);
    }
    static const char *fixed[] = {".", "/", "f", "d/x", "..", "../../../..", "/proc/self/mem",
                                  "/proc/self/fd/0", "/dev/null", "/etc/passwd", "/tmp", ""};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        paths[npaths++] = fixed[i];
    /* Extra targets from the runner (canary files outside the rootfs): path calls aim at them. */
    static char extra[4096];
    const char *fp = getenv("FUZZ_PATHS");
    if (fp && *fp) {
        snprintf(extra, sizeof extra, "%s", fp);
        static char up[16][512];
        int k = 0;
        for (char *t = strtok(extra, ":"); t && k < 8; t = strtok(NULL, ":"), k++) {
            paths[npaths++] = t;
            snprintf(up[k], sizeof up[k], "../../../../../../..%s", t);
            paths[npaths++] = up[k];
        }
    }
    struct shared *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        printf("not ok 1 - fuzz: no shared memory\n1..1\n");
        return 1;
    }
    uint64_t start = 0, crashes = 0, hangs = 0, workers = 0;
    pid_t me = getpid();
    while (start < count) {
        sh->next = start;
        fflush(stdout);
        pid_t w = fork();
        if (w < 0) {
            printf("not ok 1 - fuzz: fork failed: %s\n1..1\n", strerror(errno));
            return 1;
        }
        if (w == 0)
            worker(sh, seed, start, count, me);
        workers++;
        int pfd = (int)syscall(SYS_pidfd_open, w, 0);
        uint64_t last = sh->next;
        int st = 0, stalled = 0;
        for (;;) {
            struct pollfd p = {pfd, POLLIN, 0};
            int r = pfd >= 0 ? poll(&p, 1, 2000) : 1;
            if (r > 0 || (r < 0 && errno != EINTR))
                break;
            if (r == 0 && sh->next == last) { /* no progress for 2 s: a blocking call */
                kill(w, SIGKILL);
                hangs++;
                stalled = 1;
                break;
            }
            last = sh->next;
        }
        if (pfd >= 0)
            close(pfd);
        waitpid(w, &st, 0);
        if (!stalled && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
            crashes++; /* a signal, or an exit the fuzzed calls caused */
        start = sh->next + 1;
    }
    printf("# workers=%llu worker-deaths=%llu stalls=%llu\n", (unsigned long long)workers,
           (unsigned long long)crashes, (unsigned long long)hangs);
    printf("ok 1 - fuzz: %llu syscalls generated, the fuzzer survived\n1..1\n", (unsigned long long)count);
    return 0;
}
