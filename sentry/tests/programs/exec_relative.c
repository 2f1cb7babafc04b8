/* exec_relative NAME [ARGS...]: execve(NAME) with NAME as given (a bare name is a file of the
 * working directory to execve, never a search of PATH or of the library path). */
#include "prog.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: exec_relative NAME [ARGS...]\n");
        return 2;
    }
    char *env[] = {NULL};
    execve(argv[1], argv + 1, env);
    printf("execve %s: %s\n", argv[1], strerror(errno));
    return 1;
}
