/* escape_sigwait_race ROUNDS: a thread reads, all the while, the siginfo another thread's
 * sigtimedwait(SIGCHLD) fills for a child that exited. Every si_pid seen must be 0 or a
 * number fork returned in the sandbox, and every si_uid 0 (the sandbox's root): a host pid
 * or uid there, even for a moment before the sentry puts the siginfo in the sandbox's
 * terms, is an escape. Prints "sigwaits N" and exits 0, or names what it saw and exits 3. */
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

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: escape_sigwait_race ROUNDS\n");
        return 2;
    }
    long rounds = atol(argv[1]);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    /* Blocked before the watcher starts, so that it inherits the mask and SIGCHLD waits. */
    sigprocmask(SIG_BLOCK, &chld, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, watcher, NULL) != 0)
        return 1;
    struct timespec forever = {3600, 0};
    for (long i = 0; i < rounds; i++) {
        pid_t child = fork();
        if (child == 0)
            _exit(7);
        if (child < 0 || child >= MAX_PID)
            return 1;
        forked[child] = 1;
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
        if (waitpid(child, NULL, 0) != child)
            return 1;
    }
    running = 0;
    pthread_join(t, NULL);
    if (seen_pid || seen_uid) {
        printf("ESCAPE: a siginfo showed pid %d uid %d\n", seen_pid, seen_uid);
        return 3;
    }
    printf("sigwaits %ld\n", rounds);
    return 0;
}
