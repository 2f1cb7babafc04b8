/* escape_peercred ROUNDS: a thread reads, all the while, the struct ucred that another
 * thread's getsockopt(SO_PEERCRED) fills for a socket whose peer is this process, and the
 * owner that F_GETOWN_EX and FIOGETOWN write for a socket this process owns: every pid must
 * be this process's own number (or 0) and the ids 0 (the sandbox's root); a host pid or id
 * there, even for a moment, is an escape. Prints "peercreds N" and exits 0, or names what it
 * saw and exits 3. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile struct ucred cred;
static volatile struct f_owner_ex owner_ex;
static volatile int owner;
static volatile int running = 1;
static volatile long seen_pid, seen_id;
static pid_t self;

static void *watcher(void *unused)
{
    (void)unused;
    while (running) {
        long pid = cred.pid, uid = cred.uid, gid = cred.gid;
        if (pid != 0 && pid != self)
            seen_pid = pid;
        if (owner_ex.pid != 0 && owner_ex.pid != self)
            seen_pid = owner_ex.pid;
        if (owner != 0 && owner != self)
            seen_pid = owner;
        if (uid != 0 || gid != 0)
            seen_id = uid | gid;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: escape_peercred ROUNDS\n");
        return 2;
    }
    long rounds = atol(argv[1]);
    self = getpid();
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
        return 1;
    struct f_owner_ex mine = {F_OWNER_PID, self};
    if (fcntl(pair[0], F_SETOWN_EX, &mine) != 0)
        return 1;
    pthread_t t;
    if (pthread_create(&t, NULL, watcher, NULL) != 0)
        return 1;
    int failed = 0;
    for (long i = 0; i < rounds && !failed; i++) {
        socklen_t len = sizeof cred;
        failed = getsockopt(pair[0], SOL_SOCKET, SO_PEERCRED, (struct ucred *)&cred, &len) != 0 ||
                 len != sizeof cred || cred.pid != self ||
                 fcntl(pair[0], F_GETOWN_EX, (struct f_owner_ex *)&owner_ex) != 0 ||
                 ioctl(pair[0], FIOGETOWN, (int *)&owner) != 0;
    }
    running = 0;
    pthread_join(t, NULL);
    if (failed) {
        printf("getsockopt(SO_PEERCRED) failed or named another process: pid %d\n", cred.pid);
        return 1;
    }
    if (seen_pid || seen_id) {
        printf("ESCAPE: a ucred showed pid %ld id %ld\n", seen_pid, seen_id);
        return 3;
    }
    printf("peercreds %ld\n", rounds);
    return 0;
}
