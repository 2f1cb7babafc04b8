/* signalfd4(2), signalfd(2) and reads of a signalfd: read(2), readv(2), preadv2(2), poll(2)
 * readiness, a dup, fcntl(F_DUPFD_CLOEXEC), a new mask through signalfd4 on the fd, a
 * fork's child reading its own signals, and the ids a record gives (kill, sigqueue, a child's
 * exit). */
#include "tap.h"
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/uio.h>

static struct signalfd_siginfo si;

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int fd = T_OK(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC), "signalfd4: SIGUSR1 and SIGCHLD");
    OK((fcntl(fd, F_GETFD) & FD_CLOEXEC) && (fcntl(fd, F_GETFL) & O_NONBLOCK),
       "signalfd4: close-on-exec and non-blocking as asked");
    T_ERR(read(fd, &si, sizeof si), EAGAIN, "read: nothing pending -> EAGAIN");
    struct pollfd p = {fd, POLLIN, 0};
    T_EQ(poll(&p, 1, 0), 0, "poll: not readable with nothing pending");

    pid_t parent = getpid();
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        kill(parent, SIGUSR1);
        _exit(4);
    }
    /* Both signals come: the child's kill, then its exit. */
    p.revents = 0;
    T_EQ(poll(&p, 1, -1), 1, "poll: readable once a signal is pending");
    int blocking = fcntl(fd, F_GETFL) & ~O_NONBLOCK;
    T_EQ(fcntl(fd, F_SETFL, blocking), 0, "fcntl: the signalfd made blocking");
    int usr1 = 0, chld = 0;
    for (int i = 0; i < 2; i++) {
        memset(&si, 0, sizeof si);
        T_EQ(read(fd, &si, sizeof si), (long)sizeof si, "read: one record");
        if (si.ssi_signo == SIGUSR1)
            usr1 = si.ssi_pid == (unsigned)c && si.ssi_uid == getuid() && si.ssi_code == SI_USER;
        if (si.ssi_signo == SIGCHLD)
            chld = si.ssi_pid == (unsigned)c && si.ssi_uid == getuid() &&
                   si.ssi_code == CLD_EXITED && si.ssi_status == 4;
    }
    OK(usr1, "read: kill's record names the sender, its uid and SI_USER");
    OK(chld, "read: SIGCHLD's record names the child, its uid and its exit status");
    waitpid(c, NULL, 0);

    union sigval value = {.sival_int = 77};
    T_EQ(sigqueue(getpid(), SIGUSR1, value), 0, "rt_sigqueueinfo: to self");
    struct signalfd_siginfo split;
    struct iovec iov[2] = {{&split, 24}, {(char *)&split + 24, sizeof split - 24}};
    T_EQ(readv(fd, iov, 2), (long)sizeof split, "readv: one record over two iovecs");
    OK(split.ssi_signo == SIGUSR1 && split.ssi_code == SI_QUEUE && split.ssi_int == 77 &&
           split.ssi_pid == (unsigned)getpid(),
       "readv: sigqueue's record has its code, value and sender");
    struct iovec short_iov = {&si, 64};
    T_ERR(readv(fd, &short_iov, 1), EINVAL, "readv: less than a record -> EINVAL");
    raise(SIGUSR1);
    T_EQ(preadv2(fd, iov, 2, -1, 0), (long)sizeof split, "preadv2: at the file position");
    T_ERR(preadv2(fd, iov, 2, 0, 0), ESPIPE, "preadv2: at an offset -> ESPIPE");
    T_ERR(preadv2(fd, iov, 2, -1, RWF_NOWAIT), EAGAIN, "preadv2: RWF_NOWAIT, nothing pending -> EAGAIN");

    /* A dup reads the same queue; F_DUPFD keeps its floor. */
    int copy = T_OK(dup(fd), "dup: a signalfd");
    raise(SIGUSR1);
    T_EQ(read(copy, &si, sizeof si), (long)sizeof si, "read: through the dup");
    int high = T_OK(fcntl(fd, F_DUPFD_CLOEXEC, 100), "fcntl: F_DUPFD_CLOEXEC of a signalfd");
    OK(high >= 100 && (fcntl(high, F_GETFD) & FD_CLOEXEC), "fcntl: at or above 100, close-on-exec");
    close(copy);
    close(high);

    /* A new mask through signalfd4 on the fd itself. */
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &usr2, NULL);
    T_EQ(signalfd(fd, &usr2, 0), fd, "signalfd4: a new mask on the same fd");
    raise(SIGUSR1);
    raise(SIGUSR2);
    T_EQ(read(fd, &si, sizeof si), (long)sizeof si, "read: with the new mask");
    OK(si.ssi_signo == SIGUSR2, "read: only the new mask's signal");
    sigset_t pending;
    sigpending(&pending);
    OK(sigismember(&pending, SIGUSR1), "read: the other stays pending");
    T_EQ(signalfd(fd, &set, 0), fd, "signalfd4: the first mask back");
    T_EQ(read(fd, &si, sizeof si), (long)sizeof si, "read: the SIGUSR1 left pending");

    /* A fork's child reads its own signals through the fd it inherited. */
    fflush(stdout);
    c = fork();
    if (c == 0) {
        raise(SIGUSR1);
        struct signalfd_siginfo own;
        _exit(read(fd, &own, sizeof own) == sizeof own && own.ssi_pid == (unsigned)getpid() ? 0 : 1);
    }
    int st;
    waitpid(c, &st, 0);
    OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "read: a child reads its own signal");
    T_EQ(read(fd, &si, sizeof si), (long)sizeof si, "read: the child's SIGCHLD for the parent");
    OK(si.ssi_signo == SIGCHLD && si.ssi_pid == (unsigned)c, "read: SIGCHLD names that child");

    T_ERR(read(fd, &si, 8), EINVAL, "read: less than a record -> EINVAL");
    T_ERR(signalfd(-1, &set, 0x1), EINVAL, "signalfd4: unknown flags -> EINVAL");
    T_ERR(syscall(SYS_signalfd4, -1, &set, 4, 0), EINVAL, "signalfd4: mask size 4 -> EINVAL");
    T_ERR(syscall(SYS_signalfd4, -1, BADPTR, 8, 0), EFAULT, "signalfd4: unreadable mask -> EFAULT");
    T_ERR(signalfd(0, &set, 0), EINVAL, "signalfd4: an fd that is not a signalfd -> EINVAL");
    close(fd);
    return tap_done();
}
