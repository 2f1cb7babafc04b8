/* Run with --memory-limit LIMIT (argv[1] = LIMIT in bytes): every kind of committed memory is
 * refused past the limit with an ordinary allocation failure, released memory can be
 * allocated again, sysinfo(2) shows the limit, and the program keeps running throughout. */
#include "prog.h"
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>

#define MiB (1024UL * 1024UL)

static unsigned long charged(unsigned long limit)
{
    struct sysinfo si;
    must(sysinfo(&si) == 0);
    check(si.totalram * si.mem_unit == limit, "sysinfo totalram is the limit (%lu)",
          si.totalram * si.mem_unit);
    return limit - si.freeram * si.mem_unit;
}

static void *thread_fn(void *arg) { return arg; }

int main(int argc, char **argv)
{
    unsigned long limit = argc > 1 ? strtoul(argv[1], NULL, 0) : 0;
    must(limit >= 32 * MiB);
    unsigned long base = charged(limit);
    check(base < limit / 4, "little charged at start (%lu)", base);

    /* mmap: anonymous private writable memory up to the limit. */
    void *big = mmap(NULL, limit, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(big == MAP_FAILED && errno == ENOMEM, "mmap of the whole limit fails with ENOMEM");
    void *half = mmap(NULL, limit / 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(half != MAP_FAILED, "mmap of half the limit succeeds");
    unsigned long c1 = charged(limit);
    check(c1 - base == limit / 2, "half the limit is charged (%lu)", c1 - base);
    /* Read-only and PROT_NONE private anonymous memory is not committed... */
    void *none = mmap(NULL, limit, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(none != MAP_FAILED, "PROT_NONE reservation of the whole limit succeeds");
    check(charged(limit) == c1, "PROT_NONE is not charged");
    /* ...until it becomes writable. */
    check(mprotect(none, limit, PROT_READ | PROT_WRITE) == -1 && errno == ENOMEM,
          "mprotect(PROT_WRITE) past the limit fails with ENOMEM");
    check(mprotect(none, 4 * MiB, PROT_READ | PROT_WRITE) == 0, "mprotect of 4 MiB succeeds");
    check(charged(limit) == c1 + 4 * MiB, "mprotect charged 4 MiB");
    must(munmap(none, limit) == 0);
    check(charged(limit) == c1, "munmap released the mprotected part");

    /* MAP_SHARED anonymous memory. */
    void *sh = mmap(NULL, limit / 2, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    check(sh == MAP_FAILED && errno == ENOMEM, "shared anonymous past the limit: ENOMEM");
    sh = mmap(NULL, 8 * MiB, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    check(sh != MAP_FAILED && charged(limit) == c1 + 8 * MiB, "shared anonymous is charged");
    must(munmap(sh, 8 * MiB) == 0);

    /* mremap growth. */
    void *grown = mremap(half, limit / 2, limit, MREMAP_MAYMOVE);
    check(grown == MAP_FAILED && errno == ENOMEM, "mremap growth past the limit: ENOMEM");
    grown = mremap(half, limit / 2, limit / 2 + 4 * MiB, MREMAP_MAYMOVE);
    check(grown != MAP_FAILED, "mremap growth within the limit");
    check(charged(limit) == c1 + 4 * MiB, "mremap growth is charged");
    void *shrunk = mremap(grown, limit / 2 + 4 * MiB, 4 * MiB, 0);
    check(shrunk == grown, "mremap shrink in place");
    check(charged(limit) == base + 4 * MiB, "mremap shrink released exactly");

    /* malloc returns NULL, and memory freed can be taken again. */
    size_t got = 0;
    void *blocks[4096];
    size_t nblocks = 0;
    for (;;) {
        void *p = malloc(MiB);
        if (!p)
            break;
        memset(p, 1, MiB);
        if (nblocks < 4096)
            blocks[nblocks++] = p;
        got++;
    }
    check(got > 0 && got * MiB <= limit, "malloc returned NULL after %zu MiB", got);
    for (size_t i = 0; i < nblocks; i++)
        free(blocks[i]);
    must(munmap(shrunk, 4 * MiB) == 0);

    /* brk: the heap cannot grow past the limit; sbrk fails with ENOMEM. */
    malloc_trim(0);
    unsigned long c2 = charged(limit);
    void *cur = sbrk(0);
    void *r = sbrk((intptr_t)limit);
    check(r == (void *)-1 && errno == ENOMEM, "sbrk past the limit fails with ENOMEM");
    check(sbrk(0) == cur, "the break did not move");
    r = sbrk(4 * MiB);
    check(r != (void *)-1, "sbrk of 4 MiB succeeds");
    check(charged(limit) == c2 + 4 * MiB, "brk growth is charged");
    must(sbrk(-(intptr_t)(4 * MiB)) != (void *)-1);
    check(charged(limit) == c2, "brk decrease released exactly");

    /* A thread stack is an mmap: too large a stack cannot be created. */
    pthread_attr_t attr;
    pthread_t th;
    must(pthread_attr_init(&attr) == 0);
    must(pthread_attr_setstacksize(&attr, limit) == 0);
    int rc = pthread_create(&th, &attr, thread_fn, NULL);
    check(rc == EAGAIN || rc == ENOMEM, "a thread with a stack of the limit's size is refused (%d)", rc);
    must(pthread_attr_setstacksize(&attr, 2 * MiB) == 0);
    rc = pthread_create(&th, &attr, thread_fn, NULL);
    check(rc == 0, "a thread with a 2 MiB stack starts");
    if (rc == 0)
        pthread_join(th, NULL);

    /* SysV shared memory. */
    int id = shmget(IPC_PRIVATE, limit, IPC_CREAT | 0600);
    check(id == -1 && errno == ENOMEM, "shmget of the limit's size: ENOMEM");
    unsigned long c3 = charged(limit);
    id = shmget(IPC_PRIVATE, 8 * MiB, IPC_CREAT | 0600);
    check(id >= 0, "shmget of 8 MiB");
    check(charged(limit) == c3 + 8 * MiB, "the segment is charged");
    must(shmctl(id, IPC_RMID, NULL) == 0);
    check(charged(limit) == c3, "IPC_RMID released it");

    /* After all this, everything can still be allocated again. */
    void *again = mmap(NULL, limit / 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(again != MAP_FAILED, "half the limit can be mapped again");
    printf("done\n");
    return finish();
}
