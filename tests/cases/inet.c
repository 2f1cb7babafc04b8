// conformance: netns
/* TCP and UDP on loopback, as in a network namespace that has only `lo`: socket(2),
 * bind(2), listen(2), connect(2), accept4(2), getsockname(2), getpeername(2), shutdown(2),
 * setsockopt(2)/getsockopt(2) at the TCP and IP levels, sendto(2)/recvfrom(2) and
 * sendmsg(2)/recvmsg(2) with addresses, over IPv4 and IPv6; addresses off loopback are unreachable. Natively the case brings `lo` up itself (a fresh namespace has
 * it down); under the sentry that request is refused and changes nothing. */
#include "tap.h"
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static void bring_up_lo(void)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        (void)ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    if (s >= 0)
        close(s);
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    bring_up_lo();

    int srv = T_OK(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket: AF_INET stream");
    T_ERR(socket(AF_INET, SOCK_SEQPACKET, 0), ESOCKTNOSUPPORT, "socket: AF_INET seqpacket -> ESOCKTNOSUPPORT");
    T_ERR(socket(AF_INET6, SOCK_RDM, 0), ESOCKTNOSUPPORT, "socket: AF_INET6 rdm -> ESOCKTNOSUPPORT");
    T_ERR(socket(AF_INET, 11, 0), EINVAL, "socket: a type past SOCK_PACKET -> EINVAL");
    T_ERR(socket(AF_INET, SOCK_STREAM | 0x100, 0), EINVAL, "socket: an unknown flag -> EINVAL");
    T_ERR(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT, "socket: stream over UDP -> EPROTONOSUPPORT");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    T_EQ(bind(srv, (struct sockaddr *)&a, sizeof a), 0, "bind: 127.0.0.1, port 0");
    socklen_t al = sizeof a;
    T_EQ(getsockname(srv, (struct sockaddr *)&a, &al), 0, "getsockname: after bind");
    OK(al == sizeof a && a.sin_family == AF_INET && a.sin_port != 0 &&
           a.sin_addr.s_addr == htonl(INADDR_LOOPBACK),
       "getsockname: 127.0.0.1 and the port the kernel chose");
    T_EQ(listen(srv, 8), 0, "listen");
    int one = 1;
    T_EQ(setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0, "setsockopt: SO_REUSEADDR");
    T_EQ(setsockopt(srv, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one), 0, "setsockopt: SO_REUSEPORT");

    int cli = T_OK(socket(AF_INET, SOCK_STREAM, IPPROTO_TCP), "socket: AF_INET with IPPROTO_TCP");
    T_EQ(connect(cli, (struct sockaddr *)&a, sizeof a), 0, "connect: to the listener");
    struct sockaddr_in cl = {0}, peer = {0};
    socklen_t cll = sizeof cl, pl = sizeof peer;
    T_EQ(getsockname(cli, (struct sockaddr *)&cl, &cll), 0, "getsockname: the client");
    OK(cl.sin_addr.s_addr == htonl(INADDR_LOOPBACK) && ntohs(cl.sin_port) >= 1024,
       "getsockname: the client got 127.0.0.1 and an ephemeral port");
    T_EQ(getpeername(cli, (struct sockaddr *)&peer, &pl), 0, "getpeername: the client");
    OK(peer.sin_port == a.sin_port && peer.sin_addr.s_addr == a.sin_addr.s_addr,
       "getpeername: the address connected to");

    struct sockaddr_in from = {0};
    socklen_t fl = sizeof from;
    int acc = T_OK(accept4(srv, (struct sockaddr *)&from, &fl, SOCK_CLOEXEC), "accept4");
    OK(fl == sizeof from && from.sin_family == AF_INET && from.sin_port == cl.sin_port &&
           from.sin_addr.s_addr == htonl(INADDR_LOOPBACK),
       "accept4: the peer is the client's address");
    struct sockaddr_in mine = {0};
    socklen_t ml = sizeof mine;
    getsockname(acc, (struct sockaddr *)&mine, &ml);
    OK(mine.sin_port == a.sin_port, "getsockname: the accepted socket has the listener's port");
    pl = sizeof peer;
    getpeername(acc, (struct sockaddr *)&peer, &pl);
    OK(peer.sin_port == cl.sin_port, "getpeername: the accepted socket's peer is the client");

    T_EQ(write(cli, "ping", 4), 4, "write: client to server");
    struct pollfd p = {.fd = acc, .events = POLLIN};
    T_EQ(poll(&p, 1, 5000), 1, "poll: the accepted socket is readable");
    char buf[16] = {0};
    T_EQ(read(acc, buf, sizeof buf), 4, "read: the server gets the bytes");
    OK(memcmp(buf, "ping", 4) == 0, "read: what the client wrote");
    T_EQ(shutdown(cli, SHUT_WR), 0, "shutdown: the client's writing half");
    T_EQ(read(acc, buf, sizeof buf), 0, "read: end of file after the half-close");
    T_EQ(send(acc, "pong", 4, 0), 4, "send: the server still writes");
    T_EQ(recv(cli, buf, sizeof buf, 0), 4, "recv: the client still reads");

    T_EQ(setsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0, "setsockopt: TCP_NODELAY");
    int v = 0;
    socklen_t vl = sizeof v;
    T_EQ(getsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0, "getsockopt: TCP_NODELAY");
    OK(v != 0 && vl == sizeof v, "getsockopt: TCP_NODELAY is set");
    vl = sizeof v;
    getsockopt(cli, SOL_SOCKET, SO_DOMAIN, &v, &vl);
    OK(v == AF_INET, "getsockopt: SO_DOMAIN is AF_INET");
    vl = sizeof v;
    getsockopt(cli, SOL_SOCKET, SO_TYPE, &v, &vl);
    OK(v == SOCK_STREAM, "getsockopt: SO_TYPE is SOCK_STREAM");
    vl = sizeof v;
    getsockopt(cli, SOL_SOCKET, SO_PROTOCOL, &v, &vl);
    OK(v == IPPROTO_TCP, "getsockopt: SO_PROTOCOL is IPPROTO_TCP");

    int again = socket(AF_INET, SOCK_STREAM, 0);
    T_ERR(bind(again, (struct sockaddr *)&a, sizeof a), EADDRINUSE, "bind: a port in use -> EADDRINUSE");
    T_ERR(bind(again, (struct sockaddr *)&a, 8), EINVAL, "bind: a short address -> EINVAL");
    struct sockaddr_in far = {.sin_family = AF_INET, .sin_port = htons(80)};
    inet_pton(AF_INET, "10.1.2.3", &far.sin_addr);
    T_ERR(bind(again, (struct sockaddr *)&far, sizeof far), EADDRNOTAVAIL, "bind: an address not on lo -> EADDRNOTAVAIL");
    T_ERR(connect(again, (struct sockaddr *)&far, sizeof far), ENETUNREACH, "connect: off loopback -> ENETUNREACH");
    close(again);
    close(acc);
    close(cli);
    close(srv);
    int closed = socket(AF_INET, SOCK_STREAM, 0);
    T_ERR(connect(closed, (struct sockaddr *)&a, sizeof a), ECONNREFUSED, "connect: nobody listens -> ECONNREFUSED");
    close(closed);

    /* IPv6 on ::1, and a listener with no bind gets a port of its own. */
    int s6 = T_OK(socket(AF_INET6, SOCK_STREAM, 0), "socket: AF_INET6 stream");
    T_EQ(listen(s6, 4), 0, "listen: without bind");
    struct sockaddr_in6 a6 = {0};
    socklen_t a6l = sizeof a6;
    getsockname(s6, (struct sockaddr *)&a6, &a6l);
    OK(a6.sin6_family == AF_INET6 && a6.sin6_port != 0 && IN6_IS_ADDR_UNSPECIFIED(&a6.sin6_addr),
       "getsockname: listen chose a port on ::");
    a6.sin6_addr = in6addr_loopback;
    int c6 = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int r = connect(c6, (struct sockaddr *)&a6, sizeof a6);
    OK(r == 0 || errno == EINPROGRESS, "connect: non-blocking, to ::1");
    struct pollfd w = {.fd = c6, .events = POLLOUT};
    T_EQ(poll(&w, 1, 5000), 1, "poll: the connecting socket is writable");
    int err = -1;
    socklen_t el = sizeof err;
    getsockopt(c6, SOL_SOCKET, SO_ERROR, &err, &el);
    OK(err == 0, "getsockopt: SO_ERROR 0 once connected");
    struct sockaddr_in6 f6 = {0};
    socklen_t f6l = sizeof f6;
    int a6c = T_OK(accept(s6, (struct sockaddr *)&f6, &f6l), "accept: on ::");
    OK(f6.sin6_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&f6.sin6_addr), "accept: the peer is ::1");
    close(a6c);
    close(c6);
    close(s6);

    /* UDP: datagrams with addresses, and a connected socket. */
    int us = T_OK(socket(AF_INET, SOCK_DGRAM, 0), "socket: AF_INET datagram");
    struct sockaddr_in ua = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    T_EQ(bind(us, (struct sockaddr *)&ua, sizeof ua), 0, "bind: a datagram socket on 127.0.0.1");
    socklen_t ual = sizeof ua;
    getsockname(us, (struct sockaddr *)&ua, &ual);
    int uc = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    T_EQ(sendto(uc, "dg", 2, 0, (struct sockaddr *)&ua, sizeof ua), 2, "sendto: a datagram to the bound port");
    struct sockaddr_in ucl = {0}, src = {0};
    socklen_t ucll = sizeof ucl, srcl = sizeof src;
    getsockname(uc, (struct sockaddr *)&ucl, &ucll);
    OK(ucl.sin_port != 0, "getsockname: sendto gave the sender a port");
    T_EQ(recvfrom(us, buf, sizeof buf, 0, (struct sockaddr *)&src, &srcl), 2, "recvfrom: the datagram");
    OK(srcl == sizeof src && src.sin_port == ucl.sin_port && src.sin_addr.s_addr == htonl(INADDR_LOOPBACK),
       "recvfrom: the sender's address");
    T_EQ(sendto(us, "back", 4, 0, (struct sockaddr *)&src, srcl), 4, "sendto: a reply to the sender");
    T_EQ(recv(uc, buf, sizeof buf, 0), 4, "recv: the reply");
    T_EQ(connect(uc, (struct sockaddr *)&ua, sizeof ua), 0, "connect: a datagram socket");
    T_EQ(send(uc, "c", 1, 0), 1, "send: on the connected datagram socket");
    T_EQ(recv(us, buf, sizeof buf, 0), 1, "recv: what the connected socket sent");
    vl = sizeof v;
    getsockopt(uc, SOL_SOCKET, SO_PROTOCOL, &v, &vl);
    OK(v == IPPROTO_UDP, "getsockopt: SO_PROTOCOL is IPPROTO_UDP");
    T_ERR(sendto(us, "x", 1, 0, (struct sockaddr *)&far, sizeof far), ENETUNREACH, "sendto: off loopback -> ENETUNREACH");

    /* sendmsg/recvmsg with names, scattered over two buffers; a datagram cut by a short buffer. */
    int um = T_OK(socket(AF_INET, SOCK_DGRAM, 0), "socket: a datagram socket for sendmsg");
    char part1[3] = "", part2[8] = "";
    struct iovec out[2] = {{.iov_base = "hel", .iov_len = 3}, {.iov_base = "lo!", .iov_len = 3}};
    struct msghdr sm = {.msg_name = &ua, .msg_namelen = sizeof ua, .msg_iov = out, .msg_iovlen = 2};
    T_EQ(sendmsg(um, &sm, 0), 6, "sendmsg: a datagram with a name, from two buffers");
    struct sockaddr_in uml = {0}, sender = {0};
    socklen_t umll = sizeof uml;
    getsockname(um, (struct sockaddr *)&uml, &umll);
    struct iovec in[2] = {{.iov_base = part1, .iov_len = 3}, {.iov_base = part2, .iov_len = sizeof part2}};
    struct msghdr rm = {.msg_name = &sender, .msg_namelen = sizeof sender, .msg_iov = in, .msg_iovlen = 2};
    T_EQ(recvmsg(us, &rm, 0), 6, "recvmsg: the datagram");
    OK(memcmp(part1, "hel", 3) == 0 && memcmp(part2, "lo!", 3) == 0, "recvmsg: scattered over both buffers");
    OK(rm.msg_namelen == sizeof sender && sender.sin_family == AF_INET && sender.sin_port == uml.sin_port &&
           sender.sin_addr.s_addr == htonl(INADDR_LOOPBACK),
       "recvmsg: the sender's address in msg_name");
    OK(rm.msg_flags == 0, "recvmsg: no flags");
    T_EQ(sendto(um, "0123456789", 10, 0, (struct sockaddr *)&ua, sizeof ua), 10, "sendto: a longer datagram");
    struct iovec small = {.iov_base = part2, .iov_len = 4};
    struct msghdr tm = {.msg_name = &sender, .msg_namelen = sizeof sender, .msg_iov = &small, .msg_iovlen = 1};
    T_EQ(recvmsg(us, &tm, 0), 4, "recvmsg: a datagram longer than the buffer gives what fits");
    OK(tm.msg_flags & MSG_TRUNC, "recvmsg: MSG_TRUNC in msg_flags");
    T_EQ(sendto(um, "abc", 3, 0, (struct sockaddr *)&ua, sizeof ua), 3, "sendto: one more");
    struct msghdr nm = {.msg_iov = &small, .msg_iovlen = 1};
    T_EQ(recvmsg(us, &nm, 0), 3, "recvmsg: without a name buffer");
    /* recvmmsg: what is queued, each datagram with its sender. */
    T_EQ(sendto(um, "one", 3, 0, (struct sockaddr *)&ua, sizeof ua), 3, "sendto: a first of two");
    T_EQ(sendto(um, "four", 4, 0, (struct sockaddr *)&ua, sizeof ua), 4, "sendto: a second of two");
    char b1[8], b2[8], b3[8];
    struct sockaddr_in n1 = {0}, n2 = {0}, n3 = {0};
    struct iovec v1 = {b1, sizeof b1}, v2 = {b2, sizeof b2}, v3 = {b3, sizeof b3};
    struct mmsghdr mm[3] = {
        {.msg_hdr = {.msg_name = &n1, .msg_namelen = sizeof n1, .msg_iov = &v1, .msg_iovlen = 1}},
        {.msg_hdr = {.msg_name = &n2, .msg_namelen = sizeof n2, .msg_iov = &v2, .msg_iovlen = 1}},
        {.msg_hdr = {.msg_name = &n3, .msg_namelen = sizeof n3, .msg_iov = &v3, .msg_iovlen = 1}},
    };
    T_EQ(recvmmsg(us, mm, 3, MSG_DONTWAIT, NULL), 2, "recvmmsg: the two datagrams queued");
    OK(mm[0].msg_len == 3 && mm[1].msg_len == 4 && memcmp(b1, "one", 3) == 0 && memcmp(b2, "four", 4) == 0,
       "recvmmsg: each datagram and its length");
    OK(n1.sin_family == AF_INET && n1.sin_port == uml.sin_port && n1.sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
           n2.sin_port == uml.sin_port && mm[0].msg_hdr.msg_namelen == sizeof n1,
       "recvmmsg: the sender's address in each msg_name");
    T_ERR(recvmmsg(us, mm, 3, MSG_DONTWAIT, NULL), EAGAIN, "recvmmsg: nothing queued -> EAGAIN");
    close(um);
    close(uc);
    close(us);

    /* lo through NETLINK_ROUTE, as glibc asks for it. */
    struct if_nameindex *ni = if_nameindex();
    OK(ni && ni[0].if_index == 1 && strcmp(ni[0].if_name, "lo") == 0 && ni[1].if_index == 0,
       "if_nameindex: lo alone, index 1");
    if (ni)
        if_freenameindex(ni);
    T_EQ(if_nametoindex("lo"), 1, "if_nametoindex: lo");
    struct ifaddrs *ifs = NULL, *i;
    T_EQ(getifaddrs(&ifs), 0, "getifaddrs");
    int v4 = 0, others = 0;
    for (i = ifs; i; i = i->ifa_next) {
        if (strcmp(i->ifa_name, "lo") != 0)
            others++;
        else if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
                 ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
            v4++;
    }
    OK(v4 == 1 && others == 0, "getifaddrs: lo with 127.0.0.1, nothing else");
    if (ifs)
        freeifaddrs(ifs);
    int nl = T_OK(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), "socket: NETLINK_ROUTE");
    struct sockaddr_nl me = {.nl_family = AF_NETLINK};
    T_EQ(bind(nl, (struct sockaddr *)&me, sizeof me), 0, "bind: a netlink socket");
    socklen_t mel = sizeof me;
    T_EQ(getsockname(nl, (struct sockaddr *)&me, &mel), 0, "getsockname: a netlink socket");
    OK(mel == sizeof me && me.nl_family == AF_NETLINK && me.nl_pid != 0, "getsockname: a port id");
    struct {
        struct nlmsghdr h;
        struct ifaddrmsg a;
    } add = {.h = {.nlmsg_len = sizeof add, .nlmsg_type = RTM_NEWADDR,
                   .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, .nlmsg_seq = 9},
             .a = {.ifa_family = AF_INET, .ifa_prefixlen = 8, .ifa_index = 1}};
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    T_EQ(sendto(nl, &add, sizeof add, 0, (struct sockaddr *)&kernel, sizeof kernel), (long)sizeof add,
         "sendto: RTM_NEWADDR to the kernel");
    char reply[4096];
    long got = recv(nl, reply, sizeof reply, 0);
    struct nlmsghdr *rh = (struct nlmsghdr *)reply;
    OK(got >= (long)(sizeof *rh + sizeof(int)) && rh->nlmsg_type == NLMSG_ERROR && rh->nlmsg_seq == 9 &&
           ((struct nlmsgerr *)NLMSG_DATA(rh))->error != 0,
       "recv: changing an address is refused");
    /* A request sent without an address (send(), as iproute2 sends) is answered too. */
    struct {
        struct nlmsghdr h;
        struct ifinfomsg i;
    } links = {.h = {.nlmsg_len = sizeof links, .nlmsg_type = RTM_GETLINK,
                     .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 10},
               .i = {.ifi_family = AF_UNSPEC}};
    T_EQ(send(nl, &links, sizeof links, 0), (long)sizeof links, "send: RTM_GETLINK dump without an address");
    got = recv(nl, reply, sizeof reply, 0);
    OK(got >= (long)(sizeof *rh + sizeof(struct ifinfomsg)) && rh->nlmsg_type == RTM_NEWLINK &&
           rh->nlmsg_seq == 10 && ((struct ifinfomsg *)NLMSG_DATA(rh))->ifi_index == 1,
       "recv: the dump sent without an address lists lo");
    close(nl);
    return tap_done();
}
