/* net none | net host PORT
 * none: TCP and UDP sockets (AF_INET, AF_INET6) are the sandbox's own loopback's and work;
 *       AF_PACKET and AF_NETLINK (but NETLINK_ROUTE, the sandbox's `lo`) fail with EACCES;
 *       an AF_UNIX socketpair works and carries
 *       data both ways; socket(AF_UNIX) works.
 * host: socket(AF_INET) succeeds, connects to 127.0.0.1:PORT (a listener the test opened),
 *       sends "hello from the sandbox\n" and reads the test's answer. */
#include "prog.h"
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

static void denied(int domain, int type, int proto, const char *what)
{
    errno = 0;
    int fd = socket(domain, type, proto);
    int err = errno;
    check(fd == -1 && err == EACCES, "socket(%s) -> %d %s", what, fd, strerrorname_np(err));
    if (fd >= 0)
        close(fd);
}

static int mode_none(void)
{
    for (int family = AF_INET; family; family = family == AF_INET ? AF_INET6 : 0) {
        for (int type = SOCK_STREAM; type; type = type == SOCK_STREAM ? SOCK_DGRAM : 0) {
            int s = socket(family, type, 0);
            check(s >= 0, "socket(%s, %s) on the sandbox's loopback -> %d",
                  family == AF_INET ? "AF_INET" : "AF_INET6",
                  type == SOCK_STREAM ? "SOCK_STREAM" : "SOCK_DGRAM", s);
            if (s >= 0)
                close(s);
        }
    }
    denied(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL), "AF_PACKET, SOCK_RAW");
    denied(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT, "AF_NETLINK, SOCK_RAW, NETLINK_AUDIT");
    int route = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    check(route >= 0, "socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) -> %d (the sandbox's lo)", route);
    if (route >= 0)
        close(route);

    int sv[2];
    int r = socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    check(r == 0, "socketpair(AF_UNIX) -> %d %s", r, r ? strerrorname_np(errno) : "");
    if (r == 0) {
        char buf[16] = {0};
        int ok = write(sv[0], "ping", 4) == 4 && read(sv[1], buf, sizeof buf - 1) == 4 &&
                 strcmp(buf, "ping") == 0;
        memset(buf, 0, sizeof buf);
        ok = ok && write(sv[1], "pong", 4) == 4 && read(sv[0], buf, sizeof buf - 1) == 4 &&
             strcmp(buf, "pong") == 0;
        check(ok, "AF_UNIX socketpair carries data both ways");
        close(sv[0]);
        close(sv[1]);
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    check(fd >= 0, "socket(AF_UNIX, SOCK_DGRAM) -> %d", fd);
    if (fd >= 0)
        close(fd);
    printf("net none done\n");
    return finish();
}

static int mode_host(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    check(fd >= 0, "socket(AF_INET) with --net=host -> %d %s", fd, fd < 0 ? strerrorname_np(errno) : "");
    if (fd < 0)
        return finish();
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    check(r == 0, "connect(127.0.0.1:%d) -> %d %s", port, r, r ? strerrorname_np(errno) : "");
    if (r == 0) {
        const char *msg = "hello from the sandbox\n";
        write_all(fd, msg, strlen(msg));
        char buf[64] = {0};
        size_t len = 0;
        ssize_t n;
        while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
            len += (size_t)n;
        check(strcmp(buf, "hello from the host\n") == 0, "answer from the host: %.*s",
              (int)strcspn(buf, "\n"), buf);
    }
    close(fd);
    printf("net host done\n");
    return finish();
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "none") == 0)
        return mode_none();
    if (argc == 3 && strcmp(argv[1], "host") == 0)
        return mode_host(atoi(argv[2]));
    fprintf(stderr, "usage: net none | net host PORT\n");
    return 2;
}
