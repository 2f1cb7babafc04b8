/* escape_record_race ROUNDS ipc|peer|tty|lock: a thread reads, all the while, the records another
 * thread's calls fill: with "ipc", those of shmctl(IPC_STAT) and msgctl(IPC_STAT) (the
 * segment's creator and last attacher, the queue's last sender and receiver, owners and
 * creators); with "peer", the struct ucred of getsockopt(SO_PEERCRED) for a socket whose peer
 * is this process, and the owner F_GETOWN_EX and FIOGETOWN write for a socket it owns; with
 * "tty", the foreground group and session TIOCGPGRP and TIOCGSID write for a terminal this
 * process (the sandbox's first, a session leader) took as its controlling terminal, asked
 * of both ends; with "lock", the struct flock F_GETLK and F_OFD_GETLK fill for a lock its
 * child holds, whose pid is the child's number. Every
 * pid must be this process's own number (or 0) and every uid and gid 0 (the sandbox's root):
 * a host pid or id there, even for a moment before the sentry puts the record in the
 * sandbox's terms, is an escape. Prints "records N" and exits 0, or names what it saw and
 * exits 3. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static volatile struct shmid_ds shm_ds;
static volatile struct msqid_ds msg_ds;
static volatile struct ucred cred;
static volatile struct f_owner_ex owner_ex;
static volatile int owner;
static volatile pid_t groups[4];
static volatile struct flock locks[2];
static pid_t child;
static volatile int running = 1;
static volatile long seen_pid, seen_id;
static pid_t self;

static void look(long pid, long uid, long gid, long cuid, long cgid)
{
    if (pid != 0 && pid != self && pid != child)
        seen_pid = pid;
    if (uid != 0 || gid != 0 || cuid != 0 || cgid != 0)
        seen_id = uid | gid | cuid | cgid;
}

static void *watcher(void *unused)
{
    (void)unused;
    while (running) {
        look(shm_ds.shm_cpid, shm_ds.shm_perm.uid, shm_ds.shm_perm.gid, shm_ds.shm_perm.cuid,
             shm_ds.shm_perm.cgid);
        look(shm_ds.shm_lpid, 0, 0, 0, 0);
        look(msg_ds.msg_lspid, msg_ds.msg_perm.uid, msg_ds.msg_perm.gid, msg_ds.msg_perm.cuid,
             msg_ds.msg_perm.cgid);
        look(msg_ds.msg_lrpid, 0, 0, 0, 0);
        look(cred.pid, cred.uid, cred.gid, 0, 0);
        look(owner_ex.pid, 0, 0, 0, 0);
        look(owner, 0, 0, 0, 0);
        for (int i = 0; i < 4; i++)
            look(groups[i], 0, 0, 0, 0);
        look(locks[0].l_pid, 0, 0, 0, 0);
        look(locks[1].l_pid, 0, 0, 0, 0);
    }
    return NULL;
}

/* Objects whose IPC_STAT names this process: a segment attached, a queue used. */
static int ipc_objects(int *shm, int *msg)
{
    *shm = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    *msg = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (*shm < 0 || *msg < 0 || shmat(*shm, NULL, 0) == (void *)-1)
        return -1;
    struct {
        long type;
        char text[4];
    } m = {1, "hi"};
    if (msgsnd(*msg, &m, sizeof m.text, 0) != 0 || msgrcv(*msg, &m, sizeof m.text, 0, 0) < 0)
        return -1;
    return 0;
}

/* A terminal whose slave is this process's controlling terminal: its master and slave. */
static int controlling_terminal(int *master, int *slave)
{
    *master = posix_openpt(O_RDWR | O_NOCTTY);
    if (*master < 0 || grantpt(*master) != 0 || unlockpt(*master) != 0)
        return -1;
    const char *name = ptsname(*master);
    *slave = name ? open(name, O_RDWR) : -1;
    return *slave < 0 || tcgetsid(*slave) != self ? -1 : 0;
}

