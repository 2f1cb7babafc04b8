/* Sockets: socketpair(2) AF_UNIX, sendmsg(2)/recvmsg(2) with SCM_RIGHTS, sendto/recvfrom,
 * shutdown(2), socket options, bind/listen/connect/accept4 on an AF_UNIX path and on AF_INET
 * loopback, getsockname/getpeername, sendmmsg/recvmmsg. */
#include "tap.h"
#include <fcntl.h>
#include <sys/ioctl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

static void on_usr1(int sig)
{
    (void)sig;
}

static int send_creds(int fd, struct ucred creds)
{
    char byte = 'c', control[CMSG_SPACE(sizeof creds)];
    struct iovec iov = {&byte, 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_CREDENTIALS;
    cmsg->cmsg_len = CMSG_LEN(sizeof creds);
    memcpy(CMSG_DATA(cmsg), &creds, sizeof creds);
    return sendmsg(fd, &msg, 0);
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    int sv[2];
    char buf[64];

    /* socketpair */
    T_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0, "socketpair: AF_UNIX stream");
    T_ERR(socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0}), EOPNOTSUPP, "socketpair: AF_INET -> EOPNOTSUPP");
    T_ERR(socketpair(AF_UNIX, SOCK_STREAM, 0, BADPTR), EFAULT, "socketpair: bad pointer -> EFAULT");
    T_ERR(socketpair(AF_UNIX, 99, 0, (int[2]){0}), EINVAL, "socketpair: bad type -> EINVAL");
    T_ERR(socketpair(AF_UNIX, SOCK_STREAM, 99, (int[2]){0}), EPROTONOSUPPORT, "socketpair: bad protocol -> EPROTONOSUPPORT");
    T_EQ(write(sv[0], "ping", 4), 4, "socketpair: write on one end");
    T_EQ(read(sv[1], buf, sizeof buf), 4, "socketpair: read on the other");

    /* SO_PEERCRED: the peer is the process that made the pair, in the caller's terms */
    struct ucred peer = {0};
    socklen_t plen = sizeof peer;
    T_EQ(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &peer, &plen), 0, "SO_PEERCRED");
    OK(plen == sizeof peer && peer.pid == getpid() && peer.uid == getuid() && peer.gid == getgid(),
       "SO_PEERCRED: the caller's pid, uid and gid, and the length");
    int short_pid = 0;
    plen = sizeof short_pid;
    T_EQ(getsockopt(sv[1], SOL_SOCKET, SO_PEERCRED, &short_pid, &plen), 0, "SO_PEERCRED: a short buffer");
    OK(plen == sizeof short_pid && short_pid == getpid(), "SO_PEERCRED: the pid alone fits");
    plen = (socklen_t)-1;
    T_ERR(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &peer, &plen), EINVAL, "SO_PEERCRED: negative length -> EINVAL");
    plen = sizeof peer;
    T_ERR(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, BADPTR, &plen), EFAULT, "SO_PEERCRED: bad buffer -> EFAULT");
    int notsock[2];
    pipe(notsock);
    T_ERR(getsockopt(notsock[0], SOL_SOCKET, SO_PEERCRED, &peer, &plen), ENOTSOCK, "SO_PEERCRED: a pipe -> ENOTSOCK");
    /* The owner of a socket and of a pipe, read back every way */
    T_EQ(fcntl(sv[0], F_SETOWN, getpid()), 0, "F_SETOWN: the caller");
    int owner = 0;
    T_EQ(ioctl(sv[0], FIOGETOWN, &owner), 0, "FIOGETOWN");
    OK(owner == getpid(), "FIOGETOWN: the caller's pid");
    owner = 0;
    T_EQ(ioctl(sv[0], SIOCGPGRP, &owner), 0, "SIOCGPGRP");
    OK(owner == getpid(), "SIOCGPGRP: the caller's pid");
    T_ERR(ioctl(sv[0], FIOGETOWN, BADPTR), EFAULT, "FIOGETOWN: bad pointer -> EFAULT");
    struct f_owner_ex ex = {F_OWNER_TID, gettid()}, owner_ex = {0, 0};
    T_EQ(fcntl(sv[0], F_SETOWN_EX, &ex), 0, "F_SETOWN_EX: the calling thread");
    T_EQ(fcntl(sv[0], F_GETOWN_EX, &owner_ex), 0, "F_GETOWN_EX");
    OK(owner_ex.type == F_OWNER_TID && owner_ex.pid == gettid(), "F_GETOWN_EX: the type and the thread");
    T_ERR(fcntl(sv[0], F_GETOWN_EX, BADPTR), EFAULT, "F_GETOWN_EX: bad pointer -> EFAULT");
    T_EQ(fcntl(sv[1], F_SETOWN, -getpgrp()), 0, "F_SETOWN: the caller's group");
    owner = 0;
    T_EQ(ioctl(sv[1], FIOGETOWN, &owner), 0, "FIOGETOWN of a group owner");
    OK(owner == -getpgrp(), "FIOGETOWN: the group, negated");
    T_ERR(ioctl(notsock[0], FIOGETOWN, &owner), ENOTTY, "FIOGETOWN of a pipe -> ENOTTY");
    T_ERR(ioctl(notsock[0], SIOCGPGRP, &owner), ENOTTY, "SIOCGPGRP of a pipe -> ENOTTY");
    close(notsock[0]);
    close(notsock[1]);

    /* sendmsg / recvmsg with SCM_RIGHTS */
    int fd = open("passed", O_RDWR | O_CREAT, 0644);
    write(fd, "fdpass", 6);
    struct iovec iov = {"m", 1};
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    T_EQ(sendmsg(sv[0], &mh, 0), 1, "sendmsg: one byte with SCM_RIGHTS");
    char rb[4];
    struct iovec riov = {rb, sizeof rb};
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } ru;
    struct msghdr rh = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = ru.b, .msg_controllen = sizeof ru.b};
    T_EQ(recvmsg(sv[1], &rh, MSG_CMSG_CLOEXEC), 1, "recvmsg: receives the byte");
    struct cmsghdr *rc = CMSG_FIRSTHDR(&rh);
    int got = -1;
    if (rc && rc->cmsg_type == SCM_RIGHTS)
        memcpy(&got, CMSG_DATA(rc), sizeof got);
    OK(got >= 0 && got != fd, "recvmsg: a new fd arrived");
    char fb[8] = {0};
    OK(got >= 0 && pread(got, fb, 6, 0) == 6 && memcmp(fb, "fdpass", 6) == 0, "recvmsg: the fd is the same file");
    OK(got >= 0 && fcntl(got, F_GETFD) == FD_CLOEXEC, "recvmsg: MSG_CMSG_CLOEXEC applied");
    int badfd = 9999;
    memcpy(CMSG_DATA(cm), &badfd, sizeof badfd);
    T_ERR(sendmsg(sv[0], &mh, 0), EBADF, "sendmsg: SCM_RIGHTS with a bad fd -> EBADF");
    T_ERR(sendmsg(sv[0], BADPTR, 0), EFAULT, "sendmsg: bad msghdr -> EFAULT");
    T_ERR(recvmsg(sv[1], &rh, MSG_DONTWAIT), EAGAIN, "recvmsg: nothing queued, MSG_DONTWAIT -> EAGAIN");
    T_ERR(sendmsg(-1, &mh, 0), EBADF, "sendmsg: bad fd -> EBADF");
    T_ERR(sendmsg(fd, &mh, 0), ENOTSOCK, "sendmsg: not a socket -> ENOTSOCK");

    /* sendto / recvfrom / MSG_PEEK */
    T_EQ(sendto(sv[0], "abc", 3, 0, NULL, 0), 3, "sendto: connected stream, no address");
    T_EQ(recvfrom(sv[1], buf, 2, MSG_PEEK, NULL, NULL), 2, "recvfrom: MSG_PEEK");
    T_EQ(recvfrom(sv[1], buf, sizeof buf, 0, NULL, NULL), 3, "recvfrom: data still there after peek");
    T_ERR(recvfrom(sv[1], BADPTR, 0 + 4, MSG_DONTWAIT, NULL, NULL), EAGAIN, "recvfrom: empty -> EAGAIN before touching the buffer");

    /* socket options */
    int v = 0;
    socklen_t vl = sizeof v;
    T_EQ(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &vl), 0, "getsockopt: SO_TYPE");
    OK(v == SOCK_STREAM, "getsockopt: SOCK_STREAM");
    v = 65536;
    T_EQ(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v), 0, "setsockopt: SO_SNDBUF");
    T_ERR(setsockopt(sv[0], SOL_SOCKET, 9999, &v, sizeof v), ENOPROTOOPT, "setsockopt: unknown option -> ENOPROTOOPT");
    T_ERR(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, 1), EINVAL, "setsockopt: short optlen -> EINVAL");
    T_ERR(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, BADPTR, &vl), EFAULT, "getsockopt: bad buffer -> EFAULT");
    T_ERR(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl), ENOTSOCK, "getsockopt: not a socket -> ENOTSOCK");

    /* shutdown */
    T_EQ(shutdown(sv[0], SHUT_WR), 0, "shutdown: SHUT_WR");
    T_EQ(read(sv[1], buf, sizeof buf), 0, "shutdown: peer reads EOF");
    T_ERR(write(sv[0], "x", 1), EPIPE, "shutdown: write after SHUT_WR -> EPIPE");
    T_ERR(shutdown(sv[0], 99), EINVAL, "shutdown: bad how -> EINVAL");
    T_ERR(shutdown(fd, SHUT_RD), ENOTSOCK, "shutdown: not a socket -> ENOTSOCK");

    /* AF_UNIX path: socket / bind / listen / connect / accept4 / getsockname / getpeername */
    int ls = T_OK(socket(AF_UNIX, SOCK_STREAM, 0), "socket: AF_UNIX stream");
    T_ERR(socket(AF_UNIX, 99, 0), EINVAL, "socket: bad type -> EINVAL");
    T_ERR(socket(12345, SOCK_STREAM, 0), EAFNOSUPPORT, "socket: bad family -> EAFNOSUPPORT");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, "sock");
    T_EQ(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0, "bind: AF_UNIX path in the work dir");
    T_ERR(bind(ls, (struct sockaddr *)&(struct sockaddr_un){AF_UNIX, "other"}, sizeof sa), EINVAL,
          "bind: already bound, another path -> EINVAL");
    int ls2 = socket(AF_UNIX, SOCK_STREAM, 0);
    T_ERR(bind(ls2, (struct sockaddr *)&sa, sizeof sa), EADDRINUSE, "bind: path exists -> EADDRINUSE");
    T_ERR(bind(ls2, BADPTR, sizeof sa), EFAULT, "bind: bad address -> EFAULT");
    T_EQ(listen(ls, 4), 0, "listen: on the bound socket");
    T_ERR(listen(fd, 4), ENOTSOCK, "listen: not a socket -> ENOTSOCK");
    int cs = socket(AF_UNIX, SOCK_STREAM, 0);
    T_EQ(connect(cs, (struct sockaddr *)&sa, sizeof sa), 0, "connect: to the listener");
    T_ERR(connect(ls2, (struct sockaddr *)&(struct sockaddr_un){AF_UNIX, "nosock"}, sizeof sa), ENOENT, "connect: missing path -> ENOENT");
    int as = T_OK(accept4(ls, NULL, NULL, SOCK_CLOEXEC), "accept4: SOCK_CLOEXEC");
    OK(fcntl(as, F_GETFD) == FD_CLOEXEC, "accept4: close-on-exec set");
    T_ERR(accept4(ls, NULL, NULL, 0x1), EINVAL, "accept4: bad flags -> EINVAL");
    struct sockaddr_un nm;
    socklen_t nl = sizeof nm;
    T_EQ(getsockname(ls, (struct sockaddr *)&nm, &nl), 0, "getsockname: the listener");
    OK(strcmp(nm.sun_path, "sock") == 0, "getsockname: bound path");
    nl = sizeof nm;
    T_EQ(getpeername(cs, (struct sockaddr *)&nm, &nl), 0, "getpeername: the client's peer");
    OK(strcmp(nm.sun_path, "sock") == 0, "getpeername: the listener's path");
    T_ERR(getpeername(ls, (struct sockaddr *)&nm, &nl), ENOTCONN, "getpeername: listener -> ENOTCONN");
    int ac2 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    bind(ac2, (struct sockaddr *)&(struct sockaddr_un){AF_UNIX, "sock2"}, sizeof sa);
    listen(ac2, 1);
    T_ERR(accept(ac2, NULL, NULL), EAGAIN, "accept: non-blocking, no client -> EAGAIN");

    /* sendmmsg / recvmmsg on a datagram pair */
    int dv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, dv);
    struct iovec i1 = {"one", 3}, i2 = {"two!", 4};
    struct mmsghdr mm[2] = {{.msg_hdr = {.msg_iov = &i1, .msg_iovlen = 1}}, {.msg_hdr = {.msg_iov = &i2, .msg_iovlen = 1}}};
    T_EQ(sendmmsg(dv[0], mm, 2, 0), 2, "sendmmsg: two datagrams");
    char b1[8], b2[8];
    struct iovec r1 = {b1, 8}, r2 = {b2, 8};
    struct mmsghdr rm[2] = {{.msg_hdr = {.msg_iov = &r1, .msg_iovlen = 1}}, {.msg_hdr = {.msg_iov = &r2, .msg_iovlen = 1}}};
    T_EQ(recvmmsg(dv[1], rm, 2, MSG_DONTWAIT, NULL), 2, "recvmmsg: two datagrams");
    OK(rm[0].msg_len == 3 && rm[1].msg_len == 4, "recvmmsg: datagram boundaries kept");
    T_ERR(recvmmsg(dv[1], rm, 2, MSG_DONTWAIT, NULL), EAGAIN, "recvmmsg: empty -> EAGAIN");

    /* A blocking sendmsg with SCM_RIGHTS waits until the peer reads (the queue is full
     * first); the fd it carries arrives. */
    int fv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, fv);
    int small = 4096;
    setsockopt(fv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    char chunk[1024] = {0};
    int queued = 0;
    while (send(fv[0], chunk, sizeof chunk, MSG_DONTWAIT) > 0)
        queued += (int)sizeof chunk;
    fflush(stdout);
    pid_t reader = fork();
    if (reader == 0) {
        char sink[4096];
        int want = queued + 1, have = 0;
        while (have < want) {
            ssize_t n = read(fv[1], sink, sizeof sink);
            if (n <= 0)
                _exit(1);
            have += (int)n;
        }
        _exit(0);
    }
    struct iovec one = {"!", 1};
    char ctl[CMSG_SPACE(sizeof(int))] = {0};
    struct msghdr fm = {.msg_iov = &one, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    struct cmsghdr *fc = CMSG_FIRSTHDR(&fm);
    fc->cmsg_level = SOL_SOCKET;
    fc->cmsg_type = SCM_RIGHTS;
    fc->cmsg_len = CMSG_LEN(sizeof(int));
    int passed = 0;
    memcpy(CMSG_DATA(fc), &passed, sizeof passed);
    T_EQ(sendmsg(fv[0], &fm, 0), 1, "sendmsg: SCM_RIGHTS on a full stream waits for the reader");
    int rstatus = -1;
    waitpid(reader, &rstatus, 0);
    OK(WIFEXITED(rstatus) && WEXITSTATUS(rstatus) == 0, "sendmsg: the reader got every byte");

    /* A signal with a handler interrupts a blocking sendmsg on a full stream: EINTR without
     * SA_RESTART; with SA_RESTART the send restarts and completes once the peer reads. */
    int iv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, iv);
    setsockopt(iv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    int filled = 0;
    while (send(iv[0], chunk, sizeof chunk, MSG_DONTWAIT) > 0)
        filled += (int)sizeof chunk;
    memcpy(CMSG_DATA(fc), &passed, sizeof passed);
    for (int restart = 0; restart <= 1; restart++) {
        struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = restart ? SA_RESTART : 0};
        sigaction(SIGUSR1, &sa, NULL);
        int done[2];
        pipe(done);
        pid_t me = getpid();
        fflush(stdout);
        pid_t poker = fork();
        if (poker == 0) {
            /* Without SA_RESTART: signal until the send has returned (only EINTR can end it,
             * nobody reads). With SA_RESTART: signal a thousand times, then read everything,
             * so that the restarted send completes. */
            close(done[1]);
            if (!restart) {
                struct pollfd p = {.fd = done[0], .events = POLLIN};
                do
                    kill(me, SIGUSR1);
                while (poll(&p, 1, 0) == 0);
                _exit(0);
            }
            for (int i = 0; i < 1000; i++)
                kill(me, SIGUSR1);
            char sink[4096];
            int want = filled + 1, have = 0;
            while (have < want) {
                ssize_t n = read(iv[1], sink, sizeof sink);
                if (n <= 0)
                    _exit(1);
                have += (int)n;
            }
            _exit(0);
        }
        close(done[0]);
        errno = 0;
        ssize_t r = sendmsg(iv[0], &fm, 0);
        int err = errno;
        (void)!write(done[1], "x", 1);
        close(done[1]);
        if (restart)
            OK(r == 1, "sendmsg: with SA_RESTART, restarts and completes (%zd %s)", r, strerror(err));
        else
            OK(r == -1 && err == EINTR, "sendmsg: a signal without SA_RESTART -> EINTR (%zd %s)", r, strerror(err));
        waitpid(poker, NULL, 0);
    }
    signal(SIGUSR1, SIG_DFL);

    /* An unconnected datagram socket sends to a bound path by msg_name. */
    unlink("dg.sock");
    int dr = socket(AF_UNIX, SOCK_DGRAM, 0), ds = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un du = {.sun_family = AF_UNIX};
    strcpy(du.sun_path, "dg.sock");
    T_EQ(bind(dr, (struct sockaddr *)&du, sizeof du), 0, "bind: datagram socket at a path");
    struct iovec hi = {"hi", 2};
    struct msghdr dm = {.msg_name = &du, .msg_namelen = sizeof du, .msg_iov = &hi, .msg_iovlen = 1};
    T_EQ(sendmsg(ds, &dm, 0), 2, "sendmsg: to a path by msg_name");
    char dbuf[4] = {0};
    OK(recv(dr, dbuf, sizeof dbuf, MSG_DONTWAIT) == 2 && memcmp(dbuf, "hi", 2) == 0, "recv: the datagram sent by msg_name");
    unlink("dg.sock");

    /* AF_INET on loopback: natively and on the sandbox's own loopback (inet.c has more). */
    errno = 0;
    int is = socket(AF_INET, SOCK_STREAM, 0);
    tap_ok(is >= 0, "socket: AF_INET stream -> %s", is >= 0 ? "fd" : tap_seen(-1, errno));
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    T_IS(bind(is, (struct sockaddr *)&in, sizeof in), 0, "bind: AF_INET loopback, port 0");
    socklen_t il = sizeof in;
    getsockname(is, (struct sockaddr *)&in, &il);
    OK(in.sin_port != 0, "getsockname: kernel chose a port");
    T_IS_ERR(bind(is, (struct sockaddr *)&in, 4), EINVAL, "bind: short AF_INET address");
    /* SCM_CREDENTIALS: a process names itself and its own ids, or has the capability.
     * (What the receiver gets is not compared: the sandbox never receives them, see the
     * README.) */
    int cp[2];
    T_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, cp), 0, "socketpair: for SCM_CREDENTIALS");
    struct ucred mine = {getpid(), getuid(), getgid()};
    T_EQ(send_creds(cp[0], mine), 1, "sendmsg: SCM_CREDENTIALS of the sender");
    struct ucred other = {getpid(), 4321, getgid()};
    T_EQ(send_creds(cp[0], other), 1, "sendmsg: root may name another uid");
    fflush(stdout);
    pid_t cc = fork();
    if (cc == 0) {
        /* A process that dropped to nobody names only itself and its own ids. */
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(9);
        int bits = 0;
        struct ucred parent = {getppid(), 65534, 65534};
        if (send_creds(cp[0], parent) == -1 && errno == EPERM)
            bits |= 1;
        struct ucred as_root = {getpid(), 0, 65534};
        if (send_creds(cp[0], as_root) == -1 && errno == EPERM)
            bits |= 2;
        struct ucred self = {getpid(), 65534, 65534};
        if (send_creds(cp[0], self) == 1)
            bits |= 4;
        _exit(bits);
    }
    int cst;
    waitpid(cc, &cst, 0);
    int bits = WIFEXITED(cst) ? WEXITSTATUS(cst) : 0;
    OK(bits & 1, "sendmsg: nobody naming another process -> EPERM");
    OK(bits & 2, "sendmsg: nobody naming uid 0 -> EPERM");
    OK(bits & 4, "sendmsg: nobody naming itself and its ids");
    close(cp[0]);
    close(cp[1]);
    return tap_done();
}
