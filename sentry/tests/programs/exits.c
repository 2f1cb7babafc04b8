/* exits MODE: ends in the way MODE names, for the exit-status tests.
 *   exit N   exit status N
 *   abort    abort(3): SIGABRT, core-dump default action (128+6)
 *   segv     a real fault: a store through a null pointer (128+11)
 *   kill N   kill(getpid(), N) */
#include "prog.h"
#include <signal.h>
#include <stdint.h>

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "exit") == 0)
        return atoi(argv[2]);
    if (argc >= 2 && strcmp(argv[1], "abort") == 0)
        abort();
    if (argc >= 2 && strcmp(argv[1], "segv") == 0) {
        volatile int *p = (volatile int *)(uintptr_t)(argc - 2); /* NULL, unknown to the compiler */
        *p = 1;
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "kill") == 0) {
        kill(getpid(), atoi(argv[2]));
        return 0;
    }
    fprintf(stderr, "usage: exits exit N | abort | segv | kill SIG\n");
    return 2;
}
