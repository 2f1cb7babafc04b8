/* attack_pids CANARY: a host process (CANARY, same host uid as the sandbox's tasks) must be
 * out of reach. Tries to make it the owner of an fd (F_SETOWN, F_SETOWN_EX, FIOSETOWN,
 * SIOCSPGRP, and racing a thread that flips the id after the sentry read it) with F_SETSIG
 * SIGTERM and O_ASYNC, so that I/O would signal it; and takes pidfds of peers. Checks that
 * the sandbox's own owners and lock holders show in its own numbers, and that interface
 * ioctls show only the loopback, and that SO_PASSCRED brings no host ids. The test checks the
 * canary from the host. */
#include "prog.h"
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif

static volatile int flip_value;
static volatile int flipping = 1;
static int canary, decoy;

static void *flipper(void *arg)
{
    (void)arg;
    while (flipping) {
        flip_value = decoy;
        flip_value = canary;
    }
    return NULL;
}

/* An fd whose I/O signals its owner: one end of a socket pair, O_ASYNC, F_SETSIG SIGTERM. */
static int async_socket(int *other)
{
    int sv[2];
    must(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    must(fcntl(sv[0], F_SETSIG, SIGTERM) == 0);
    must(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_ASYNC) == 0);
    *other = sv[1];
    return sv[0];
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: attack_pids CANARY\n");
        return 2;
    }
    canary = atoi(argv[1]);
    int peer;
    int s = async_socket(&peer);

    errno = 0;
    check(fcntl(s, F_SETOWN, canary) == -1 && errno == ESRCH, "F_SETOWN host pid: ESRCH (%s)", strerror(errno));
    errno = 0;
    check(fcntl(s, F_SETOWN, -canary) == -1 && errno == ESRCH, "F_SETOWN host group: ESRCH (%s)", strerror(errno));
    struct f_owner_ex ex = {.type = F_OWNER_PID, .pid = canary};
    errno = 0;
    check(fcntl(s, F_SETOWN_EX, &ex) == -1 && errno == ESRCH, "F_SETOWN_EX host pid: ESRCH (%s)", strerror(errno));
    int who = canary;
    errno = 0;
    check(ioctl(s, FIOSETOWN, &who) == -1 && errno == ESRCH, "FIOSETOWN host pid: ESRCH (%s)", strerror(errno));
    errno = 0;
    check(ioctl(s, SIOCSPGRP, &who) == -1 && errno == ESRCH, "SIOCSPGRP host pid: ESRCH (%s)", strerror(errno));

    /* A child of the sandbox that ignores SIGTERM is a legitimate owner. */
    int ready[2];
    must(pipe(ready) == 0);
    int lockfile = memfd_create("locks", 0);
    must(lockfile >= 0 && ftruncate(lockfile, 16) == 0);
    pid_t kid = fork();
    must(kid >= 0);
    if (kid == 0) {
        signal(SIGTERM, SIG_IGN);
        close(ready[0]);
        struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
        char c = fcntl(lockfile, F_SETLK, &lk) == 0 ? 'l' : 'n';
        (void)!write(ready[1], &c, 1);
        pause();
        _exit(0);
    }
    char c;
    must(read(ready[0], &c, 1) == 1 && c == 'l');
    struct flock probe = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    check(fcntl(lockfile, F_GETLK, &probe) == 0 && probe.l_type == F_WRLCK && probe.l_pid == kid,
          "F_GETLK: the holder is the child, in the sandbox's numbers (%d, child %d)", probe.l_pid, (int)kid);
    decoy = kid;
    check(fcntl(s, F_SETOWN, kid) == 0 && fcntl(s, F_GETOWN) == kid, "F_SETOWN/F_GETOWN of the sandbox's child");
    ex.type = F_OWNER_PID;
    ex.pid = kid;
    struct f_owner_ex got = {0};
    check(fcntl(s, F_SETOWN_EX, &ex) == 0 && fcntl(s, F_GETOWN_EX, &got) == 0 && got.pid == kid,
          "F_SETOWN_EX/F_GETOWN_EX of the sandbox's child (%d)", got.pid);
    who = 0;
    check(ioctl(s, FIOGETOWN, &who) == 0 && who == kid, "FIOGETOWN shows the child (%d)", who);

    /* The race: the id flips between the child and the canary while the sentry reads it. */
    pthread_t t;
    pthread_create(&t, NULL, flipper, NULL);
    int tries = 20000, set = 0;
    for (int i = 0; i < tries; i++) {
        if (ioctl(s, (i & 1) ? FIOSETOWN : SIOCSPGRP, (int *)&flip_value) == 0)
            set++;
        ex.pid = flip_value;
        fcntl(s, F_SETOWN_EX, &ex);
        (void)!write(peer, "x", 1); /* I/O: SIGTERM to whoever owns s */
        char drain[64];
        (void)!recv(s, drain, sizeof drain, MSG_DONTWAIT);
    }
    flipping = 0;
    pthread_join(t, NULL);
    printf("race: %d tries, %d owner changes accepted\n", tries, set);
    check(fcntl(s, F_GETOWN) == kid || fcntl(s, F_GETOWN) == 0, "the owner is never a host pid");

    /* Pidfds of peers would name host processes (the gofer that connected a socket). */
    int pidfd = -1;
    socklen_t len = sizeof pidfd;
    errno = 0;
    check(getsockopt(s, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == -1 && errno == ENOPROTOOPT,
          "SO_PEERPIDFD: ENOPROTOOPT (%s)", strerror(errno));
    int on = 1;
    errno = 0;
    check(setsockopt(s, SOL_SOCKET, SO_PASSPIDFD, &on, sizeof on) == -1 && errno == ENOPROTOOPT,
          "SO_PASSPIDFD: ENOPROTOOPT (%s)", strerror(errno));

    /* SCM_CREDENTIALS would carry the sender's host pid: SO_PASSCRED reads back as set, and
     * the kernel attaches nothing, whatever the sender. */
    int pair[2];
    must(socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) == 0);
    int got_on = 0;
    len = sizeof got_on;
    int set_ok = setsockopt(pair[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0
                 && getsockopt(pair[1], SOL_SOCKET, SO_PASSCRED, &got_on, &len) == 0;
    check(set_ok && got_on == 1, "SO_PASSCRED: set and read back (%d)", got_on);
    must(send(pair[0], "c", 1, 0) == 1);
    char byte;
    char control[256];
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    check(recvmsg(pair[1], &msg, 0) == 1, "SO_PASSCRED: the datagram arrives");
    int creds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        creds += c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS;
    check(creds == 0, "SO_PASSCRED: no SCM_CREDENTIALS with host ids (%d)", creds);
    close(pair[0]);
    close(pair[1]);

    /* Interface ioctls show the sandbox's loopback only. */
    struct ifreq reqs[16];
    struct ifconf conf = {.ifc_len = sizeof reqs, .ifc_req = reqs};
    if (ioctl(s, SIOCGIFCONF, &conf) == 0) {
        int n = conf.ifc_len / (int)sizeof(struct ifreq);
        check(n == 1 && strcmp(reqs[0].ifr_name, "lo") == 0, "SIOCGIFCONF: lo alone (%d)", n);
    } else {
        check(0, "SIOCGIFCONF: %s", strerror(errno));
    }
    struct ifreq eth = {0};
    strcpy(eth.ifr_name, "eth0");
    errno = 0;
    check(ioctl(s, SIOCGIFHWADDR, &eth) == -1 && errno == ENODEV, "SIOCGIFHWADDR eth0: ENODEV (%s)", strerror(errno));

    /* A pidfd's fdinfo names the process in the sandbox's numbers. */
    int kidfd = (int)syscall(SYS_pidfd_open, kid, 0);
    char info[64], line[256];
    snprintf(info, sizeof info, "/proc/self/fdinfo/%d", kidfd);
    FILE *f = kidfd >= 0 ? fopen(info, "r") : NULL;
    int shown = -1;
    while (f && fgets(line, sizeof line, f))
        sscanf(line, "Pid: %d", &shown);
    check(shown == kid, "fdinfo of a pidfd: Pid %d (child %d)", shown, (int)kid);

    kill(kid, SIGKILL);
    waitpid(kid, NULL, 0);
    printf("pids done\n");
    return finish();
}
