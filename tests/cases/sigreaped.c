/* The sender of a signal that is gone: si_pid and si_uid of a signal still name a sender that
 * exited and was reaped before the signal was taken (kill(2), sigqueue(3), SIGCHLD), whether
 * it is dequeued by rt_sigtimedwait(2) or delivered to an SA_SIGINFO handler. */
#include "tap.h"
#include <signal.h>

static volatile sig_atomic_t got_pid, got_uid, got_code, got_value;
static void handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    got_pid = si->si_pid;
    got_uid = si->si_uid;
    got_code = si->si_code;
    got_value = si->si_value.sival_int;
}

/* A child that sends `sig` to its parent (queued with `value` when value >= 0), then exits;
 * reaped before the parent looks at its signals. Its pid. */
static pid_t send_and_go(int sig, int value)
{
    pid_t parent = getpid();
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        if (value >= 0)
            sigqueue(parent, sig, (union sigval){.sival_int = value});
        else
            kill(parent, sig);
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    return c;
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    /* Handled, so that the signals reach even a namespace's init (the sentry runs the case as
     * its PID 1); blocked, so that they wait until the sender is reaped. */
    struct sigaction sa = {.sa_sigaction = handler, .sa_flags = SA_SIGINFO};
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGRTMIN, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &set, NULL);
    struct timespec zero = {0, 0};
    siginfo_t si;

    pid_t c = send_and_go(SIGUSR1, -1);
    /* The SIGCHLD of the child is pending too: take SIGUSR1 alone. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    si = (siginfo_t){0};
    T_EQ(sigtimedwait(&usr1, &si, &zero), SIGUSR1, "rt_sigtimedwait: SIGUSR1 of a reaped sender");
    OK(si.si_code == SI_USER && si.si_pid == c && si.si_uid == getuid(),
       "kill: si_pid and si_uid name the reaped sender");

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    si = (siginfo_t){0};
    T_EQ(sigtimedwait(&chld, &si, &zero), SIGCHLD, "rt_sigtimedwait: SIGCHLD of a reaped child");
    OK(si.si_code == CLD_EXITED && si.si_pid == c && si.si_uid == getuid(),
       "SIGCHLD: si_pid and si_uid name the reaped child");

    c = send_and_go(SIGUSR2, 42);
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    si = (siginfo_t){0};
    T_EQ(sigtimedwait(&usr2, &si, &zero), SIGUSR2, "rt_sigtimedwait: a sigqueue of a reaped sender");
    OK(si.si_code == SI_QUEUE && si.si_pid == c && si.si_uid == getuid() && si.si_value.sival_int == 42,
       "rt_sigqueueinfo: si_pid, si_uid and the value of the reaped sender");
    sigtimedwait(&chld, &si, &zero);

    /* A live sender's sigqueue names it too: its own words, which the kernel passes on. */
    pid_t parent = getpid();
    int go[2];
    pipe(go);
    fflush(stdout);
    c = fork();
    if (c == 0) {
        sigqueue(parent, SIGUSR2, (union sigval){.sival_int = 5});
        char b;
        read(go[0], &b, 1);
        _exit(0);
    }
    si = (siginfo_t){0};
    T_EQ(sigwaitinfo(&usr2, &si), SIGUSR2, "rt_sigtimedwait: a sigqueue of a live sender");
    OK(si.si_code == SI_QUEUE && si.si_pid == c && si.si_uid == getuid() && si.si_value.sival_int == 5,
       "rt_sigqueueinfo: si_pid, si_uid and the value of a live sender");
    write(go[1], "x", 1);
    waitpid(c, NULL, 0);
    sigtimedwait(&chld, &si, &zero);

    /* Delivered to the handler once unblocked, after the sender was reaped. */
    c = send_and_go(SIGUSR1, -1);
    sigtimedwait(&chld, &si, &zero);
    got_pid = got_uid = got_code = -1;
    sigprocmask(SIG_UNBLOCK, &usr1, NULL);
    OK(got_code == SI_USER && got_pid == c && got_uid == (int)getuid(),
       "kill: a handler's si_pid and si_uid name the reaped sender");
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    c = send_and_go(SIGUSR2, 7);
    sigtimedwait(&chld, &si, &zero);
    got_pid = got_uid = got_code = got_value = -1;
    sigprocmask(SIG_UNBLOCK, &usr2, NULL);
    OK(got_code == SI_QUEUE && got_pid == c && got_value == 7,
       "rt_sigqueueinfo: a handler's si_pid names the reaped sender");
    sigprocmask(SIG_BLOCK, &usr2, NULL);

    /* Many senders, each reaped, their real-time signals queued: each one names its own. */
    enum { SENDERS = 40 };
    pid_t kids[SENDERS];
    for (int i = 0; i < SENDERS; i++)
        kids[i] = send_and_go(SIGRTMIN, i);
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN);
    int named = 0;
    for (int i = 0; i < SENDERS; i++) {
        si = (siginfo_t){0};
        if (sigtimedwait(&rt, &si, &zero) != SIGRTMIN)
            break;
        int v = si.si_value.sival_int;
        if (v >= 0 && v < SENDERS && si.si_pid == kids[v] && si.si_uid == getuid())
            named++;
        else
            tap_diag("signal %d: value %d", i, v);
    }
    OK(named == SENDERS, "rt_sigqueueinfo: each of %d reaped senders is named in its signal",
       SENDERS);
    return tap_done();
}
