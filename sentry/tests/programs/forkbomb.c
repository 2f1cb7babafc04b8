/* forkbomb MARKER [CAP]: prints "started", then every process forks again and again; each
 * child does the same. MARKER only sits in argv so that the test can find survivors in /proc.
 * CAP (default 20000) bounds the total number of forks, counted in a shared page, only to
 * protect the host should the sandbox fail to end the bomb; it is far above what a bomb
 * reaches before the test ends it. Processes that reach the cap block. */
#include "prog.h"
#include <stdatomic.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: forkbomb MARKER [CAP]\n");
        return 2;
    }
    long cap = argc > 2 ? atol(argv[2]) : 20000;
    atomic_long *forks =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    must(forks != MAP_FAILED);
    printf("started\n");
    fflush(stdout);
    for (;;) {
        long n = atomic_fetch_add(forks, 1);
        if (n >= cap) {
            for (;;)
                pause();
        }
        fork();
    }
}
