/* Signals: rt_sigaction(2), rt_sigprocmask(2), kill(2), tgkill(2)/tkill, sigaltstack(2),
 * rt_sigpending(2), rt_sigtimedwait(2), rt_sigqueueinfo(2), rt_sigsuspend(2), signalfd4(2). */
#include "tap.h"
#include <signal.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/time.h>

static volatile sig_atomic_t got, got_info_code, on_alt;
static char altstack[1 << 16];
static void h(int s) { got = s; }
static void hinfo(int s, siginfo_t *si, void *uc)
{
    (void)uc;
    got = s;
    got_info_code = si->si_code;
    int local;
    on_alt = (char *)&local >= altstack && (char *)&local < altstack + sizeof altstack;
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    struct sigaction sa = {.sa_handler = h}, old;

    /* rt_sigaction */
    T_EQ(sigaction(SIGUSR1, &sa, NULL), 0, "rt_sigaction: install a handler");
    T_EQ(sigaction(SIGUSR1, NULL, &old), 0, "rt_sigaction: read it back");
    OK(old.sa_handler == h, "rt_sigaction: same handler");
    T_ERR(sigaction(SIGKILL, &sa, NULL), EINVAL, "rt_sigaction: SIGKILL -> EINVAL");
    T_ERR(sigaction(SIGSTOP, &sa, NULL), EINVAL, "rt_sigaction: SIGSTOP -> EINVAL");
    T_ERR(syscall(SYS_rt_sigaction, 0, NULL, NULL, 8), EINVAL, "rt_sigaction: signal 0 -> EINVAL");
    T_ERR(syscall(SYS_rt_sigaction, 65, NULL, NULL, 8), EINVAL, "rt_sigaction: signal 65 -> EINVAL");
    T_ERR(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &old, 4), EINVAL, "rt_sigaction: sigsetsize != 8 -> EINVAL");
    T_ERR(syscall(SYS_rt_sigaction, SIGUSR1, BADPTR, NULL, 8), EFAULT, "rt_sigaction: bad act -> EFAULT");
    T_EQ(syscall(SYS_rt_sigaction, SIGKILL, NULL, &old, 8), 0, "rt_sigaction: query SIGKILL allowed");

    /* kill / delivery */
    got = 0;
    T_EQ(kill(getpid(), SIGUSR1), 0, "kill: self with SIGUSR1");
    OK(got == SIGUSR1, "kill: handler ran before kill returned");
    T_EQ(kill(getpid(), 0), 0, "kill: signal 0 probes own pid");
    T_ERR(kill(getpid(), 999), EINVAL, "kill: bad signal -> EINVAL");
    T_ERR(kill(0x3ffffff0, 0), ESRCH, "kill: nonexistent pid -> ESRCH");
    signal(SIGUSR2, SIG_IGN);
    T_EQ(kill(getpid(), SIGUSR2), 0, "kill: ignored signal is discarded");

    /* tgkill / tkill */
    got = 0;
    T_EQ(syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1), 0, "tgkill: own thread");
    OK(got == SIGUSR1, "tgkill: delivered");
    T_ERR(syscall(SYS_tgkill, getpid(), 0x3ffffff0, SIGUSR1), ESRCH, "tgkill: wrong tid -> ESRCH");
    T_ERR(syscall(SYS_tgkill, getpid(), gettid(), 999), EINVAL, "tgkill: bad signal -> EINVAL");
    T_ERR(syscall(SYS_tgkill, -1, gettid(), SIGUSR1), EINVAL, "tgkill: tgid <= 0 -> EINVAL");
    got = 0;
    T_EQ(syscall(SYS_tkill, gettid(), SIGUSR1), 0, "tkill: own thread");
    OK(got == SIGUSR1, "tkill: delivered");
    T_ERR(syscall(SYS_tkill, 0, SIGUSR1), EINVAL, "tkill: tid 0 -> EINVAL");

    /* rt_sigprocmask / rt_sigpending */
    sigset_t set, oset, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    T_EQ(sigprocmask(SIG_BLOCK, &set, &oset), 0, "rt_sigprocmask: block SIGUSR1");
    got = 0;
    kill(getpid(), SIGUSR1);
    OK(got == 0, "rt_sigprocmask: blocked signal not delivered");
    T_EQ(sigpending(&pend), 0, "rt_sigpending: query");
    OK(sigismember(&pend, SIGUSR1), "rt_sigpending: SIGUSR1 pending");
    T_ERR(syscall(SYS_rt_sigpending, &pend, 16), EINVAL, "rt_sigpending: size > 8 -> EINVAL");
    T_ERR(syscall(SYS_rt_sigprocmask, 99, &set, NULL, 8), EINVAL, "rt_sigprocmask: bad how -> EINVAL");
    T_ERR(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, 4), EINVAL, "rt_sigprocmask: sigsetsize != 8 -> EINVAL");
    T_ERR(syscall(SYS_rt_sigprocmask, SIG_BLOCK, BADPTR, NULL, 8), EFAULT, "rt_sigprocmask: bad set -> EFAULT");
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    sigprocmask(SIG_BLOCK, NULL, &oset);
    OK(!sigismember(&oset, SIGKILL) && !sigismember(&oset, SIGSTOP), "rt_sigprocmask: SIGKILL/SIGSTOP cannot be blocked");
    sigprocmask(SIG_SETMASK, &set, NULL);

    /* rt_sigtimedwait */
    siginfo_t si;
    struct timespec z = {0, 0};
    T_EQ(sigtimedwait(&set, &si, &z), SIGUSR1, "rt_sigtimedwait: takes the pending SIGUSR1");
    OK(si.si_signo == SIGUSR1 && si.si_code == SI_USER, "rt_sigtimedwait: siginfo from kill is SI_USER");
    T_ERR(sigtimedwait(&set, &si, &z), EAGAIN, "rt_sigtimedwait: nothing pending, zero timeout -> EAGAIN");
    struct timespec bad = {0, 2000000000};
    T_ERR(sigtimedwait(&set, &si, &bad), EINVAL, "rt_sigtimedwait: bad timeout -> EINVAL");
    T_ERR(syscall(SYS_rt_sigtimedwait, &set, &si, &z, 4), EINVAL, "rt_sigtimedwait: bad sigsetsize -> EINVAL");

    /* rt_sigqueueinfo */
    siginfo_t qi = {0};
    qi.si_code = SI_QUEUE;
    qi.si_value.sival_int = 42;
    T_EQ(syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &qi), 0, "rt_sigqueueinfo: SI_QUEUE to self");
    T_EQ(sigtimedwait(&set, &si, &z), SIGUSR1, "rt_sigqueueinfo: received");
    OK(si.si_code == SI_QUEUE && si.si_value.sival_int == 42, "rt_sigqueueinfo: code and value carried");
    T_ERR(syscall(SYS_rt_sigqueueinfo, getpid(), 999, &qi), EINVAL, "rt_sigqueueinfo: bad signal -> EINVAL");
    T_ERR(syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, BADPTR), EFAULT, "rt_sigqueueinfo: bad info -> EFAULT");

    /* rt_sigsuspend: unblocks SIGUSR1 (already pending) and returns EINTR after the handler. */
    got = 0;
    kill(getpid(), SIGUSR1);
    sigset_t none;
    sigemptyset(&none);
    T_ERR(sigsuspend(&none), EINTR, "rt_sigsuspend: pending signal -> EINTR");
    OK(got == SIGUSR1, "rt_sigsuspend: handler ran");
    T_ERR(syscall(SYS_rt_sigsuspend, &none, 4), EINVAL, "rt_sigsuspend: bad sigsetsize -> EINVAL");

    /* signalfd4 / signalfd */
    int sfd = T_OK(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC), "signalfd4: new fd");
    struct signalfd_siginfo fi;
    T_ERR(read(sfd, &fi, sizeof fi), EAGAIN, "signalfd4: nothing pending -> EAGAIN");
    kill(getpid(), SIGUSR1);
    T_EQ(read(sfd, &fi, sizeof fi), (long)sizeof fi, "signalfd4: read one siginfo");
    OK(fi.ssi_signo == SIGUSR1, "signalfd4: signal number");
    T_ERR(read(sfd, &fi, 8), EINVAL, "signalfd4: short buffer -> EINVAL");
    T_ERR(signalfd(-1, &set, 0x1), EINVAL, "signalfd4: bad flags -> EINVAL");
    T_ERR(syscall(SYS_signalfd4, -1, &set, 4, 0), EINVAL, "signalfd4: bad sigsetsize -> EINVAL");
    T_ERR(signalfd(0, &set, 0), EINVAL, "signalfd4: fd not a signalfd -> EINVAL");
    int s2 = T_OK(syscall(SYS_signalfd, -1, &set, 8), "signalfd: legacy call");
    close(s2);
    close(sfd);

    /* sigaltstack */
    sigprocmask(SIG_SETMASK, &none, NULL);
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack}, os;
    T_EQ(sigaltstack(&ss, &os), 0, "sigaltstack: install");
    OK(os.ss_flags == SS_DISABLE, "sigaltstack: previously disabled");
    struct sigaction sa2 = {.sa_sigaction = hinfo, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    sigaction(SIGUSR1, &sa2, NULL);
    got = 0;
    raise(SIGUSR1);
    OK(got == SIGUSR1 && on_alt, "sigaltstack: SA_ONSTACK handler runs on the alternate stack");
    OK(got_info_code == SI_TKILL, "rt_sigaction: SA_SIGINFO handler sees si_code SI_TKILL from raise");
    stack_t small = {.ss_sp = altstack, .ss_size = 512};
    T_ERR(sigaltstack(&small, NULL), ENOMEM, "sigaltstack: size < MINSIGSTKSZ -> ENOMEM");
    stack_t badf = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0x7};
    T_ERR(sigaltstack(&badf, NULL), EINVAL, "sigaltstack: bad flags -> EINVAL");
    T_ERR(sigaltstack(BADPTR, NULL), EFAULT, "sigaltstack: bad pointer -> EFAULT");

    /* Default action: a child killed by SIGTERM shows it in its wait status. */
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        signal(SIGTERM, SIG_DFL);
        raise(SIGTERM);
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    OK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "kill: default action of SIGTERM terminates");

    /* The sender's uid, as the receiver knows it, in every siginfo. */
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigaddset(&usr2, SIGCHLD);
    sigprocmask(SIG_BLOCK, &usr2, NULL);
    sigaction(SIGUSR2, &sa2, NULL); /* handled, so that it reaches even a namespace's init */
    kill(getpid(), SIGUSR2);
    si = (siginfo_t){0};
    struct timespec zero = {0, 0};
    T_EQ(sigtimedwait(&usr2, &si, &zero), SIGUSR2, "rt_sigtimedwait: the pending SIGUSR2");
    OK(si.si_pid == getpid() && si.si_uid == getuid(), "kill: si_pid and si_uid name the sender");
    fflush(stdout);
    c = fork();
    if (c == 0)
        _exit(3);
    si = (siginfo_t){0};
    T_EQ(sigwaitinfo(&usr2, &si), SIGCHLD, "sigwaitinfo: SIGCHLD of an exited child");
    OK(si.si_pid == c && si.si_uid == getuid() && si.si_code == CLD_EXITED,
       "SIGCHLD: si_pid, si_uid and si_code name the child");
    si = (siginfo_t){0};
    T_EQ(waitid(P_PID, c, &si, WEXITED), 0, "waitid: reaps the child");
    OK(si.si_pid == c && si.si_uid == getuid() && si.si_status == 3,
       "waitid: si_pid, si_uid and si_status name the child");
    sigprocmask(SIG_UNBLOCK, &usr2, NULL);

    /* A signal the process ignores is discarded when it is sent: it ends no wait. */
    signal(SIGUSR1, SIG_IGN);
    sigset_t only_usr2;
    sigemptyset(&only_usr2);
    sigaddset(&only_usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &only_usr2, NULL);
    fflush(stdout);
    pid_t parent = getpid();
    c = fork();
    if (c == 0) {
        kill(parent, SIGUSR1);
        _exit(0);
    }
    struct timespec short_wait = {0, 200 * 1000 * 1000};
    T_ERR(sigtimedwait(&only_usr2, &si, &short_wait), EAGAIN,
          "rt_sigtimedwait: an ignored signal does not interrupt it -> EAGAIN at the timeout");
    waitpid(c, &st, 0);
    sigprocmask(SIG_UNBLOCK, &only_usr2, NULL);

    /* A sigtimedwait that blocks: woken by a signal of its set, interrupted by a handled one
     * outside it (whose own signals then stay pending), one signal per call, its timespec
     * left alone, and a siginfo it cannot write. */
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGUSR2);
    sigaddset(&both, SIGTERM);
    sigprocmask(SIG_BLOCK, &both, NULL);
    struct sigaction plain_usr1 = {.sa_handler = h};
    sigaction(SIGUSR1, &plain_usr1, NULL);
    fflush(stdout);
    c = fork();
    if (c == 0) {
        kill(parent, SIGTERM);
        _exit(0);
    }
    si = (siginfo_t){0};
    T_EQ(sigwaitinfo(&both, &si), SIGTERM, "rt_sigtimedwait: a blocking wait ends with its signal");
    OK(si.si_pid == c && si.si_code == SI_USER && si.si_uid == getuid(),
       "rt_sigtimedwait: its siginfo names the sender");
    waitpid(c, &st, 0);
    fflush(stdout);
    c = fork();
    if (c == 0) {
        kill(parent, SIGUSR1);
        _exit(0);
    }
    got = 0;
    T_ERR(sigwaitinfo(&both, &si), EINTR, "rt_sigtimedwait: a handled signal outside the set -> EINTR");
    OK(got == SIGUSR1, "rt_sigtimedwait: the handler ran");
    waitpid(c, &st, 0);
    kill(getpid(), SIGTERM);
    kill(getpid(), SIGUSR2);
    sigpending(&pend);
    OK(sigismember(&pend, SIGTERM) && sigismember(&pend, SIGUSR2), "rt_sigtimedwait: both pending");
    T_EQ(sigtimedwait(&both, &si, &zero), SIGUSR2, "rt_sigtimedwait: the lower signal first");
    sigpending(&pend);
    OK(sigismember(&pend, SIGTERM) && !sigismember(&pend, SIGUSR2),
       "rt_sigtimedwait: one signal per call, the other stays pending");
    T_EQ(sigtimedwait(&both, &si, &zero), SIGTERM, "rt_sigtimedwait: then the other");
    struct timespec tick = {0, 20 * 1000 * 1000};
    T_ERR(sigtimedwait(&both, &si, &tick), EAGAIN, "rt_sigtimedwait: a timeout -> EAGAIN");
    OK(tick.tv_sec == 0 && tick.tv_nsec == 20 * 1000 * 1000, "rt_sigtimedwait: its timespec is left alone");
    kill(getpid(), SIGUSR2);
    T_ERR(syscall(SYS_rt_sigtimedwait, &both, BADPTR, &zero, 8), EFAULT,
          "rt_sigtimedwait: a siginfo it cannot write -> EFAULT");
    sigpending(&pend);
    OK(!sigismember(&pend, SIGUSR2), "rt_sigtimedwait: the signal is taken all the same");
    sigprocmask(SIG_UNBLOCK, &both, NULL);

    /* Calls that do not block are never interrupted, even by a handler without SA_RESTART:
     * a child signals while the parent stats, opens, closes, maps, duplicates, seeks and asks
     * its ids (any failure of these counts). */
    sigaction(SIGUSR1, &plain_usr1, NULL);
    fflush(stdout);
    c = fork();
    if (c == 0) {
        for (int i = 0; i < 3000; i++)
            kill(parent, SIGUSR1);
        _exit(0);
    }
    int interrupted = 0, calls = 0;
    while (waitpid(c, &st, WNOHANG) == 0 || calls < 100) {
        struct stat sb;
        errno = 0;
        if (stat("/", &sb) != 0 && errno == EINTR)
            interrupted++;
        int fd = open("/", O_RDONLY | O_DIRECTORY);
        if (fd < 0 && errno == EINTR)
            interrupted++;
        if (fd >= 0) {
            if (lseek(fd, 0, SEEK_SET) != 0 || fstat(fd, &sb) != 0)
                interrupted++;
            int copy = dup(fd);
            if (copy < 0 || dup2(fd, copy) != copy || close(copy) != 0)
                interrupted++;
            if (close(fd) != 0)
                interrupted++;
        }
        void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED || mprotect(m, 4096, PROT_NONE) != 0 || munmap(m, 4096) != 0)
            interrupted++;
        if (getppid() < 0)
            interrupted++;
        calls++;
    }
    OK(interrupted == 0,
       "signals without SA_RESTART interrupt no stat, open, close, lseek, fstat, dup, mmap or getppid (%d)",
       interrupted);
    signal(SIGUSR1, SIG_DFL);
    return tap_done();
}
