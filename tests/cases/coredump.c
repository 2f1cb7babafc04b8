/* The core-dump bit: a process killed by a signal whose default action dumps core (signal(7):
 * SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU, SIGXFSZ, SIGSYS) has
 * WCOREDUMP set in its wait4(2) status, CLD_DUMPED as waitid(2)'s si_code and as the si_code
 * of its parent's SIGCHLD, when a core was written: RLIMIT_CORE is raised first, and the core
 * goes to this case's own directory (core(5)). A signal that only terminates sets no bit.
 * Natively the kernel writes a core file here; the sentry writes none and shows the bit. */
#include "tap.h"
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>

/* A child that dies of `sig` sent to itself (its default action restored, unblocked). */
static pid_t die_of(int sig)
{
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        signal(sig, SIG_DFL);
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        kill(getpid(), sig);
        _exit(99);
    }
    return c;
}

/* A child that dies of a real fault: a write through a null pointer. */
static pid_t fault(void)
{
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        signal(SIGSEGV, SIG_DFL);
        static volatile int *volatile nowhere = BADPTR;
        *nowhere = 1;
        _exit(99);
    }
    return c;
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
    T_EQ(setrlimit(RLIMIT_CORE, &unlimited), 0, "setrlimit: RLIMIT_CORE unlimited");

    static const struct {
        int sig;
        const char *name;
    } dumping[] = {
        {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"}, {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"},
        {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"}, {SIGSEGV, "SIGSEGV"}, {SIGXCPU, "SIGXCPU"},
        {SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"},
    };
    for (size_t i = 0; i < sizeof dumping / sizeof dumping[0]; i++) {
        int st = 0;
        pid_t c = die_of(dumping[i].sig);
        T_EQ(wait4(c, &st, 0, NULL), c, "wait4: reaps the child killed by %s", dumping[i].name);
        OK(WIFSIGNALED(st) && WTERMSIG(st) == dumping[i].sig && WCOREDUMP(st),
           "wait4: %s sets WCOREDUMP", dumping[i].name);
        if (!WCOREDUMP(st))
            tap_diag("status %#x", st);
    }

    int st = 0;
    pid_t c = fault();
    T_EQ(waitpid(c, &st, 0), c, "wait4: reaps the child that faulted");
    OK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV && WCOREDUMP(st),
       "wait4: a real SIGSEGV sets WCOREDUMP");

    static const struct {
        int sig;
        const char *name;
    } terminating[] = {{SIGTERM, "SIGTERM"}, {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}};
    for (size_t i = 0; i < sizeof terminating / sizeof terminating[0]; i++) {
        c = die_of(terminating[i].sig);
        T_EQ(waitpid(c, &st, 0), c, "wait4: reaps the child killed by %s", terminating[i].name);
        OK(WIFSIGNALED(st) && WTERMSIG(st) == terminating[i].sig && !WCOREDUMP(st),
           "wait4: %s sets no WCOREDUMP", terminating[i].name);
    }

    /* waitid: CLD_DUMPED and the signal; with WNOWAIT first, then for real. */
    siginfo_t si = {0};
    c = die_of(SIGABRT);
    T_EQ(waitid(P_PID, c, &si, WEXITED | WNOWAIT), 0, "waitid: WNOWAIT sees the dumped child");
    OK(si.si_code == CLD_DUMPED && si.si_status == SIGABRT,
       "waitid: WNOWAIT gives CLD_DUMPED and SIGABRT");
    si = (siginfo_t){0};
    T_EQ(waitid(P_PID, c, &si, WEXITED), 0, "waitid: reaps the dumped child");
    OK(si.si_code == CLD_DUMPED && si.si_status == SIGABRT && si.si_pid == c,
       "waitid: CLD_DUMPED, SIGABRT and the child's pid");
    si = (siginfo_t){0};
    c = die_of(SIGTERM);
    T_EQ(waitid(P_ALL, 0, &si, WEXITED), 0, "waitid: reaps a child killed by SIGTERM");
    OK(si.si_code == CLD_KILLED && si.si_status == SIGTERM, "waitid: CLD_KILLED for SIGTERM");

    /* The parent's SIGCHLD says CLD_DUMPED too. */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    c = die_of(SIGQUIT);
    si = (siginfo_t){0};
    T_EQ(sigwaitinfo(&chld, &si), SIGCHLD, "sigwaitinfo: SIGCHLD of the dumped child");
    OK(si.si_code == CLD_DUMPED && si.si_status == SIGQUIT && si.si_pid == c,
       "SIGCHLD: CLD_DUMPED, SIGQUIT and the child's pid");
    T_EQ(waitpid(c, &st, 0), c, "wait4: reaps it");
    OK(WCOREDUMP(st), "wait4: WCOREDUMP after the SIGCHLD");
    sigprocmask(SIG_UNBLOCK, &chld, NULL);

    /* A process that made itself not dumpable writes no core: no bit. */
    fflush(stdout);
    c = fork();
    if (c == 0) {
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        signal(SIGQUIT, SIG_DFL);
        kill(getpid(), SIGQUIT);
        _exit(99);
    }
    T_EQ(waitpid(c, &st, 0), c, "wait4: reaps the child that was not dumpable");
    OK(WIFSIGNALED(st) && WTERMSIG(st) == SIGQUIT && !WCOREDUMP(st),
       "wait4: PR_SET_DUMPABLE 0 -> SIGQUIT sets no WCOREDUMP");

    /* RLIMIT_CORE 1 writes no core, whatever core_pattern says (a file needs a page at
     * least; to a pipe, 1 is the kernel's mark of a recursive dump): no bit. A child lowers
     * its own limit. (0 and other limits below a page depend on core_pattern.) */
    static const rlim_t small[] = {1};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        fflush(stdout);
        c = fork();
        if (c == 0) {
            struct rlimit lim = {small[i], RLIM_INFINITY};
            setrlimit(RLIMIT_CORE, &lim);
            signal(SIGSEGV, SIG_DFL);
            kill(getpid(), SIGSEGV);
            _exit(99);
        }
        T_EQ(waitpid(c, &st, 0), c, "wait4: reaps the child with RLIMIT_CORE %lu",
             (unsigned long)small[i]);
        OK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV && !WCOREDUMP(st),
           "wait4: RLIMIT_CORE %lu -> SIGSEGV sets no WCOREDUMP", (unsigned long)small[i]);
    }
    return tap_done();
}
