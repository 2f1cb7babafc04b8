/* signals: handlers run as natively.
 * - SIGUSR1 sent to self with kill() and raise() runs the handler (with SA_SIGINFO, si_pid is
 *   our pid for kill()); a blocked SIGUSR1 stays pending until unblocked.
 * - SIGALRM without SA_RESTART interrupts a read() blocked on an empty pipe: -1 EINTR. A
 *   repeating interval timer is used so that a tick landing before the read entered the kernel
 *   cannot make the test hang: the next tick interrupts the read.
 * - SIGALRM with SA_RESTART: the read is restarted and returns the byte a child writes when the
 *   handler, on the third tick, tells it to (each tick interrupts and restarts the read). */
#include "prog.h"
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

static volatile sig_atomic_t usr1_count, usr1_from, alrm_count;

static void on_usr1(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    if (sig == SIGUSR1) {
        usr1_count++;
        usr1_from = si->si_pid;
    }
}

static int go_fd = -1;

static void on_alrm(int sig)
{
    if (sig == SIGALRM)
        alrm_count++;
    /* In the SA_RESTART part: after a few ticks (each one interrupting and restarting the
     * blocked read), tell the child to send the byte the read is waiting for. */
    if (go_fd >= 0 && alrm_count == 3 && write(go_fd, "g", 1) != 1)
        _exit(4);
}

static void set_timer(long usec)
{
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_usec = usec;
    it.it_interval.tv_usec = usec;
    must(setitimer(ITIMER_REAL, &it, NULL) == 0);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    must(sigaction(SIGUSR1, &sa, NULL) == 0);

    must(kill(getpid(), SIGUSR1) == 0);
    check(usr1_count == 1 && usr1_from == getpid(), "SIGUSR1 from kill() handled (count %d)",
          (int)usr1_count);
    must(raise(SIGUSR1) == 0);
    check(usr1_count == 2, "SIGUSR1 from raise() handled (count %d)", (int)usr1_count);

    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    must(sigprocmask(SIG_BLOCK, &set, &old) == 0);
    must(raise(SIGUSR1) == 0);
    sigset_t pending;
    must(sigpending(&pending) == 0);
    check(usr1_count == 2 && sigismember(&pending, SIGUSR1), "blocked SIGUSR1 stays pending");
    must(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
    check(usr1_count == 3, "pending SIGUSR1 delivered on unblock (count %d)", (int)usr1_count);

    /* SIGALRM without SA_RESTART: EINTR. */
    struct sigaction sb;
    memset(&sb, 0, sizeof sb);
    sb.sa_handler = on_alrm;
    sb.sa_flags = 0;
    sigemptyset(&sb.sa_mask);
    must(sigaction(SIGALRM, &sb, NULL) == 0);
    int p[2];
    must(pipe(p) == 0);
    char c;
    set_timer(20000);
    errno = 0;
    ssize_t n = read(p[0], &c, 1);
    int err = errno;
    set_timer(0);
    check(n == -1 && err == EINTR && alrm_count >= 1, "SIGALRM interrupts read: %zd %s", n,
          strerror(err));

    /* SIGALRM with SA_RESTART: the read goes on and gets the byte the child sends. */
    sb.sa_flags = SA_RESTART;
    must(sigaction(SIGALRM, &sb, NULL) == 0);
    int go[2];
    must(pipe(go) == 0);
    pid_t child = fork();
    must(child >= 0);
    if (child == 0) {
        char g;
        close(go[1]);
        if (read(go[0], &g, 1) != 1)
            _exit(2);
        _exit(write(p[1], "x", 1) == 1 ? 0 : 3);
    }
    close(go[0]);
    alrm_count = 0;
    go_fd = go[1];
    set_timer(5000);
    n = read(p[0], &c, 1);
    int restarts = (int)alrm_count;
    set_timer(0);
    go_fd = -1;
    check(n == 1 && c == 'x' && restarts >= 3, "read restarted after SIGALRM with SA_RESTART (%zd, %d ticks)", n, restarts);
    int status = 0;
    must(waitpid(child, &status, 0) == child);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer child exited 0");
    printf("signals done\n");
    return finish();
}
