/* sysv_ipc: SysV IPC in the sandbox's own namespace. Keyed objects are found again by their
 * key (from another process too), IPC_EXCL and a missing key fail as Linux says, IPC_STAT shows
 * the key and the creator's pid in the sandbox's numbers, semctl(GETPID) too, the commands that
 * list the host's objects are refused, and the number of queues is bounded. Leaves one object
 * of each kind behind and prints their ids ("left shm X msg Y sem Z") for the test to check
 * that the sentry removed them from the host. With "KEY hold", then gives the shared memory
 * segment to uid 4242 with mode 0666 (the sandbox's view: IPC_STAT shows it) and waits
 * ("holding") for the sentry to be killed. */
#include "prog.h"
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>

struct msg {
    long type;
    char text[16];
};

int main(int argc, char **argv)
{
    key_t key = argc > 1 ? (key_t)atoi(argv[1]) : 0x5e17;
    int shm = shmget(key, 8192, IPC_CREAT | 0600);
    check(shm >= 0, "shmget creates a keyed segment (%s)", strerror(errno));
    check(shmget(key, 4096, 0600) == shm, "the key finds the same segment");
    errno = 0;
    check(shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600) == -1 && errno == EEXIST, "IPC_EXCL: EEXIST");
    errno = 0;
    check(shmget(key, 1 << 20, 0600) == -1 && errno == EINVAL, "a larger size than the segment's: EINVAL");
    errno = 0;
    check(shmget(key + 1, 4096, 0600) == -1 && errno == ENOENT, "a key nobody made: ENOENT");
    pid_t kid = fork();
    must(kid >= 0);
    if (kid == 0)
        _exit(shmget(key, 4096, 0) == shm ? 0 : 1);
    int status;
    must(waitpid(kid, &status, 0) == kid);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "another process finds the segment by its key");
    struct shmid_ds ds;
    check(shmctl(shm, IPC_STAT, &ds) == 0 && ds.shm_perm.__key == key && ds.shm_cpid == getpid() &&
              ds.shm_perm.uid == geteuid() && ds.shm_perm.cuid == geteuid(),
          "IPC_STAT: key %d, creator pid %d (own %d), owner %u", ds.shm_perm.__key, ds.shm_cpid,
          (int)getpid(), ds.shm_perm.uid);
    struct shminfo info;
    check(shmctl(0, IPC_INFO, (struct shmid_ds *)&info) >= 0 && info.shmmni > 0,
          "IPC_INFO: the limits (%s)", strerror(errno));
    struct shm_info usage;
    check(shmctl(0, SHM_INFO, (struct shmid_ds *)&usage) >= 0 && usage.used_ids == 1,
          "SHM_INFO: the sandbox's one segment (%d)", usage.used_ids);
    errno = 0;
    check(shmctl(0, SHM_STAT, &ds) == -1 && errno == EINVAL, "SHM_STAT by the host's index: EINVAL");

    int q = msgget(key, IPC_CREAT | 0600);
    check(q >= 0 && msgget(key, 0) == q, "a keyed queue is found again");
    struct msg m = {.type = 1, .text = "hello"};
    check(msgsnd(q, &m, sizeof m.text, 0) == 0, "msgsnd");
    struct msg r;
    check(msgrcv(q, &r, sizeof r.text, 0, 0) == sizeof r.text && strcmp(r.text, "hello") == 0, "msgrcv");
    struct msqid_ds qs;
    check(msgctl(q, IPC_STAT, &qs) == 0 && qs.msg_lspid == getpid() && qs.msg_lrpid == getpid(),
          "msgctl IPC_STAT: last pids %d %d (own %d)", qs.msg_lspid, qs.msg_lrpid, (int)getpid());

    int sem = semget(key, 2, IPC_CREAT | 0600);
    struct sembuf up = {.sem_num = 0, .sem_op = 1, .sem_flg = 0};
    check(sem >= 0 && semop(sem, &up, 1) == 0, "semget and semop");
    check(semctl(sem, 0, GETPID) == getpid(), "semctl GETPID: the sandbox pid");
    errno = 0;
    check(semget(key, 3, 0) == -1 && errno == EINVAL, "more semaphores than the set has: EINVAL");
    struct seminfo sems;
    check(semctl(0, 0, SEM_INFO, &sems) >= 0 && sems.semusz == 1 && sems.semaem == 2,
          "SEM_INFO: the sandbox's one set of two (%d sets, %d semaphores)", sems.semusz, sems.semaem);
    struct msginfo msgs;
    check(msgctl(0, MSG_INFO, (struct msqid_ds *)&msgs) >= 0 && msgs.msgpool == 1 && msgs.msgmap == 0,
          "MSG_INFO: the sandbox's one empty queue (%d queues, %d messages)", msgs.msgpool, msgs.msgmap);

    /* A bounded number of queues: private ones until the sandbox's share is used. */
    int made = 0, err = 0;
    int ids[1024];
    for (int i = 0; i < 1024; i++) {
        int id = msgget(IPC_PRIVATE, 0600);
        if (id < 0) {
            err = errno;
            break;
        }
        ids[made++] = id;
    }
    check(made < 1024 && err == ENOSPC, "queues are bounded: %d made, then %s", made, strerror(err));
    for (int i = 0; i < made; i++)
        msgctl(ids[i], IPC_RMID, NULL);
    check(msgctl(q, IPC_RMID, NULL) == 0, "IPC_RMID of the keyed queue");
    errno = 0;
    check(msgget(key, 0) == -1 && errno == ENOENT, "a removed queue's key is free");
    q = msgget(key, IPC_CREAT | 0600);
    printf("left shm %d msg %d sem %d\n", shm, q, sem);
    if (argc > 2 && strcmp(argv[2], "hold") == 0) {
        struct shmid_ds ds;
        check(shmctl(shm, IPC_STAT, &ds) == 0, "shmctl IPC_STAT before IPC_SET");
        ds.shm_perm.uid = 4242;
        ds.shm_perm.mode = 0666;
        check(shmctl(shm, IPC_SET, &ds) == 0, "shmctl IPC_SET uid 4242 mode 0666");
        check(shmctl(shm, IPC_STAT, &ds) == 0 && ds.shm_perm.uid == 4242 && (ds.shm_perm.mode & 0777) == 0666,
              "IPC_STAT shows the owner and mode set (%u, %o)", ds.shm_perm.uid, ds.shm_perm.mode);
        /* Until the sentry is killed. */
        printf("holding\n");
        fflush(stdout);
        for (;;)
            pause();
    }
    printf("sysv_ipc done\n");
    return finish();
}
