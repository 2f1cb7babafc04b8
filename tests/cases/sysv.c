/* SysV IPC with a key from ftok(3) (not IPC_PRIVATE): shmget(2), semget(2), msgget(2) create
 * the object, find it again by key (also from another process), refuse IPC_CREAT|IPC_EXCL with
 * EEXIST, and IPC_RMID removes it so that the key finds nothing. Then permissions: objects of
 * root's with a mode that gives others read or write alone, used by a process that has become
 * nobody (ipcperms for each call, EPERM for IPC_RMID and IPC_SET), and IPC_SET giving a
 * segment to nobody, who may then set its mode. */
#include "tap.h"
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

struct msgb {
    long mtype;
    char text[8];
};

static int perm_shm = -1, perm_sem = -1, perm_msg = -1;
static key_t perm_key;

/* As nobody, on root's segment (0604), set (0604, value 0) and queue (0602): 0, or the
 * number of the first step that went otherwise. */
static int nobody_uses_roots_objects(void *arg)
{
    (void)arg;
    if (setgid(65534) != 0 || setuid(65534) != 0)
        return 1;
    if (shmget(perm_key, 0, 0400) != perm_shm)
        return 2;
    if (shmget(perm_key, 0, 0600) != -1 || errno != EACCES)
        return 3;
    void *p = shmat(perm_shm, NULL, SHM_RDONLY);
    if (p == (void *)-1)
        return 4;
    shmdt(p);
    if (shmat(perm_shm, NULL, 0) != (void *)-1 || errno != EACCES)
        return 5;
    struct shmid_ds ds;
    if (shmctl(perm_shm, IPC_STAT, &ds) != 0)
        return 6;
    if (shmctl(perm_shm, IPC_RMID, NULL) != -1 || errno != EPERM)
        return 7;
    if (shmctl(perm_shm, IPC_SET, &ds) != -1 || errno != EPERM)
        return 8;
    struct sembuf zero = {.sem_num = 0, .sem_op = 0, .sem_flg = IPC_NOWAIT};
    if (semop(perm_sem, &zero, 1) != 0)
        return 9;
    struct sembuf up = {.sem_num = 0, .sem_op = 1, .sem_flg = 0};
    if (semop(perm_sem, &up, 1) != -1 || errno != EACCES)
        return 10;
    if (semctl(perm_sem, 0, GETVAL) != 0)
        return 11;
    if (semctl(perm_sem, 0, SETVAL, 1) != -1 || errno != EACCES)
        return 12;
    struct msgb m = {.mtype = 1, .text = "x"};
    if (msgsnd(perm_msg, &m, sizeof m.text, 0) != 0)
        return 13;
    if (msgrcv(perm_msg, &m, sizeof m.text, 0, IPC_NOWAIT) != -1 || errno != EACCES)
        return 14;
    return 0;
}

/* As nobody, the segment's owner now: attaches it to write, and sets its mode to 0640. */
static int nobody_owns_the_segment(void *arg)
{
    (void)arg;
    if (setgid(65534) != 0 || setuid(65534) != 0)
        return 1;
    void *p = shmat(perm_shm, NULL, 0);
    if (p == (void *)-1)
        return 2;
    shmdt(p);
    struct shmid_ds ds;
    if (shmctl(perm_shm, IPC_STAT, &ds) != 0)
        return 3;
    ds.shm_perm.mode = 0640;
    if (shmctl(perm_shm, IPC_SET, &ds) != 0)
        return 3;
    return 0;
}

static void permissions(void)
{
    perm_key = ftok("keyfile", 'p');
    perm_shm = T_OK(shmget(perm_key, 4096, IPC_CREAT | 0604), "shmget: a segment others may read");
    perm_sem = T_OK(semget(ftok("keyfile", 'q'), 1, IPC_CREAT | 0604), "semget: a set others may read");
    perm_msg = T_OK(msgget(ftok("keyfile", 'r'), IPC_CREAT | 0602), "msgget: a queue others may write");
    struct shmid_ds ds;
    OK(shmctl(perm_shm, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & 0777) == 0604,
       "shmctl: IPC_STAT shows the mode the segment was made with");
    const char *steps[] = {
        "setuid: a process becomes nobody",
        "shmget: nobody finds root's segment asking to read",
        "shmget: asking to write as well is EACCES",
        "shmat: SHM_RDONLY by nobody",
        "shmat: to write is EACCES",
        "shmctl: IPC_STAT by nobody, who may read",
        "shmctl: IPC_RMID by nobody is EPERM",
        "shmctl: IPC_SET by nobody is EPERM",
        "semop: waiting for zero needs read access alone",
        "semop: an increment without write access is EACCES",
        "semctl: GETVAL by nobody",
        "semctl: SETVAL without write access is EACCES",
        "msgsnd: by nobody, who may write",
        "msgrcv: without read access is EACCES",
    };
    int r = tap_in_child(nobody_uses_roots_objects, NULL);
    r = WIFEXITED(r) ? WEXITSTATUS(r) : 99;
    for (int i = 0; i < (int)(sizeof steps / sizeof *steps); i++)
        OK(r == 0 || r > i + 1, "%s", steps[i]);
    ds.shm_perm.uid = 65534;
    ds.shm_perm.mode = 0600;
    T_EQ(shmctl(perm_shm, IPC_SET, &ds), 0, "shmctl: IPC_SET gives the segment to nobody");
    OK(shmctl(perm_shm, IPC_STAT, &ds) == 0 && ds.shm_perm.uid == 65534 && ds.shm_perm.cuid == 0 &&
           (ds.shm_perm.mode & 0777) == 0600,
       "shmctl: IPC_STAT shows the new owner, the creator, the new mode");
    const char *owner_steps[] = {
        "setuid: a process becomes nobody again",
        "shmat: to write, by the segment's owner",
        "shmctl: IPC_SET of the mode by the segment's owner",
    };
    r = tap_in_child(nobody_owns_the_segment, NULL);
    r = WIFEXITED(r) ? WEXITSTATUS(r) : 99;
    for (int i = 0; i < (int)(sizeof owner_steps / sizeof *owner_steps); i++)
        OK(r == 0 || r > i + 1, "%s", owner_steps[i]);
    OK(shmctl(perm_shm, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & 0777) == 0640,
       "shmctl: IPC_STAT shows the mode its owner set");
    T_EQ(shmctl(perm_shm, IPC_RMID, NULL), 0, "shmctl: IPC_RMID of nobody's segment by root");
    T_EQ(semctl(perm_sem, 0, IPC_RMID), 0, "semctl: IPC_RMID of the set others may read");
    T_EQ(msgctl(perm_msg, IPC_RMID, NULL), 0, "msgctl: IPC_RMID of the queue others may write");
}

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

    permissions();
    return tap_done();
}
