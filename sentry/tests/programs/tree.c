/* tree MARKER: a sandbox of several processes and threads that blocks forever.
 * The first process forks 4 children; each child starts 2 threads that block, then reports
 * to the parent. When all are up, the first process (which also starts 2 threads) prints
 * "procs 5 threads 15" and "ready" on stdout and blocks. MARKER only sits in argv so that the
 * test can find every process of the tree in /proc (children are forks: same argv). */
#include "prog.h"
#include <pthread.h>

#define CHILDREN 4
#define THREADS 2

static void *block(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static void start_threads(void)
{
    for (int i = 0; i < THREADS; i++) {
        pthread_t t;
        must(pthread_create(&t, NULL, block, NULL) == 0);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MARKER\n", argv[0]);
        return 2;
    }
    int up[2];
    must(pipe(up) == 0);
    for (int i = 0; i < CHILDREN; i++) {
        pid_t pid = fork();
        must(pid >= 0);
        if (pid == 0) {
            close(up[0]);
            start_threads();
            write_all(up[1], "u", 1);
            close(up[1]);
            block(NULL);
        }
    }
    close(up[1]);
    char c;
    for (int i = 0; i < CHILDREN; i++)
        must(read(up[0], &c, 1) == 1);
    start_threads();
    printf("procs %d threads %d\nready\n", CHILDREN + 1, (CHILDREN + 1) * (THREADS + 1));
    fflush(stdout);
    block(NULL);
    return 0;
}
