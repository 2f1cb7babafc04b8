/* Crosses the soft limit (argv[1] bytes) upward twice, going back below in between. */
#include "prog.h"
#include <sys/mman.h>

int main(int argc, char **argv)
{
    unsigned long soft = argc > 1 ? strtoul(argv[1], NULL, 0) : 0;
    must(soft > 0);
    for (int round = 0; round < 2; round++) {
        void *p = mmap(NULL, soft, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        check(p != MAP_FAILED, "round %d: mapped the soft limit's size", round);
        /* A second allocation above the soft limit does not emit again. */
        void *q = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        check(q != MAP_FAILED, "round %d: more above the soft limit", round);
        must(munmap(q, 1 << 20) == 0);
        must(munmap(p, soft) == 0);
    }
    printf("done\n");
    return finish();
}
