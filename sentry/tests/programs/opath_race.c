/* opath_race: a thread makes O_PATH opens while the other threads attack how the fd reaches
 * it. The sentry hands an O_PATH fd over in steps the task runs itself (a helper socket is
 * installed, the task receives the fd on it, moves it to the helper's number and closes the
 * spare), with the opener's signals masked in between. The attackers:
 *  - a thief duplicates every socket that appears in the table (a helper), tries to send on
 *    it (it must reach nothing: its peer is gone) and to receive on it (it may steal the
 *    opener's fd: only that file may come);
 *  - a signaller floods the opener with a signal it handles.
 * Every fd an open returns must be an O_PATH fd of the file opened; the opener's signal mask
 * must be its own after every open; at the end no socket is left in the table. */
#include "prog.h"
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define OPENS 150

static volatile int stop;
static volatile pid_t opener_tid;
static struct stat want;
static volatile int sent, stolen_wrong, handled;

static void on_usr1(int sig)
{
    (void)sig;
    handled++;
}

static int is_socket(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void *thief(void *a)
{
    (void)a;
    while (!stop) {
        for (int n = 3; n < 16; n++) {
            if (!is_socket(n))
                continue;
            int kept = dup(n);
            if (kept < 0)
                continue;
            if (send(kept, "x", 1, MSG_DONTWAIT) >= 0)
                sent++;
            char byte;
            char space[CMSG_SPACE(sizeof(int))];
            struct iovec iov = {&byte, 1};
            struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = space, .msg_controllen = sizeof space};
            if (recvmsg(kept, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) == 1) {
                struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
                if (c && c->cmsg_type == SCM_RIGHTS) {
                    int got;
                    memcpy(&got, CMSG_DATA(c), sizeof got);
                    struct stat st;
                    if (fstat(got, &st) != 0 || st.st_ino != want.st_ino || st.st_dev != want.st_dev)
                        stolen_wrong++;
                    close(got);
                }
            }
            close(kept);
        }
    }
    return 0;
}

static void *signaller(void *a)
{
    (void)a;
    while (!stop)
        syscall(SYS_tgkill, getpid(), opener_tid, SIGUSR1);
    return 0;
}

static int opens_ok, opens_failed, wrong, mask_changed;

static void *opener(void *a)
{
    (void)a;
    opener_tid = (pid_t)syscall(SYS_gettid);
    sigset_t own, now;
    sigemptyset(&own);
    sigaddset(&own, SIGUSR2);
    must(pthread_sigmask(SIG_SETMASK, &own, NULL) == 0);
    for (int i = 0; i < OPENS; i++) {
        int fd = open("/", O_PATH | O_DIRECTORY | (i & 1 ? O_CLOEXEC : 0));
        pthread_sigmask(SIG_SETMASK, NULL, &now);
        if (sigismember(&now, SIGUSR1) || !sigismember(&now, SIGUSR2))
            mask_changed++;
        if (fd < 0) {
            opens_failed++;
            continue;
        }
        struct stat st;
        int fl = fcntl(fd, F_GETFL);
        if (fstat(fd, &st) != 0 || st.st_ino != want.st_ino || st.st_dev != want.st_dev || fl < 0 ||
            !(fl & O_PATH))
            wrong++;
        else
            opens_ok++;
        close(fd);
    }
    return 0;
}

int main(void)
{
    must(stat("/", &want) == 0);
    struct sigaction sa = {.sa_handler = on_usr1};
    must(sigaction(SIGUSR1, &sa, NULL) == 0);
    pthread_t o, t, g;
    must(pthread_create(&o, NULL, opener, NULL) == 0);
    while (!opener_tid)
        sched_yield();
    must(pthread_create(&t, NULL, thief, NULL) == 0);
    must(pthread_create(&g, NULL, signaller, NULL) == 0);
    pthread_join(o, NULL);
    stop = 1;
    pthread_join(t, NULL);
    pthread_join(g, NULL);
    int sockets = 0;
    DIR *d = opendir("/proc/self/fd");
    must(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && is_socket(atoi(e->d_name)))
            sockets++;
    closedir(d);
    printf("opens: %d of %d gave the fd\n", opens_ok, OPENS);
    check(opens_ok > 0, "some opens gave their fd (%d failed)", opens_failed);
    check(wrong == 0, "every fd an open returned is an O_PATH fd of the file (%d were not)", wrong);
    check(stolen_wrong == 0, "a stolen fd is only ever the file opened (%d were not)", stolen_wrong);
    check(sent == 0, "nothing sent on a helper reached anything (%d sends went)", sent);
    check(mask_changed == 0, "the opener's signal mask is its own after every open (%d were not)", mask_changed);
    check(sockets == 0, "no helper socket is left in the table (%d are)", sockets);
    printf("opath_race done\n");
    return finish();
}
