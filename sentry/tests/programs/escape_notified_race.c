/* escape_notified_race CANARY HOST_SOCK ROUNDS: races the sentry's one read of what a call
 * names while the call waits for the sentry's answer. One thread makes, ROUNDS times: open,
 * stat and readlink of a path (calls that arrive as notifications), an fstatat with
 * AT_EMPTY_PATH whose path flips between "" and CANARY, openat2 with an open_how,
 * connect with a sockaddr, and sendmsg with an iovec. Another thread flips, all the while,
 * the path between /inside (a file of the sandbox) and CANARY (a host file outside the
 * sandbox's root), open_how.resolve between RESOLVE_IN_ROOT and nothing, the sockaddr's path
 * between a sandbox name and HOST_SOCK (a listening host socket), and msg_iov between two
 * iovecs. Every file opened is read: the canary's text must never come back, no stat may
 * show the canary's size, and every datagram received must be one iovec's bytes whole (never
 * a mixture). Prints "rounds N opened O" and exits 0, or names the escape and exits 3; the
 * test also checks the host socket. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define INSIDE "/inside"

static char path[4096];
static char inside[4096] = INSIDE;
static char canary[4096];
static struct open_how how = {.flags = O_RDONLY};
static struct sockaddr_un addr = {.sun_family = AF_UNIX};
static char host_sock[108];
static char bytes_a[64], bytes_b[64];
static struct iovec iov_a = {bytes_a, sizeof bytes_a}, iov_b = {bytes_b, sizeof bytes_b};
static struct msghdr msg = {.msg_iov = &iov_a, .msg_iovlen = 1};
/* Flipped between "" and CANARY: an fstatat(fd, empty, AT_EMPTY_PATH) is a stat of fd. */
static char empty[4096];
static volatile int running = 1;

static void *flipper(void *unused)
{
    (void)unused;
    while (running) {
        strcpy(path, canary);
        strcpy(empty, canary);
        how.resolve = 0;
        strcpy(addr.sun_path, host_sock);
        msg.msg_iov = &iov_b;
        strcpy(path, inside);
        empty[0] = '\0';
        how.resolve = RESOLVE_IN_ROOT;
        strcpy(addr.sun_path, "/nothing-here.sock");
        msg.msg_iov = &iov_a;
    }
    return NULL;
}

static void escape(const char *what)
{
    printf("ESCAPE: %s\n", what);
    fflush(stdout);
    exit(3);
}

/* Reads the opened file: the canary's text is an escape. */
static void check_file(int fd)
{
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0) {
        buf[n] = 0;
        if (strstr(buf, "HOST-CANARY"))
            escape("the host file was opened");
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: escape_notified_race CANARY HOST_SOCK ROUNDS\n");
        return 2;
    }
    snprintf(canary, sizeof canary, "%s", argv[1]);
    snprintf(host_sock, sizeof host_sock, "%s", argv[2]);
    long rounds = atol(argv[3]);
    /* Inside the sandbox the canary's path names nothing. The test writes 64 bytes into it,
     * and 7 ("inside\n") into /inside. */
    const off_t canary_size = 64;
    struct stat canary_st;
    if (stat(canary, &canary_st) == 0)
        escape("the canary's path resolves inside the sandbox");
    memset(bytes_a, 'a', sizeof bytes_a);
    memset(bytes_b, 'b', sizeof bytes_b);
    strcpy(path, inside);
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) != 0) {
        perror("socketpair");
        return 1;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, flipper, NULL) != 0) {
        perror("pthread_create");
        return 1;
    }
    long opened = 0;
    for (long i = 0; i < rounds; i++) {
        int fd = open(path, O_RDONLY);
        if (fd >= 0) {
            opened++;
            check_file(fd);
        }
        struct stat st;
        if (stat(path, &st) == 0 && st.st_size == canary_size)
            escape("stat showed the host file");
        if (fstatat(pair[0], empty, &st, AT_EMPTY_PATH) == 0 && st.st_size == canary_size)
            escape("fstatat with AT_EMPTY_PATH showed the host file");
        char link[256];
        (void)readlink(path, link, sizeof link);
        fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
        if (fd >= 0) {
            opened++;
            check_file(fd);
        }
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (s >= 0) {
            (void)connect(s, (struct sockaddr *)&addr, sizeof addr);
            close(s);
        }
        if (sendmsg(pair[0], &msg, 0) == (ssize_t)sizeof bytes_a) {
            char got[sizeof bytes_a];
            if (recv(pair[1], got, sizeof got, 0) == (ssize_t)sizeof got &&
                memchr(got, got[0] == 'a' ? 'b' : 'a', sizeof got))
                escape("a datagram mixed two iovecs");
        }
    }
    running = 0;
    pthread_join(t, NULL);
    printf("rounds %ld opened %ld\n", rounds, opened);
    return 0;
}
