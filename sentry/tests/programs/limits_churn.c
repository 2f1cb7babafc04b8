/* 100,000 mmap/munmap cycles (with mremap and brk ones mixed in) across several processes and
 * threads. The main process checks through sysinfo(2) that its own cycles leave no charge
 * behind; children leave mappings behind on purpose, for the release at exit; the test checks
 * the sandbox's charge at the end (the memory_final event) is exactly zero. */
#include "prog.h"
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>

#define PROCS 4
#define THREADS 2
#define CYCLES_PER_WORKER 10000 /* (PROCS + 1) * THREADS workers: 100,000 cycles */
#define STACK (256 * 1024)

static unsigned long charged_now(void)
{
    struct sysinfo si;
    must(sysinfo(&si) == 0);
    return (si.totalram - si.freeram) * si.mem_unit;
}

/* Raw syscalls only: no malloc arenas, no stdio in the threads. */
static void *worker(void *arg)
{
    uintptr_t seed = (uintptr_t)arg;
    for (int i = 0; i < CYCLES_PER_WORKER; i++) {
        size_t len = 4096 * (1 + (seed + i) % 16);
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return (void *)1;
        p[0] = 1;
        if (i % 7 == 0) {
            char *q = mremap(p, len, len * 2, MREMAP_MAYMOVE);
            if (q == MAP_FAILED)
                return (void *)1;
            p = q;
            len *= 2;
        }
        if (i % 11 == 0 && len > 4096) {
            /* Unmap in two pieces. */
            if (munmap(p + 4096, len - 4096) != 0 || munmap(p, 4096) != 0)
                return (void *)1;
        } else if (munmap(p, len) != 0) {
            return (void *)1;
        }
    }
    return NULL;
}

static int run_workers(uintptr_t seed)
{
    pthread_t th[THREADS];
    void *stacks[THREADS];
    int bad = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_attr_t attr;
        stacks[t] = mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        must(stacks[t] != MAP_FAILED);
        must(pthread_attr_init(&attr) == 0);
        must(pthread_attr_setstack(&attr, stacks[t], STACK) == 0);
        must(pthread_create(&th[t], &attr, worker, (void *)(seed * 31 + t)) == 0);
    }
    for (int t = 0; t < THREADS; t++) {
        void *ret;
        must(pthread_join(th[t], &ret) == 0);
        bad |= ret != NULL;
        must(munmap(stacks[t], STACK) == 0);
    }
    return bad;
}

int main(void)
{
    unsigned long c0 = charged_now();
    check(run_workers(7) == 0, "main process: %d threads x %d cycles", THREADS, CYCLES_PER_WORKER);
    unsigned long c1 = charged_now();
    check(c1 == c0, "main process: no drift (%lu before, %lu after)", c0, c1);

    pid_t kids[PROCS];
    for (int i = 0; i < PROCS; i++) {
        kids[i] = fork();
        must(kids[i] >= 0);
        if (kids[i] == 0) {
            int bad = run_workers(100 + i);
            /* Leave memory behind: released when the process exits. */
            for (int j = 0; j < 8; j++) {
                char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                    bad = 1;
                else
                    p[0] = 1;
            }
            if (sbrk(1 << 20) == (void *)-1)
                bad = 1;
            _exit(bad);
        }
    }
    int all_ok = 1;
    for (int i = 0; i < PROCS; i++) {
        int status;
        must(wait(&status) > 0);
        all_ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    check(all_ok, "%d processes x %d threads x %d cycles", PROCS, THREADS, CYCLES_PER_WORKER);
    printf("cycles %d\n", (PROCS + 1) * THREADS * CYCLES_PER_WORKER);
    return finish();
}
