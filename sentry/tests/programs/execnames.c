/* execnames: prints what a program learns about how it was executed: AT_EXECFN, argv[0] and
 * /proc/self/exe, one line. */
#include <stdio.h>
#include <sys/auxv.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n < 0 ? 0 : n] = 0;
    printf("execfn=%s argv0=%s exe=%s argc=%d\n", (const char *)getauxval(AT_EXECFN), argv[0], exe, argc);
    return 0;
}
