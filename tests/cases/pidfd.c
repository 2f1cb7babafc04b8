/* pidfds: pidfd_open(2), pidfd_send_signal(2), pidfd_getfd(2), waitid(P_PIDFD) and
 * clone(CLONE_PIDFD), on the case's own children. */
#include "tap.h"
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static long pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }
static long pidfd_getfd(int pidfd, int fd, unsigned flags)
{
    return syscall(SYS_pidfd_getfd, pidfd, fd, flags);
}
static long pidfd_send_signal(int pidfd, int sig, unsigned flags)
{
    return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags);
}

/* A child that holds `keep` open at fd 42, says so on `ready`, and waits until `hold`
 * reaches EOF. */
static pid_t holder(int keep, int hold_read, int hold_write, int ready)
{
    pid_t pid = fork();
    if (pid == 0) {
        close(hold_write);
        dup2(keep, 42);
        if (write(ready, "r", 1) != 1)
            _exit(2);
        char c;
        while (read(hold_read, &c, 1) > 0)
            ;
        _exit(7);
    }
    return pid;
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    int data[2], hold[2], ready[2];
    if (pipe(data) != 0 || pipe(hold) != 0 || pipe(ready) != 0)
        return 1;
    pid_t child = holder(data[1], hold[0], hold[1], ready[1]);
    close(hold[0]);
    char r;
    if (read(ready[0], &r, 1) != 1)
        return 1;

    /* pidfd_open */
    int pidfd = (int)T_OK(pidfd_open(child, 0), "pidfd_open: own child");
    T_ERR(pidfd_open(0x3ffffff0, 0), ESRCH, "pidfd_open: nonexistent pid -> ESRCH");
    T_ERR(pidfd_open(child, 1), EINVAL, "pidfd_open: unknown flag -> EINVAL");

    /* pidfd_getfd: the child's fd 42 is the pipe's write end */
    int got = (int)T_OK(pidfd_getfd(pidfd, 42, 0), "pidfd_getfd: child's fd");
    if (got >= 0) {
        OK(fcntl(got, F_GETFD) == FD_CLOEXEC, "pidfd_getfd: new fd is close-on-exec");
        T_EQ(write(got, "x", 1), 1, "pidfd_getfd: write through the duplicate");
        char c = 0;
        T_EQ(read(data[0], &c, 1), 1, "pidfd_getfd: read at the pipe's other end");
        OK(c == 'x', "pidfd_getfd: same pipe");
        close(got);
    }
    T_ERR(pidfd_getfd(pidfd, 42, 1), EINVAL, "pidfd_getfd: unknown flag -> EINVAL");
    T_ERR(pidfd_getfd(pidfd, 77, 0), EBADF, "pidfd_getfd: fd not open in the target -> EBADF");
    T_ERR(pidfd_getfd(data[0], 42, 0), EBADF, "pidfd_getfd: not a pidfd -> EBADF");
    T_ERR(pidfd_getfd(999, 42, 0), EBADF, "pidfd_getfd: closed fd -> EBADF");

    /* pidfd_send_signal, then waitid(P_PIDFD) */
    T_EQ(pidfd_send_signal(pidfd, 0, 0), 0, "pidfd_send_signal: signal 0 probes");
    T_ERR(pidfd_send_signal(pidfd, SIGTERM, 0x80), EINVAL, "pidfd_send_signal: unknown flag -> EINVAL");
    T_EQ(pidfd_send_signal(pidfd, SIGTERM, 0), 0, "pidfd_send_signal: SIGTERM");
    siginfo_t si = {0};
    T_EQ(waitid(P_PIDFD, pidfd, &si, WEXITED | WNOWAIT), 0, "waitid(P_PIDFD): WNOWAIT sees the child");
    OK(si.si_pid == child && si.si_code == CLD_KILLED && si.si_uid == getuid(),
       "waitid(P_PIDFD): WNOWAIT names it, its uid and CLD_KILLED");
    T_ERR(waitid(P_PIDFD, data[0], &si, WEXITED), EBADF, "waitid(P_PIDFD): not a pidfd -> EBADF");
    T_ERR(waitid(P_PIDFD, 999, &si, WEXITED), EBADF, "waitid(P_PIDFD): closed fd -> EBADF");
    si = (siginfo_t){0};
    T_EQ(waitid(P_PIDFD, pidfd, &si, WEXITED), 0, "waitid(P_PIDFD): reaps the child");
    OK(si.si_pid == child, "waitid(P_PIDFD): si_pid is the child's pid");
    OK(si.si_code == CLD_KILLED && si.si_status == SIGTERM, "waitid(P_PIDFD): killed by SIGTERM");
    T_ERR(pidfd_send_signal(pidfd, SIGTERM, 0), ESRCH, "pidfd_send_signal: reaped child -> ESRCH");
    T_ERR(pidfd_getfd(pidfd, 42, 0), ESRCH, "pidfd_getfd: reaped child -> ESRCH");
    close(pidfd);
    close(hold[1]);

    /* waitid by a pidfd that does not block (PIDFD_NONBLOCK is O_NONBLOCK) */
    int nb_hold[2];
    if (pipe(nb_hold) != 0)
        return 1;
    pid_t nb = fork();
    if (nb == 0) {
        close(nb_hold[1]);
        char c;
        while (read(nb_hold[0], &c, 1) > 0)
            ;
        _exit(5);
    }
    close(nb_hold[0]);
    int nbfd = (int)T_OK(pidfd_open(nb, O_NONBLOCK), "pidfd_open: PIDFD_NONBLOCK, own child");
    siginfo_t ni;
    memset(&ni, 0x5a, sizeof ni);
    T_ERR(waitid(P_PIDFD, nbfd, &ni, WEXITED), EAGAIN,
          "waitid(P_PIDFD): nonblocking, a running child -> EAGAIN");
    OK(ni.si_signo == 0 && ni.si_pid == 0 && ni.si_uid == 0,
       "waitid(P_PIDFD): nonblocking, EAGAIN leaves zeros in the siginfo");
    memset(&ni, 0x5a, sizeof ni);
    T_EQ(waitid(P_PIDFD, nbfd, &ni, WEXITED | WNOHANG), 0,
         "waitid(P_PIDFD): nonblocking with WNOHANG, a running child -> 0");
    OK(ni.si_signo == 0 && ni.si_pid == 0, "waitid(P_PIDFD): nonblocking with WNOHANG, zeros");
    T_ERR(waitid(P_PIDFD, nbfd, &ni, WEXITED | WNOWAIT), EAGAIN,
          "waitid(P_PIDFD): nonblocking WNOWAIT, a running child -> EAGAIN");
    T_ERR(waitid(P_PIDFD, nbfd, &ni, WSTOPPED), EAGAIN,
          "waitid(P_PIDFD): nonblocking WSTOPPED, a running child -> EAGAIN");
    T_ERR(waitid(P_PIDFD, nbfd, NULL, WEXITED), EAGAIN,
          "waitid(P_PIDFD): nonblocking with no siginfo, a running child -> EAGAIN");
    close(nb_hold[1]);
    siginfo_t zi = {0};
    T_EQ(waitid(P_PID, nb, &zi, WEXITED | WNOWAIT), 0, "waitid: WNOWAIT by pid waits for the end");
    memset(&ni, 0x5a, sizeof ni);
    T_EQ(waitid(P_PIDFD, nbfd, &ni, WEXITED | WNOWAIT), 0,
         "waitid(P_PIDFD): nonblocking WNOWAIT sees the ended child");
    OK(ni.si_pid == nb && ni.si_code == CLD_EXITED && ni.si_status == 5 && ni.si_uid == getuid(),
       "waitid(P_PIDFD): nonblocking WNOWAIT names it, its uid and status");
    memset(&ni, 0x5a, sizeof ni);
    T_EQ(waitid(P_PIDFD, nbfd, &ni, WEXITED), 0, "waitid(P_PIDFD): nonblocking, reaps the ended child");
    OK(ni.si_pid == nb && ni.si_code == CLD_EXITED && ni.si_status == 5 && ni.si_uid == getuid(),
       "waitid(P_PIDFD): nonblocking, its pid, uid and status");
    T_ERR(waitid(P_PIDFD, nbfd, &ni, WEXITED), ECHILD, "waitid(P_PIDFD): nonblocking, reaped -> ECHILD");
    close(nbfd);

    /* clone(CLONE_PIDFD): the pidfd comes back through parent_tid */
    int cpidfd = -1;
    long pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &cpidfd, 0, 0);
    if (pid == 0)
        _exit(3);
    OK(pid > 0 && cpidfd >= 0, "clone(CLONE_PIDFD): a pidfd of the child");
    siginfo_t ci = {0};
    T_EQ(waitid(P_PIDFD, cpidfd, &ci, WEXITED), 0, "waitid(P_PIDFD): the clone child");
    OK(ci.si_pid == pid && ci.si_code == CLD_EXITED && ci.si_status == 3,
       "waitid(P_PIDFD): its pid and exit status");
    return tap_done();
}
