/* Readiness and events: epoll(7) calls, poll(2)/ppoll, select(2)/pselect6, eventfd2(2),
 * inotify(7) calls. */
#include "tap.h"
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/select.h>
#include <sys/time.h>

static volatile sig_atomic_t ticks;
static void on_alarm(int s) { (void)s; ticks++; }

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    int p[2];
    pipe(p);

    /* epoll */
    int ep = T_OK(epoll_create1(EPOLL_CLOEXEC), "epoll_create1: EPOLL_CLOEXEC");
    T_ERR(epoll_create1(0x1), EINVAL, "epoll_create1: bad flags -> EINVAL");
    int ep2 = T_OK(syscall(SYS_epoll_create, 1), "epoll_create: size 1");
    T_ERR(syscall(SYS_epoll_create, 0), EINVAL, "epoll_create: size 0 -> EINVAL");
    close(ep2);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 77}, out[4];
    T_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), 0, "epoll_ctl: ADD the read end");
    T_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), EEXIST, "epoll_ctl: ADD twice -> EEXIST");
    T_ERR(epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev), ENOENT, "epoll_ctl: MOD unknown fd -> ENOENT");
    T_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL, "epoll_ctl: add itself -> EINVAL");
    T_ERR(epoll_ctl(ep, 99, p[0], &ev), EINVAL, "epoll_ctl: bad op -> EINVAL");
    T_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, -1, &ev), EBADF, "epoll_ctl: bad fd -> EBADF");
    int reg = open(".", O_RDONLY);
    T_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, reg, &ev), EPERM, "epoll_ctl: a directory (no poll) -> EPERM");
    close(reg);
    T_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], BADPTR), EFAULT, "epoll_ctl: bad event pointer -> EFAULT");
    T_EQ(epoll_wait(ep, out, 4, 0), 0, "epoll_wait: nothing ready");
    write(p[1], "x", 1);
    T_EQ(epoll_wait(ep, out, 4, 0), 1, "epoll_wait: the pipe is readable");
    OK(out[0].events == EPOLLIN && out[0].data.u64 == 77, "epoll_wait: events and data");
    T_ERR(epoll_wait(ep, out, 0, 0), EINVAL, "epoll_wait: maxevents 0 -> EINVAL");
    T_ERR(epoll_wait(ep, BADPTR, 4, 0), EFAULT, "epoll_wait: bad buffer -> EFAULT");
    T_ERR(epoll_wait(p[0], out, 4, 0), EINVAL, "epoll_wait: not an epoll fd -> EINVAL");
    sigset_t m;
    sigemptyset(&m);
    T_EQ(epoll_pwait(ep, out, 4, 0, &m), 1, "epoll_pwait: with a mask");
    struct timespec zt = {0, 0};
    T_EQ(syscall(SYS_epoll_pwait2, ep, out, 4, &zt, NULL, 8), 1, "epoll_pwait2: timespec timeout");
    struct timespec bt = {0, -1};
    T_ERR(syscall(SYS_epoll_pwait2, ep, out, 4, &bt, NULL, 8), EINVAL, "epoll_pwait2: bad timeout -> EINVAL");
    ev.events = EPOLLIN | EPOLLET;
    T_EQ(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev), 0, "epoll_ctl: MOD to edge-triggered");
    T_EQ(epoll_wait(ep, out, 4, 0), 1, "epoll_wait: edge reported once");
    T_EQ(epoll_wait(ep, out, 4, 0), 0, "epoll_wait: edge not repeated");
    T_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL), 0, "epoll_ctl: DEL");
    char c;
    read(p[0], &c, 1);

    /* poll / ppoll */
    struct pollfd pf[2] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}};
    T_EQ(poll(pf, 2, 0), 1, "poll: only the write end is ready");
    OK(pf[1].revents == POLLOUT && pf[0].revents == 0, "poll: revents");
    struct pollfd bad = {9999, POLLIN, 0};
    T_EQ(poll(&bad, 1, 0), 1, "poll: closed fd counts as ready");
    OK(bad.revents == POLLNVAL, "poll: POLLNVAL for a closed fd");
    T_ERR(poll(BADPTR, 1, 0), EFAULT, "poll: bad pointer -> EFAULT");
    T_ERR(poll(pf, 1 << 30, 0), EINVAL, "poll: nfds over RLIMIT_NOFILE -> EINVAL");
    T_EQ(ppoll(pf, 2, &zt, NULL), 1, "ppoll: zero timeout");
    T_ERR(ppoll(pf, 2, &bt, NULL), EINVAL, "ppoll: bad timeout -> EINVAL");
    /* EINTR: poll(2) with no timeout is interrupted by a handled signal. */
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 2000}, {0, 2000}}, zero = {0};
    setitimer(ITIMER_REAL, &it, NULL);
    T_ERR(poll(pf, 1, -1), EINTR, "poll: interrupted by a signal -> EINTR");
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    T_ERR(select(p[0] + 1, &rs, NULL, NULL, NULL), EINTR, "select: interrupted by a signal -> EINTR");
    setitimer(ITIMER_REAL, &zero, NULL);

    /* select / pselect6 */
    fd_set ws;
    FD_ZERO(&rs);
    FD_ZERO(&ws);
    FD_SET(p[0], &rs);
    FD_SET(p[1], &ws);
    struct timeval tv = {0, 0};
    T_EQ(select(p[1] + 1, &rs, &ws, NULL, &tv), 1, "select: write end ready");
    OK(FD_ISSET(p[1], &ws) && !FD_ISSET(p[0], &rs), "select: sets updated");
    T_ERR(select(-1, NULL, NULL, NULL, &tv), EINVAL, "select: negative nfds -> EINVAL");
    FD_ZERO(&rs);
    int cl = dup(p[0]);
    close(cl);
    FD_SET(cl, &rs);
    T_ERR(select(cl + 1, &rs, NULL, NULL, &tv), EBADF, "select: closed fd in the set -> EBADF");
    struct timeval btv = {0, -5};
    T_ERR(select(1, NULL, NULL, NULL, &btv), EINVAL, "select: bad timeout -> EINVAL");
    FD_ZERO(&ws);
    FD_SET(p[1], &ws);
    T_EQ(pselect(p[1] + 1, NULL, &ws, NULL, &zt, NULL), 1, "pselect6: write end ready");
    T_ERR(pselect(1, NULL, NULL, NULL, &bt, NULL), EINVAL, "pselect6: bad timeout -> EINVAL");

    /* eventfd2 */
    int efd = T_OK(eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd2: initial value 3");
    uint64_t v = 0;
    T_EQ(read(efd, &v, 8), 8, "eventfd2: read");
    OK(v == 3, "eventfd2: value 3, counter reset");
    T_ERR(read(efd, &v, 8), EAGAIN, "eventfd2: empty -> EAGAIN");
    v = 5;
    T_EQ(write(efd, &v, 8), 8, "eventfd2: write adds");
    v = UINT64_MAX;
    T_ERR(write(efd, &v, 8), EINVAL, "eventfd2: write of 2^64-1 -> EINVAL");
    T_ERR(read(efd, &v, 4), EINVAL, "eventfd2: short read -> EINVAL");
    int sem = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    read(sem, &v, 8);
    OK(v == 1, "eventfd2: EFD_SEMAPHORE reads 1");
    T_ERR(eventfd(0, 0x2), EINVAL, "eventfd2: bad flags -> EINVAL");
    T_OK(syscall(SYS_eventfd, 0), "eventfd: legacy call");

    /* inotify */
    int in = T_OK(inotify_init1(IN_NONBLOCK | IN_CLOEXEC), "inotify_init1: nonblocking");
    T_ERR(inotify_init1(0x1), EINVAL, "inotify_init1: bad flags -> EINVAL");
    T_OK(syscall(SYS_inotify_init), "inotify_init: legacy call");
    int wd = T_OK(inotify_add_watch(in, ".", IN_CREATE | IN_DELETE), "inotify_add_watch: the work dir");
    tap_write_file("newfile", "x");
    char ib[4096];
    long n = T_OK(read(in, ib, sizeof ib), "inotify_add_watch: an event is queued");
    struct inotify_event *ie = (struct inotify_event *)ib;
    OK(n > 0 && (ie->mask & IN_CREATE) && strcmp(ie->name, "newfile") == 0, "inotify_add_watch: IN_CREATE newfile");
    T_ERR(read(in, ib, sizeof ib), EAGAIN, "inotify_init1: queue empty -> EAGAIN");
    T_ERR(inotify_add_watch(in, "missing", IN_CREATE), ENOENT, "inotify_add_watch: missing path -> ENOENT");
    T_ERR(inotify_add_watch(in, ".", 0), EINVAL, "inotify_add_watch: empty mask -> EINVAL");
    T_ERR(inotify_add_watch(p[0], ".", IN_CREATE), EINVAL, "inotify_add_watch: not an inotify fd -> EINVAL");
    T_EQ(inotify_rm_watch(in, wd), 0, "inotify_rm_watch: removes");
    T_ERR(inotify_rm_watch(in, wd), EINVAL, "inotify_rm_watch: again -> EINVAL");
    return tap_done();
}
