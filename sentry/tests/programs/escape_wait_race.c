/* escape_wait_race ROUNDS [sigtimedwait]: a thread reads, all the while, the siginfo
 * another thread's waitid(P_PID/P_ALL/P_PGID, WEXITED, with WNOWAIT first every other
 * round) fills for a child that exited; with "sigtimedwait", the siginfo of the child's
 * SIGCHLD that sigtimedwait or sigwaitinfo takes (already pending every other round) before
 * the child is reaped. Every si_pid seen must be 0 or a number fork returned in the
 * sandbox, and every si_uid 0 (the sandbox's root): a host pid or uid there, even for a
 * moment before the sentry puts the siginfo in the sandbox's terms, is an escape. Prints
 * "waits N" and exits 0, or names what it saw and exits 3. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PID (1 << 22)

static volatile siginfo_t info;
static unsigned char forked[MAX_PID];
static volatile int running = 1;
static volatile int seen_pid, seen_uid;

static void *watcher(void *unused)
{
    (void)unused;
    while (running) {
        int pid = info.si_pid;
        int uid = info.si_uid;
        if (pid < 0 || pid >= MAX_PID || (pid != 0 && !forked[pid]))
            seen_pid = pid;
        if (uid != 0)
            seen_uid = uid;
    }
    return NULL;
}

/* The siginfo of a child's SIGCHLD, taken by sigtimedwait or sigwaitinfo. */
static int take_sigchld(long i, pid_t child)
{
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    struct timespec forever = {3600, 0};
    /* Every other round the signal is already pending when the call starts. */
    if (i % 2)
        waitid(P_PID, child, NULL, WEXITED | WNOWAIT);
    int sig = i % 4 < 2 ? sigwaitinfo(&chld, (siginfo_t *)&info)
                        : sigtimedwait(&chld, (siginfo_t *)&info, &forever);
    if (sig != SIGCHLD || info.si_pid != child || info.si_status != 7) {
        printf("sigtimedwait: wrong answer %d for child %d: pid %d status %d\n", sig, child,
               info.si_pid, info.si_status);
        return 1;
    }
    return waitpid(child, NULL, 0) == child ? 0 : 1;
}

/* The siginfo of waitid, with WNOWAIT first every other round, by any child, the child's
 * number or the caller's group. */
static int wait_for(long i, pid_t child)
{
    idtype_t which = i % 3 == 0 ? P_ALL : i % 3 == 1 ? P_PID : P_PGID;
    id_t id = which == P_PGID ? 0 : (id_t)child;
    if (i % 2 && (waitid(which, id, (siginfo_t *)&info, WEXITED | WNOWAIT) != 0 ||
                  info.si_pid != child || info.si_status != 7)) {
        printf("waitid WNOWAIT: wrong answer for child %d: pid %d status %d\n", child,
               info.si_pid, info.si_status);
        return 1;
    }
    if (waitid(which, id, (siginfo_t *)&info, WEXITED) != 0 || info.si_pid != child ||
        info.si_status != 7) {
        printf("waitid: wrong answer for child %d: pid %d status %d\n", child, info.si_pid,
               info.si_status);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int by_signal = argc == 3 && strcmp(argv[2], "sigtimedwait") == 0;
    if (argc != 2 && !by_signal) {
        fprintf(stderr, "usage: escape_wait_race ROUNDS [sigtimedwait]\n");
        return 2;
    }
    long rounds = atol(argv[1]);
    if (by_signal) {
        /* Blocked before the watcher starts, so that it inherits the mask and SIGCHLD waits. */
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, NULL);
    }
    pthread_t t;
    if (pthread_create(&t, NULL, watcher, NULL) != 0)
        return 1;
    for (long i = 0; i < rounds; i++) {
        pid_t child = fork();
        if (child == 0)
            _exit(7);
        if (child < 0 || child >= MAX_PID)
            return 1;
        forked[child] = 1;
        if (by_signal ? take_sigchld(i, child) : wait_for(i, child))
            return 1;
    }
    running = 0;
    pthread_join(t, NULL);
    if (seen_pid || seen_uid) {
        printf("ESCAPE: a siginfo showed pid %d uid %d\n", seen_pid, seen_uid);
        return 3;
    }
    printf("waits %ld\n", rounds);
    return 0;
}
