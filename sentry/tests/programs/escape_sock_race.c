/* escape_sock_race DGRAM STREAM ROUNDS: races the kernel's reading of socket addresses the
 * sentry checked. DGRAM and STREAM are paths of host sockets outside the sandbox's root. One
 * thread sends and connects in a loop; another flips, between the sentry's read and the
 * kernel's, msg_name of a msghdr (NULL <-> the host path), the path in a sockaddr (a sandbox
 * name <-> the host path), and re-points the fd number used (dup2) between sockets of other
 * kinds. Nothing may ever reach the host sockets; the test checks them. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct sockaddr_un host_dgram, host_stream, flip_addr;
static struct msghdr msg;
static struct iovec iov;
static char byte = 'x';
static volatile int running = 1;
static int fd_a, fd_b;
enum { TARGET = 40 };

static void *flipper(void *arg)
{
    (void)arg;
    char *sandbox_name = "/tmp/nothing-here";
    while (running) {
        msg.msg_name = &host_dgram;
        msg.msg_namelen = sizeof host_dgram;
        strcpy(flip_addr.sun_path, host_stream.sun_path);
        dup2(fd_a, TARGET);
        msg.msg_name = NULL;
        msg.msg_namelen = 0;
        strcpy(flip_addr.sun_path, sandbox_name);
        dup2(fd_b, TARGET);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: escape_sock_race DGRAM STREAM ROUNDS\n");
        return 2;
    }
    int rounds = atoi(argv[3]);
    host_dgram.sun_family = host_stream.sun_family = flip_addr.sun_family = AF_UNIX;
    strncpy(host_dgram.sun_path, argv[1], sizeof host_dgram.sun_path - 1);
    strncpy(host_stream.sun_path, argv[2], sizeof host_stream.sun_path - 1);
    fd_a = socket(AF_UNIX, SOCK_DGRAM, 0);
    int pair[2];
    if (fd_a < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
        return 2;
    fd_b = pair[0];
    dup2(fd_b, TARGET);
    iov.iov_base = &byte;
    iov.iov_len = 1;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    pthread_t t;
    pthread_create(&t, NULL, flipper, NULL);
    int sent = 0;
    for (int i = 0; i < rounds; i++) {
        if (sendmsg(TARGET, &msg, MSG_DONTWAIT) == 1)
            sent++;
        sendto(TARGET, &byte, 1, MSG_DONTWAIT, (struct sockaddr *)&flip_addr, sizeof flip_addr);
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        connect(c, (struct sockaddr *)&flip_addr, sizeof flip_addr);
        close(c);
        char drain[16];
        while (recv(pair[1], drain, sizeof drain, MSG_DONTWAIT) > 0) {
        }
    }
    running = 0;
    pthread_join(t, NULL);
    printf("rounds %d sent-to-pair %d\n", rounds, sent);
    return 0;
}