/* The ids the terminal's ioctls report, asked of both ends: all this process's. */
static int terminal_ids(int master, int slave)
{
    return ioctl(slave, TIOCGPGRP, (pid_t *)&groups[0]) != 0 ||
           ioctl(slave, TIOCGSID, (pid_t *)&groups[1]) != 0 ||
           ioctl(master, TIOCGPGRP, (pid_t *)&groups[2]) != 0 ||
           ioctl(master, TIOCGSID, (pid_t *)&groups[3]) != 0 || groups[0] != self ||
           groups[1] != self || groups[2] != self || groups[3] != self;
}

/* A child that holds a write lock on the memfd `fd` until `release` is readable. */
static int lock_holder(int fd, int release[2])
{
    int ready[2];
    if (pipe(ready) != 0)
        return -1;
    child = fork();
    if (child == 0) {
        close(release[1]);
        struct flock w = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 8};
        char c = fcntl(fd, F_SETLK, &w) == 0 ? 'l' : 'x';
        if (write(ready[1], &c, 1) != 1 || read(release[0], &c, 1) < 0)
            _exit(1);
        _exit(0);
    }
    char c = 0;
    return child > 0 && read(ready[0], &c, 1) == 1 && c == 'l' ? 0 : -1;
}

/* The holder both kinds of query name: the child, by its number. */
static int lock_queries(int fd)
{
    for (int i = 0; i < 2; i++) {
        struct flock q = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 4};
        locks[i] = q;
        if (fcntl(fd, i ? F_OFD_GETLK : F_GETLK, (struct flock *)&locks[i]) != 0 ||
            locks[i].l_type != F_WRLCK || locks[i].l_pid != child)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc == 3 ? argv[2] : "";
    int ipc = strcmp(mode, "ipc") == 0, tty = strcmp(mode, "tty") == 0;
    int lock = strcmp(mode, "lock") == 0;
    if (!ipc && !tty && !lock && strcmp(mode, "peer") != 0) {
        fprintf(stderr, "usage: escape_record_race ROUNDS ipc|peer|tty|lock\n");
        return 2;
    }
    long rounds = atol(argv[1]);
    self = getpid();
    int shm = -1, msg = -1, pair[2];
    if (ipc && ipc_objects(&shm, &msg) != 0)
        return 1;
    int master = -1, slave = -1;
    if (tty && controlling_terminal(&master, &slave) != 0)
        return 1;
    int locked = -1, release[2] = {-1, -1};
    if (lock && ((locked = memfd_create("locked", 0)) < 0 || ftruncate(locked, 8) != 0 ||
                 pipe(release) != 0 || lock_holder(locked, release) != 0))
        return 1;
    struct f_owner_ex mine = {F_OWNER_PID, self};
    if (!ipc && !tty && !lock && (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0 ||
                 fcntl(pair[0], F_SETOWN_EX, &mine) != 0))
        return 1;
    pthread_t t;
    if (pthread_create(&t, NULL, watcher, NULL) != 0)
        return 1;
    int failed = 0;
    for (long i = 0; i < rounds && !failed; i++) {
        socklen_t len = sizeof cred;
        if (ipc)
            failed = shmctl(shm, IPC_STAT, (struct shmid_ds *)&shm_ds) != 0 ||
                     msgctl(msg, IPC_STAT, (struct msqid_ds *)&msg_ds) != 0;
        else if (tty)
            failed = terminal_ids(master, slave);
        else if (lock)
            failed = lock_queries(locked);
        else
            failed =
                getsockopt(pair[0], SOL_SOCKET, SO_PEERCRED, (struct ucred *)&cred, &len) != 0 ||
                len != sizeof cred || cred.pid != self ||
                fcntl(pair[0], F_GETOWN_EX, (struct f_owner_ex *)&owner_ex) != 0 ||
                ioctl(pair[0], FIOGETOWN, (int *)&owner) != 0;
    }
    running = 0;
    pthread_join(t, NULL);
    if (lock) {
        close(release[1]);
        waitpid(child, NULL, 0);
    }
    if (ipc) {
        shmctl(shm, IPC_RMID, NULL);
        msgctl(msg, IPC_RMID, NULL);
    }
    if (failed) {
        printf("a call failed or named another process\n");
        return 1;
    }
    if (seen_pid || seen_id) {
        printf("ESCAPE: a record showed pid %ld id %ld\n", seen_pid, seen_id);
        return 3;
    }
    printf("records %ld\n", rounds);
    return 0;
}
