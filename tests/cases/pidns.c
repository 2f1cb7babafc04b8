// conformance: ns
/* PID namespace: the first task is PID 1 with no parent in the namespace; children get small
 * PIDs; kill(2) and wait4(2) use namespace PIDs; /proc/self agrees. Run natively under
 * `unshare --pid --fork --mount-proc`. */
#include "tap.h"
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* pidfd_send_signal takes an fd of a process's /proc directory as a pidfd (and no other
 * directory of /proc). */
static void proc_dir_signals(void)
{
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    char dir[32];
    snprintf(dir, sizeof dir, "/proc/%d", child);
    int procfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    OK(procfd >= 0, "open /proc/<child> as a directory");
    T_EQ(syscall(SYS_pidfd_send_signal, procfd, 0, NULL, 0), 0,
         "pidfd_send_signal: signal 0 by the child's /proc fd");
    int root = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    T_ERR(syscall(SYS_pidfd_send_signal, root, 0, NULL, 0), EBADF,
          "pidfd_send_signal: an fd of /proc itself -> EBADF");
    close(root);
    T_EQ(syscall(SYS_pidfd_send_signal, procfd, SIGKILL, NULL, 0), 0,
         "pidfd_send_signal: SIGKILL by the child's /proc fd");
    int st = 0;
    OK(waitpid(child, &st, 0) == child && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
       "pidfd_send_signal: the child was killed by it");
    T_ERR(syscall(SYS_pidfd_send_signal, procfd, 0, NULL, 0), ESRCH,
          "pidfd_send_signal: by a reaped child's /proc fd -> ESRCH");
    close(procfd);
}

/* Forks a child that sends `sig` to PID 1 and exits; returns its PID once it is reaped. */
static pid_t child_signals_init(int sig)
{
    fflush(stdout);
    pid_t c = fork();
    if (c == 0)
        _exit(kill(1, sig) == 0 ? 0 : 1);
    int st;
    waitpid(c, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? c : -1;
}

/* Signals sent to a namespace's init: queued while blocked (sigtimedwait and signalfd take
 * them), discarded when init does not handle them. */
static void init_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    pid_t c = child_signals_init(SIGUSR1);
    OK(c > 1, "kill: a child signals PID 1");
    siginfo_t si;
    struct timespec zero = {0, 0};
    T_EQ(sigtimedwait(&set, &si, &zero), SIGUSR1, "rt_sigtimedwait: init takes a blocked signal it does not handle");
    OK(si.si_pid == c && si.si_code == SI_USER, "rt_sigtimedwait: the sender is the child, by its namespace PID");
    int sfd = signalfd(-1, &set, SFD_NONBLOCK);
    OK(sfd >= 0, "signalfd4: made");
    child_signals_init(SIGUSR2);
    struct signalfd_siginfo ssi;
    T_EQ(read(sfd, &ssi, sizeof ssi), (ssize_t)sizeof ssi, "signalfd4: init reads a blocked signal it does not handle");
    OK(ssi.ssi_signo == SIGUSR2 && ssi.ssi_code == SI_USER, "signalfd4: SIGUSR2 from a user");
    close(sfd);
    /* Left pending while blocked, then unblocked with its default action: init lives on. */
    child_signals_init(SIGUSR1);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    OK(1, "kill: a blocked signal init does not handle is discarded when unblocked");
    /* Its own write to a pipe nobody reads: EPIPE, and no SIGPIPE ends init. */
    int pp[2];
    pipe(pp);
    close(pp[0]);
    T_ERR(write(pp[1], "x", 1), EPIPE, "write: EPIPE to init, which SIGPIPE does not end");
    close(pp[1]);
    /* Not blocked and not handled: dropped when sent. */
    OK(child_signals_init(SIGTERM) > 1, "kill: SIGTERM to an init without a handler is dropped");
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    T_EQ(getpid(), 1, "getpid: the first task is PID 1");
    T_EQ(getppid(), 0, "getppid: PID 1 has parent 0 in its namespace");
    T_EQ(syscall(SYS_gettid), 1, "gettid: 1");
    char link[64] = {0};
    T_EQ(readlink("/proc/self", link, sizeof link), 1, "getpid: /proc/self links to \"1\"");
    OK(strcmp(link, "1") == 0, "getpid: /proc/self is 1");
    fflush(stdout);
    int pp[2];
    pipe(pp);
    pid_t c = fork();
    if (c == 0) {
        char b;
        read(pp[0], &b, 1);
        _exit(getppid() == 1 ? 0 : 1);
    }
    OK(c > 1 && c < 100, "fork: child PID is small (namespace numbering)");
    T_EQ(kill(c, 0), 0, "kill: the child's namespace PID reaches it");
    T_EQ(getpgid(c), getpgid(0), "getpgid: the child is in its parent's group");
    write(pp[1], "x", 1);
    int st;
    T_EQ(waitpid(c, &st, 0), c, "wait4: by namespace PID");
    OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "getppid: the child sees parent 1");
    T_ERR(kill(c, 0), ESRCH, "kill: reaped child -> ESRCH");
    /* Orphans are reparented to PID 1 (the namespace's init). */
    fflush(stdout);
    c = fork();
    if (c == 0) {
        pid_t g = fork();
        if (g == 0) {
            char b;
            read(pp[0], &b, 1);
            _exit(getppid() == 1 ? 0 : 1);
        }
        _exit(0);
    }
    waitpid(c, NULL, 0);
    write(pp[1], "y", 1);
    pid_t w = wait(&st);
    OK(w > 1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "wait4: an orphan is reparented to PID 1 and reaped by it");
    T_ERR(kill(12345, 0), ESRCH, "kill: a PID not in the namespace -> ESRCH");
    proc_dir_signals();
    init_signals();
    return tap_done();
}
