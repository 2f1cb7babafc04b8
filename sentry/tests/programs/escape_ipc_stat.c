/* escape_ipc_stat ROUNDS: a thread reads, all the while, the records that another thread's
 * shmctl(IPC_STAT) and msgctl(IPC_STAT) fill: every pid there (the segment's creator and
 * last attacher, the queue's last sender and receiver) must be this process's own number
 * (or 0) and every uid and gid 0 (the sandbox's root): a host pid or id there, even for a
 * moment before the sentry puts the record in the sandbox's terms, is an escape. Prints
 * "stats N" and exits 0, or names what it saw and exits 3. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <unistd.h>

static volatile struct shmid_ds shm_ds;
static volatile struct msqid_ds msg_ds;
static volatile int running = 1;
static volatile long seen_pid, seen_id;
static pid_t self;

static void look(long pid, long uid, long gid, long cuid, long cgid)
{
    if (pid != 0 && pid != self)
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
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: escape_ipc_stat ROUNDS\n");
        return 2;
    }
    long rounds = atol(argv[1]);
    self = getpid();
    int shm = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    int msg = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (shm < 0 || msg < 0)
        return 1;
    void *at = shmat(shm, NULL, 0);
    struct {
        long type;
        char text[4];
    } m = {1, "hi"};
    if (at == (void *)-1 || msgsnd(msg, &m, sizeof m.text, 0) != 0 ||
        msgrcv(msg, &m, sizeof m.text, 0, 0) < 0)
        return 1;
    pthread_t t;
    if (pthread_create(&t, NULL, watcher, NULL) != 0)
        return 1;
    int failed = 0;
    for (long i = 0; i < rounds && !failed; i++) {
        failed = shmctl(shm, IPC_STAT, (struct shmid_ds *)&shm_ds) != 0 ||
                 msgctl(msg, IPC_STAT, (struct msqid_ds *)&msg_ds) != 0;
    }
    running = 0;
    pthread_join(t, NULL);
    shmdt(at);
    shmctl(shm, IPC_RMID, NULL);
    msgctl(msg, IPC_RMID, NULL);
    if (failed) {
        printf("IPC_STAT failed\n");
        return 1;
    }
    if (seen_pid || seen_id) {
        printf("ESCAPE: an IPC_STAT record showed pid %ld id %ld\n", seen_pid, seen_id);
        return 3;
    }
    printf("stats %ld\n", rounds);
    return 0;
}
