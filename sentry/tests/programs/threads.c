/* threads: 8 threads each make syscalls (gettid, getpid, write/read on a private pipe,
 * clock_gettime, sched_yield) in a loop, then are joined. Checks every thread saw its own tid
 * and the shared pid, and every byte made the round trip. */
#include "prog.h"
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>

#define THREADS 8
#define ROUNDS 200

struct slot {
    pthread_t thread;
    pid_t tid;
    int bad;
};

static pid_t main_pid;

static void *worker(void *arg)
{
    struct slot *s = arg;
    int p[2];
    must(pipe(p) == 0);
    s->tid = (pid_t)syscall(SYS_gettid);
    for (int i = 0; i < ROUNDS; i++) {
        unsigned char out = (unsigned char)i, in = 0;
        struct timespec ts;
        if (getpid() != main_pid || (pid_t)syscall(SYS_gettid) != s->tid)
            s->bad++;
        if (write(p[1], &out, 1) != 1 || read(p[0], &in, 1) != 1 || in != out)
            s->bad++;
        if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
            s->bad++;
        sched_yield();
    }
    close(p[0]);
    close(p[1]);
    return s;
}

int main(void)
{
    struct slot slots[THREADS];
    memset(slots, 0, sizeof slots);
    main_pid = getpid();
    for (int i = 0; i < THREADS; i++)
        must(pthread_create(&slots[i].thread, NULL, worker, &slots[i]) == 0);
    int joined = 0, bad = 0;
    for (int i = 0; i < THREADS; i++) {
        void *ret = NULL;
        if (pthread_join(slots[i].thread, &ret) == 0 && ret == &slots[i])
            joined++;
        bad += slots[i].bad;
    }
    int distinct = 1;
    for (int i = 0; i < THREADS; i++)
        for (int j = i + 1; j < THREADS; j++)
            if (slots[i].tid == slots[j].tid || slots[i].tid == main_pid)
                distinct = 0;
    check(joined == THREADS, "joined %d threads", joined);
    check(bad == 0, "syscalls in threads (%d bad results)", bad);
    check(distinct, "distinct thread ids");
    printf("threads done\n");
    return finish();
}
