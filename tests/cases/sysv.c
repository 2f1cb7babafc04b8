/* SysV IPC with a key from ftok(3) (not IPC_PRIVATE): shmget(2), semget(2), msgget(2) create
 * the object, find it again by key (also from another process), refuse IPC_CREAT|IPC_EXCL with
 * EEXIST, and IPC_RMID removes it so that the key finds nothing. */
#include "tap.h"
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

struct msgb {
    long mtype;
    char text[8];
};

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    tap_write_file("keyfile", "k");
    key_t k1 = ftok("keyfile", 's'), k2 = ftok("keyfile", 'e'), k3 = ftok("keyfile", 'm');
    OK(k1 != -1 && k2 != -1 && k3 != -1 && k1 != k2, "ftok: keys from a file");

    /* shm */
    int id = T_OK(shmget(k1, 4096, IPC_CREAT | 0600), "shmget: IPC_CREAT with a key");
    T_EQ(shmget(k1, 4096, 0), id, "shmget: the key finds the same segment");
    T_EQ(shmget(k1, 4096, IPC_CREAT | 0600), id, "shmget: IPC_CREAT of an existing key finds it");
    T_ERR(shmget(k1, 4096, IPC_CREAT | IPC_EXCL | 0600), EEXIST, "shmget: IPC_CREAT|IPC_EXCL -> EEXIST");
    T_ERR(shmget(k1, 1 << 20, 0), EINVAL, "shmget: larger than the segment -> EINVAL");
    char *p = shmat(id, NULL, 0);
    OK(p != (void *)-1, "shmat: the keyed segment");
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        int cid = shmget(k1, 0, 0);
        char *q = cid < 0 ? (void *)-1 : shmat(cid, NULL, 0);
        if (q == (void *)-1)
            _exit(1);
        strcpy(q, "child");
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    OK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strcmp(p, "child") == 0,
       "shmget: another process finds the segment by key and shares it");
    struct shmid_ds ds;
    T_EQ(shmctl(id, IPC_STAT, &ds), 0, "shmctl: IPC_STAT");
    OK(ds.shm_perm.__key == k1, "shmctl: IPC_STAT names the key");
    T_EQ(shmctl(id, IPC_RMID, NULL), 0, "shmctl: IPC_RMID");
    shmdt(p);
    T_ERR(shmget(k1, 4096, 0), ENOENT, "shmget: the key is gone after IPC_RMID and the last detach");

    /* sem */
    id = T_OK(semget(k2, 2, IPC_CREAT | 0600), "semget: IPC_CREAT with a key");
    T_EQ(semget(k2, 2, 0), id, "semget: the key finds the same set");
    T_ERR(semget(k2, 2, IPC_CREAT | IPC_EXCL | 0600), EEXIST, "semget: IPC_CREAT|IPC_EXCL -> EEXIST");
    T_ERR(semget(k2, 5, 0), EINVAL, "semget: more semaphores than the set -> EINVAL");
    T_EQ(semctl(id, 1, SETVAL, 3), 0, "semctl: SETVAL");
    T_EQ(semctl(semget(k2, 0, 0), 1, GETVAL), 3, "semctl: GETVAL through the key");
    T_EQ(semctl(id, 0, IPC_RMID), 0, "semctl: IPC_RMID");
    T_ERR(semget(k2, 2, 0), ENOENT, "semget: the key is gone after IPC_RMID");

    /* msg */
    id = T_OK(msgget(k3, IPC_CREAT | 0600), "msgget: IPC_CREAT with a key");
    T_EQ(msgget(k3, 0), id, "msgget: the key finds the same queue");
    T_ERR(msgget(k3, IPC_CREAT | IPC_EXCL | 0600), EEXIST, "msgget: IPC_CREAT|IPC_EXCL -> EEXIST");
    fflush(stdout);
    c = fork();
    if (c == 0) {
        struct msgb m = {.mtype = 7};
        strcpy(m.text, "hi");
        int q = msgget(k3, 0);
        _exit(q >= 0 && msgsnd(q, &m, sizeof m.text, 0) == 0 ? 0 : 1);
    }
    waitpid(c, &st, 0);
    struct msgb m = {0};
    T_EQ(msgrcv(id, &m, sizeof m.text, 7, IPC_NOWAIT), (long)sizeof m.text,
         "msgrcv: a message another process sent to the keyed queue");
    OK(strcmp(m.text, "hi") == 0, "msgrcv: the message text");
    T_EQ(msgctl(id, IPC_RMID, NULL), 0, "msgctl: IPC_RMID");
    T_ERR(msgget(k3, 0), ENOENT, "msgget: the key is gone after IPC_RMID");
    return tap_done();
}
