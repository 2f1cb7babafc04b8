/* escape_unix HOST_SOCKET_PATH ABSTRACT_NAME
 *
 * Tries to connect, from inside the sandbox, to an AF_UNIX socket the test listens on on the
 * host: by its host path (outside the rootfs: as is, through /../.., through a symlink) and by
 * an abstract name the test bound on the host. Prints one line per attempt ("held ..." with the
 * errno, or "CONNECTED ..." when a connection was made; the test also checks on its side that its
 * listeners received nothing). Then binds the same abstract name itself and connects to it:
 * abstract names are private to the sandbox, so that may work (or be refused), but it must not
 * collide with the host's. Exits 0 when nothing reached the host listeners' names, 1 otherwise.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int connected;

static void try_connect(const char *what, const struct sockaddr_un *a, socklen_t len)
{
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0) {
        printf("held unix: %s (socket errno=%s)\n", what, strerrorname_np(errno));
        return;
    }
    if (connect(s, (const struct sockaddr *)a, len) == 0) {
        char buf[64] = {0};
        /* The host listener writes a greeting on accept: whatever answers is printed. */
        ssize_t n = recv(s, buf, sizeof buf - 1, MSG_DONTWAIT);
        printf("CONNECTED unix: %s (%zd bytes: %s)\n", what, n, n > 0 ? buf : "");
        connected = 1;
    } else {
        printf("held unix: %s (errno=%s)\n", what, strerrorname_np(errno));
    }
    close(s);
}

static socklen_t path_addr(struct sockaddr_un *a, const char *p)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    snprintf(a->sun_path, sizeof a->sun_path, "%s", p);
    return offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) {
        fprintf(stderr, "usage: %s HOST_SOCKET_PATH ABSTRACT_NAME\n", argv[0]);
        return 2;
    }
    const char *host = argv[1], *abs_name = argv[2];
    struct sockaddr_un a;
    char p[200];
    try_connect("the host socket path as is", &a, path_addr(&a, host));
    snprintf(p, sizeof p, "/../../../../..%s", host);
    try_connect("/../../.. + the host socket path", &a, path_addr(&a, p));
    if (chdir("/tmp") == 0) {
        unlink("u-link");
        if (symlink(host, "u-link") == 0)
            try_connect("a symlink to the host socket path", &a, path_addr(&a, "u-link"));
        unlink("u-up");
        if (symlink(p, "u-up") == 0)
            try_connect("a symlink to /../.. + the host socket path", &a, path_addr(&a, "u-up"));
    }
    /* A datagram to the host path. */
    int d = socket(AF_UNIX, SOCK_DGRAM, 0);
    socklen_t l = path_addr(&a, host);
    if (d >= 0 && sendto(d, "x", 1, 0, (struct sockaddr *)&a, l) == 1) {
        printf("CONNECTED unix: a datagram was sent to the host socket path\n");
        connected = 1;
    } else {
        printf("held unix: sendto the host socket path (errno=%s)\n", strerrorname_np(errno));
    }
    /* The host's abstract name. */
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    size_t n = strlen(abs_name);
    if (n + 1 > sizeof a.sun_path)
        return 2;
    memcpy(a.sun_path + 1, abs_name, n);
    socklen_t al = offsetof(struct sockaddr_un, sun_path) + 1 + n;
    try_connect("the host's abstract name", &a, al);
    /* The sandbox's own socket under the same abstract name. */
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(ls, (struct sockaddr *)&a, al) == 0 && listen(ls, 1) == 0) {
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        int r = connect(c, (struct sockaddr *)&a, al);
        printf("held unix: the same abstract name bound inside (connect to it: %s)\n",
               r == 0 ? "ok, the sandbox's own" : strerrorname_np(errno));
        close(c);
    } else {
        printf("held unix: binding the same abstract name inside (errno=%s)\n", strerrorname_np(errno));
    }
    close(ls);
    printf("%s unix\n", connected ? "ESCAPED" : "ALL HELD");
    return connected ? 1 : 0;
}
