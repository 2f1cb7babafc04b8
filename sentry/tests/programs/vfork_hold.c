/* vfork_hold: a vfork whose child does not exec: it says "child ready" and blocks reading a
 * pipe nobody writes, so that its parent waits in the kernel for as long as the child lives
 * (a freeze of the sandbox cannot see the parent stop). */
#include "prog.h"

int main(void)
{
    int never[2];
    must(pipe(never) == 0);
    pid_t child = vfork();
    must(child >= 0);
    if (child == 0) {
        static const char ready[] = "child ready\n";
        ssize_t w = write(1, ready, sizeof ready - 1);
        char byte;
        ssize_t r = read(never[0], &byte, 1);
        _exit(w < 0 || r < 0);
    }
    return 0;
}
