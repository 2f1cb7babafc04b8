/* escape_signalfd: reads signals through signalfds (read, readv, a dup, one dup2'd below the
 * floor, one passed with SCM_RIGHTS, an F_DUPFD above the numbers where the sentry puts
 * signalfds, the last of as many as can be made, one made while ordinary fds fill those
 * numbers) sent by children and by their exits. Every ssi_pid
 * must be a number fork returned in the sandbox and every ssi_uid 0 (the sandbox's root):
 * a host pid or uid is an escape. Prints "signalfd ok" and exits 0, or names what it saw
 * and exits 3. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static int escaped;

static void check(const char *how, const struct signalfd_siginfo *si, pid_t child)
{
    if ((pid_t)si->ssi_pid != child || si->ssi_uid != 0) {
        printf("ESCAPE: %s showed pid %u uid %u (child %d)\n", how, si->ssi_pid, si->ssi_uid,
               child);
        escaped = 1;
    }
}

/* A child that signals its parent and exits 5; the parent reads both from `fd`. */
static void round_trip(const char *how, int fd, int vector)
{
    pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0) {
        kill(parent, SIGUSR1);
        _exit(5);
    }
    if (child < 0)
        exit(1);
    for (int got = 0; got < 2;) {
        struct signalfd_siginfo si;
        ssize_t n;
        if (vector) {
            struct iovec iov[2] = {{&si, 40}, {(char *)&si + 40, sizeof si - 40}};
            n = readv(fd, iov, 2);
        } else {
            n = read(fd, &si, sizeof si);
        }
        if (n != (ssize_t)sizeof si) {
            printf("%s: read gave %zd\n", how, n);
            exit(1);
        }
        check(how, &si, child);
        if (si.ssi_signo == SIGCHLD && (si.ssi_code != CLD_EXITED || si.ssi_status != 5)) {
            printf("%s: SIGCHLD code %d status %d\n", how, si.ssi_code, si.ssi_status);
            exit(1);
        }
        got++;
    }
    waitpid(child, NULL, 0);
}

int main(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int fd = signalfd(-1, &set, 0);
    if (fd < 0)
        return 1;
    round_trip("read", fd, 0);
    round_trip("readv", fd, 1);
    int copy = dup(fd);
    if (copy < 0)
        return 1;
    round_trip("a dup", copy, 0);
    /* Where Linux lets these through, the fd they give must read the same. */
    if (dup2(fd, 5) == 5)
        round_trip("a dup2 below the floor", 5, 0);
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) != 0)
        return 1;
    char byte = 0, control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {&byte, 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    if (sendmsg(pair[0], &msg, 0) == 1 && recvmsg(pair[1], &msg, 0) == 1) {
        int received;
        memcpy(&received, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof received);
        round_trip("a signalfd passed with SCM_RIGHTS", received, 0);
    }
    /* Where Linux puts them, these must read the same (the sentry may refuse them). */
    int high = fcntl(fd, F_DUPFD, 1000);
    if (high >= 0)
        round_trip("an F_DUPFD at 1000 or above", high, 0);
    int last = -1;
    for (int i = 0; i < 100; i++) {
        int more = signalfd(-1, &set, 0);
        if (more < 0)
            break;
        last = more;
    }
    if (last >= 0)
        round_trip("the last of many signalfds", last, 0);
    int filler[2];
    if (pipe(filler) == 0) {
        for (int n = 512; n < 1024; n++)
            dup2(filler[0], n);
        int crowded = signalfd(-1, &set, 0);
        if (crowded >= 0)
            round_trip("a signalfd made among many fds", crowded, 0);
    }
    if (escaped)
        return 3;
    printf("signalfd ok\n");
    return 0;
}
