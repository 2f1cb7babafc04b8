/* AF_UNIX sockets named by path: bind(2), connect(2), sendto(2) on a datagram socket, the
 * socket inode (stat, unlink), errors from unix(7), abstract names (a NUL first byte), and
 * the names recvfrom(2), recvmsg(2) and getsockname(2) give. */
#include "tap.h"
#include <grp.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

static socklen_t mkaddr(struct sockaddr_un *a, const char *p)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    snprintf(a->sun_path, sizeof a->sun_path, "%s", p);
    return offsetof(struct sockaddr_un, sun_path) + strlen(p) + 1;
}

static int connect_as_nobody(void *a)
{
    (void)a;
    if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
        return 1;
    struct sockaddr_un sa;
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    socklen_t l = mkaddr(&sa, "closed/s");
    int bits = 0;
    if (connect(s, (struct sockaddr *)&sa, l) == -1 && errno == EACCES)
        bits |= 1;
    l = mkaddr(&sa, "priv-sock");
    if (connect(s, (struct sockaddr *)&sa, l) == -1 && errno == EACCES)
        bits |= 2;
    int b = socket(AF_UNIX, SOCK_STREAM, 0);
    l = mkaddr(&sa, "closed/new");
    if (bind(b, (struct sockaddr *)&sa, l) == -1 && errno == EACCES)
        bits |= 4;
    return bits == 7 ? 0 : 10 + bits;
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    struct sockaddr_un sa, nm;
    socklen_t l, nl;
    struct stat st;
    char buf[64];
    tap_write_file("file", "x");
    mkdir("d", 0755);
    int dfd = open("d", O_RDONLY | O_DIRECTORY);

    /* bind */
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    l = mkaddr(&sa, "s");
    T_EQ(bind(ls, (struct sockaddr *)&sa, l), 0, "bind: AF_UNIX relative path");
    T_EQ(stat("s", &st), 0, "bind: creates the socket inode");
    OK(S_ISSOCK(st.st_mode), "bind: the inode is S_IFSOCK");
    OK((st.st_mode & 0777) == 0755, "bind: mode 0777 & ~umask");
    T_EQ(listen(ls, 8), 0, "listen: on the path socket");
    int b2 = socket(AF_UNIX, SOCK_STREAM, 0);
    T_ERR(bind(b2, (struct sockaddr *)&sa, l), EADDRINUSE, "bind: path exists (socket) -> EADDRINUSE");
    l = mkaddr(&sa, "file");
    T_ERR(bind(b2, (struct sockaddr *)&sa, l), EADDRINUSE, "bind: path exists (file) -> EADDRINUSE");
    l = mkaddr(&sa, "nope/s");
    T_ERR(bind(b2, (struct sockaddr *)&sa, l), ENOENT, "bind: missing directory -> ENOENT");
    l = mkaddr(&sa, "file/s");
    T_ERR(bind(b2, (struct sockaddr *)&sa, l), ENOTDIR, "bind: through a file -> ENOTDIR");
    l = mkaddr(&sa, "d/s");
    T_EQ(bind(b2, (struct sockaddr *)&sa, l), 0, "bind: in a subdirectory");
    char cwd[4096];
    getcwd(cwd, sizeof cwd);
    int b3 = socket(AF_UNIX, SOCK_DGRAM, 0);
    char absp[4200];
    snprintf(absp, sizeof absp, "%s/dg", cwd);
    l = mkaddr(&sa, strlen(absp) < sizeof sa.sun_path ? absp : "dg");
    T_EQ(bind(b3, (struct sockaddr *)&sa, l), 0, "bind: absolute path, datagram socket");
    int b4 = socket(AF_UNIX, SOCK_STREAM, 0);
    T_ERR(bind(b4, (struct sockaddr *)&sa, 1), EINVAL, "bind: addrlen < sizeof(sa_family_t) -> EINVAL");
    T_ERR(bind(b4, (struct sockaddr *)&sa, sizeof sa + 1), EINVAL, "bind: addrlen > sizeof(sockaddr_un) -> EINVAL");
    struct sockaddr_un wrong = sa;
    wrong.sun_family = AF_INET;
    T_ERR(bind(b4, (struct sockaddr *)&wrong, l), EINVAL, "bind: wrong family -> EINVAL");
    T_ERR(bind(b4, BADPTR, l), EFAULT, "bind: bad address -> EFAULT");
    T_ERR(bind(-1, (struct sockaddr *)&sa, l), EBADF, "bind: bad fd -> EBADF");
    int ffd = open("file", O_RDONLY);
    T_ERR(bind(ffd, (struct sockaddr *)&sa, l), ENOTSOCK, "bind: not a socket -> ENOTSOCK");
    symlink("s", "slink");
    l = mkaddr(&sa, "slink");
    T_ERR(bind(b4, (struct sockaddr *)&sa, l), EADDRINUSE, "bind: an existing symlink -> EADDRINUSE");
    /* autobind: addrlen == sizeof(sa_family_t) picks an abstract name (unix(7)). */
    int ab = socket(AF_UNIX, SOCK_STREAM, 0);
    T_IS(bind(ab, (struct sockaddr *)&sa, sizeof(sa_family_t)), 0, "bind: autobind (addrlen 2)");
    nl = sizeof nm;
    getsockname(ab, (struct sockaddr *)&nm, &nl);
    OK(nl == offsetof(struct sockaddr_un, sun_path) + 6 && nm.sun_path[0] == 0, "getsockname: autobind gave a 5-byte abstract name");

    /* connect */
    int cs = socket(AF_UNIX, SOCK_STREAM, 0);
    l = mkaddr(&sa, "s");
    T_EQ(connect(cs, (struct sockaddr *)&sa, l), 0, "connect: to the listener by relative path");
    int as = accept(ls, NULL, NULL);
    OK(as >= 0 && write(cs, "hi", 2) == 2 && read(as, buf, sizeof buf) == 2, "connect: data flows to the accepted socket");
    nl = sizeof nm;
    T_EQ(getpeername(cs, (struct sockaddr *)&nm, &nl), 0, "getpeername: the listener");
    if (!OK(nl == offsetof(struct sockaddr_un, sun_path) + 2 && strcmp(nm.sun_path, "s") == 0, "getpeername: the path as bound"))
        tap_diag("getpeername gave length %u, path '%.*s'", (unsigned)nl, (int)sizeof nm.sun_path, nm.sun_path);
    nl = sizeof nm;
    T_EQ(getsockname(as, (struct sockaddr *)&nm, &nl), 0, "getsockname: the accepted socket");
    OK(nl == offsetof(struct sockaddr_un, sun_path) + 2 && strcmp(nm.sun_path, "s") == 0,
       "getsockname: an accepted socket has its listener's name");
    nl = sizeof nm;
    T_EQ(getpeername(as, (struct sockaddr *)&nm, &nl), 0, "getpeername: the accepted socket");
    OK(nl == offsetof(struct sockaddr_un, sun_path), "getpeername: an unbound client has no name");
    int cs2 = socket(AF_UNIX, SOCK_STREAM, 0);
    l = mkaddr(&sa, "slink");
    T_EQ(connect(cs2, (struct sockaddr *)&sa, l), 0, "connect: through a symlink to the socket");
    int cs3 = socket(AF_UNIX, SOCK_STREAM, 0);
    l = mkaddr(&sa, "missing");
    T_ERR(connect(cs3, (struct sockaddr *)&sa, l), ENOENT, "connect: missing path -> ENOENT");
    l = mkaddr(&sa, "file");
    T_ERR(connect(cs3, (struct sockaddr *)&sa, l), ECONNREFUSED, "connect: a regular file -> ECONNREFUSED");
    l = mkaddr(&sa, "d");
    T_ERR(connect(cs3, (struct sockaddr *)&sa, l), ECONNREFUSED, "connect: a directory -> ECONNREFUSED");
    l = mkaddr(&sa, "d/s");
    T_ERR(connect(cs3, (struct sockaddr *)&sa, l), ECONNREFUSED, "connect: bound but not listening -> ECONNREFUSED");
    l = mkaddr(&sa, "file/s");
    T_ERR(connect(cs3, (struct sockaddr *)&sa, l), ENOTDIR, "connect: through a file -> ENOTDIR");
    l = mkaddr(&sa, "dg");
    T_ERR(connect(cs3, (struct sockaddr *)&sa, l), EPROTOTYPE, "connect: stream to a datagram socket -> EPROTOTYPE");
    T_ERR(connect(cs3, BADPTR, l), EFAULT, "connect: bad address -> EFAULT");
    T_ERR(connect(cs3, (struct sockaddr *)&sa, sizeof sa + 1), EINVAL, "connect: addrlen too large -> EINVAL");
    T_ERR(connect(-1, (struct sockaddr *)&sa, l), EBADF, "connect: bad fd -> EBADF");
    l = mkaddr(&sa, "s");
    T_ERR(connect(cs, (struct sockaddr *)&sa, l), EISCONN, "connect: already connected -> EISCONN");
    l = mkaddr(&sa, "missing");
    T_ERR(connect(cs, (struct sockaddr *)&sa, l), ENOENT, "connect: a connected socket to a missing path -> ENOENT (the name first)");
    T_EQ(symlink("nowhere", "dangling"), 0, "symlink: a dangling link");
    l = mkaddr(&sa, "dangling");
    T_ERR(connect(cs3, (struct sockaddr *)&sa, l), ENOENT, "connect: a dangling symlink -> ENOENT");
    unlink("dangling");

    /* datagrams by path */
    int ds = socket(AF_UNIX, SOCK_DGRAM, 0);
    l = mkaddr(&sa, "dg");
    T_EQ(sendto(ds, "dgram", 5, 0, (struct sockaddr *)&sa, l), 5, "sendto: a datagram to a bound path");
    T_EQ(recv(b3, buf, sizeof buf, MSG_DONTWAIT), 5, "sendto: the datagram arrived");
    l = mkaddr(&sa, "nowhere");
    T_ERR(sendto(ds, "x", 1, 0, (struct sockaddr *)&sa, l), ENOENT, "sendto: missing path -> ENOENT");
    l = mkaddr(&sa, "s");
    T_ERR(sendto(ds, "x", 1, 0, (struct sockaddr *)&sa, l), EPROTOTYPE, "sendto: datagram to a stream socket -> EPROTOTYPE");
    l = mkaddr(&sa, "dg");
    T_EQ(connect(ds, (struct sockaddr *)&sa, l), 0, "connect: a datagram socket to a path");
    T_EQ(send(ds, "again", 5, 0), 5, "connect: then send without an address");

    /* permissions, as nobody */
    mkdir("closed", 0700);
    int cl = socket(AF_UNIX, SOCK_STREAM, 0);
    l = mkaddr(&sa, "closed/s");
    bind(cl, (struct sockaddr *)&sa, l);
    listen(cl, 1);
    int pv = socket(AF_UNIX, SOCK_STREAM, 0);
    l = mkaddr(&sa, "priv-sock");
    bind(pv, (struct sockaddr *)&sa, l);
    listen(pv, 1);
    chmod("priv-sock", 0700);
    chmod(".", 0755);
    T_EQ(tap_in_child(connect_as_nobody, NULL), 0, "connect: as nobody, no search or write permission -> EACCES");

    /* the inode outlives the socket; unlink frees the name */
    close(b2);
    T_EQ(access("d/s", F_OK), 0, "close: the socket inode stays after close");
    int b5 = socket(AF_UNIX, SOCK_STREAM, 0);
    l = mkaddr(&sa, "d/s");
    T_ERR(bind(b5, (struct sockaddr *)&sa, l), EADDRINUSE, "bind: a stale socket inode -> EADDRINUSE");
    T_EQ(unlinkat(dfd, "s", 0), 0, "unlink: the socket inode");
    T_EQ(bind(b5, (struct sockaddr *)&sa, l), 0, "bind: the path again after unlink");

    /* abstract names: the sentry refuses them for now (its .expect-sentry). */
    int xa = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un an = {.sun_family = AF_UNIX};
    memcpy(an.sun_path, "\0conformance-abstract", 21);
    socklen_t al = offsetof(struct sockaddr_un, sun_path) + 21;
    T_IS(bind(xa, (struct sockaddr *)&an, al), 0, "bind: an abstract name");
    T_IS(listen(xa, 1), 0, "listen: on the abstract socket");
    int xc = socket(AF_UNIX, SOCK_STREAM, 0);
    T_IS(connect(xc, (struct sockaddr *)&an, al), 0, "connect: to the abstract name");
    close(xa);
    close(xc);

    /* A datagram's sender, named by the path it bound (recvfrom, recvmsg); a name cut at the
     * caller's buffer, with its whole length. */
    mkdir("senders", 0755);
    int from = socket(AF_UNIX, SOCK_DGRAM, 0), to = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un fa, ta;
    socklen_t fl = mkaddr(&fa, "senders/a"), tl = mkaddr(&ta, "senders/b");
    T_EQ(bind(from, (struct sockaddr *)&fa, fl) | bind(to, (struct sockaddr *)&ta, tl), 0,
         "bind: two datagram sockets");
    T_EQ(sendto(from, "a", 1, 0, (struct sockaddr *)&ta, tl), 1, "sendto: a datagram");
    struct sockaddr_un got;
    socklen_t gl = sizeof got;
    char byte;
    memset(&got, 0, sizeof got);
    T_EQ(recvfrom(to, &byte, 1, MSG_DONTWAIT, (struct sockaddr *)&got, &gl), 1, "recvfrom: the datagram");
    OK(gl == offsetof(struct sockaddr_un, sun_path) + 10 && strcmp(got.sun_path, "senders/a") == 0,
       "recvfrom: the sender's name is the path it bound");
    sendto(from, "b", 1, 0, (struct sockaddr *)&ta, tl);
    struct iovec iov = {&byte, 1};
    struct msghdr mh = {.msg_name = &got, .msg_namelen = sizeof got, .msg_iov = &iov, .msg_iovlen = 1};
    memset(&got, 0, sizeof got);
    T_EQ(recvmsg(to, &mh, MSG_DONTWAIT), 1, "recvmsg: the datagram");
    OK(mh.msg_namelen == offsetof(struct sockaddr_un, sun_path) + 10 && strcmp(got.sun_path, "senders/a") == 0,
       "recvmsg: the sender's name is the path it bound");
    memset(&got, 'x', sizeof got);
    gl = offsetof(struct sockaddr_un, sun_path) + 3;
    T_EQ(getsockname(from, (struct sockaddr *)&got, &gl), 0, "getsockname: into a short buffer");
    OK(gl == offsetof(struct sockaddr_un, sun_path) + 10 && memcmp(got.sun_path, "senxxx", 6) == 0,
       "getsockname: the name cut at the buffer's end, its whole length returned");
    /* An accepted client that bound a path, named by it. */
    int listener = socket(AF_UNIX, SOCK_STREAM, 0), client = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un la, ca;
    socklen_t ll = mkaddr(&la, "senders/l"), cll = mkaddr(&ca, "senders/c");
    bind(listener, (struct sockaddr *)&la, ll);
    listen(listener, 1);
    bind(client, (struct sockaddr *)&ca, cll);
    T_EQ(connect(client, (struct sockaddr *)&la, ll), 0, "connect: a client that bound a path");
    memset(&got, 0, sizeof got);
    gl = sizeof got;
    int accepted = accept(listener, (struct sockaddr *)&got, &gl);
    OK(accepted >= 0 && gl == offsetof(struct sockaddr_un, sun_path) + 10 && strcmp(got.sun_path, "senders/c") == 0,
       "accept: the client's name is the path it bound");
    close(accepted);
    close(client);
    close(listener);
    close(from);
    close(to);
    close(dfd);
    close(ffd);
    return tap_done();
}
