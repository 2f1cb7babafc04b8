/* escape_wait_race ROUNDS [sigtimedwait|pidfd|stopped]: a thread reads, all the while, the
 * siginfo another thread's waitid(P_PID/P_ALL/P_PGID, WEXITED, with WNOWAIT first every other
 * round) fills for a child that exited; with "sigtimedwait", the siginfo of the child's
 * SIGCHLD that sigtimedwait or sigwaitinfo takes (already pending every other round) before
 * the child is reaped; with "pidfd", that of waitid by a pidfd that does not block (EAGAIN
 * until the child has ended, WNOWAIT first every other round); with "stopped", that of
 * waitid for the child's stop (WSTOPPED) and then its continue (WCONTINUED), without
 * WEXITED, WNOWAIT first every other round, blocking or WNOHANG until found every other
 * round. Every si_pid seen must be 0 or a number fork returned in the
 * sandbox, and every si_uid 0 (the sandbox's root): a host pid or uid there, even for a
 * moment before the sentry puts the siginfo in the sandbox's terms, is an escape. Prints
 * "waits N" and exits 0, or names what it saw and exits 3. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
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

/* The siginfo of waitid by a pidfd opened with PIDFD_NONBLOCK (O_NONBLOCK), asked until
 * the child has ended. */
static int wait_by_pidfd(long i, pid_t child)
{
    int fd = (int)syscall(SYS_pidfd_open, child, O_NONBLOCK);
    if (fd < 0) {
        printf("pidfd_open: errno %d\n", errno);
        return 1;
    }
    for (int nowait = i % 2; nowait >= 0; nowait--) {
        int options = WEXITED | (nowait ? WNOWAIT : 0);
        int rc;
        while ((rc = waitid((idtype_t)3, (id_t)fd, (siginfo_t *)&info, options)) != 0 &&
               errno == EAGAIN)
            ;
        if (rc != 0 || info.si_pid != child || info.si_status != 7) {
            printf("waitid by pidfd: wrong answer for child %d: rc %d pid %d status %d\n", child,
                   rc, info.si_pid, info.si_status);
            close(fd);
            return 1;
        }
    }
    close(fd);
    return 0;
}

/* waitid(which, id, WSTOPPED or WCONTINUED) until it reports `code` for the child, blocking
 * or asked again under WNOHANG. */
static int wait_event(long i, idtype_t which, id_t id, int options, pid_t child, int code,
                      int status)
{
    int rc;
    if (i % 4 < 2) {
        rc = waitid(which, id, (siginfo_t *)&info, options);
    } else {
        while ((rc = waitid(which, id, (siginfo_t *)&info, options | WNOHANG)) == 0 &&
               info.si_pid == 0)
            ;
    }
    if (rc != 0 || info.si_pid != child || info.si_code != code || info.si_status != status ||
        info.si_signo != SIGCHLD) {
        printf("waitid %#x: wrong answer for child %d: rc %d pid %d code %d status %d\n",
               options, child, rc, info.si_pid, info.si_code, info.si_status);
        return 1;
    }
    return 0;
}

/* The siginfo of waitid for a child's stop and then its continue, without WEXITED. */
static int wait_stopped(long i, pid_t child)
{
    idtype_t which = i % 3 == 0 ? P_ALL : i % 3 == 1 ? P_PID : P_PGID;
    id_t id = which == P_PGID ? 0 : (id_t)child;
    int nowait = i % 2 ? WNOWAIT : 0;
    if ((nowait && wait_event(i, which, id, WSTOPPED | WNOWAIT, child, CLD_STOPPED, SIGSTOP)) ||
        wait_event(i, which, id, WSTOPPED, child, CLD_STOPPED, SIGSTOP))
        return 1;
    kill(child, SIGCONT);
    if ((nowait &&
         wait_event(i, which, id, WCONTINUED | WNOWAIT, child, CLD_CONTINUED, SIGCONT)) ||
        wait_event(i, which, id, WCONTINUED, child, CLD_CONTINUED, SIGCONT))
        return 1;
    kill(child, SIGKILL);
    return waitpid(child, NULL, 0) == child ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *mode = argc == 3 ? argv[2] : "";
    int by_signal = strcmp(mode, "sigtimedwait") == 0;
    int by_pidfd = strcmp(mode, "pidfd") == 0;
    int stopped = strcmp(mode, "stopped") == 0;
    if (argc != 2 && !by_signal && !by_pidfd && !stopped) {
        fprintf(stderr, "usage: escape_wait_race ROUNDS [sigtimedwait|pidfd|stopped]\n");
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
        if (child == 0) {
            if (stopped) {
                raise(SIGSTOP);
                for (;;)
                    pause();
            }
            _exit(7);
        }
        if (child < 0 || child >= MAX_PID)
            return 1;
        forked[child] = 1;
        int failed = by_signal  ? take_sigchld(i, child)
                     : by_pidfd ? wait_by_pidfd(i, child)
                     : stopped  ? wait_stopped(i, child)
                                : wait_for(i, child);
        if (failed)
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
