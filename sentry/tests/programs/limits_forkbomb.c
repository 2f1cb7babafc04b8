/* Modes (argv[1]):
 *   count — fork children that wait on a pipe until fork fails; print how many and the errno,
 *           then release them. Threads too: argv[2] threads first.
 *   zombies — fork children that exit at once, never reaped, until fork fails; print how
 *           many, then reap them and fork once more.
 *   bomb  — every process forks forever (a fork bomb); the sentry must stay responsive. */
#include "prog.h"
#include <pthread.h>
#include <sys/wait.h>

static void *idle(void *arg)
{
    char c;
    (void)!read((int)(long)arg, &c, 1);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "count") == 0) {
        int nthreads = argc > 2 ? atoi(argv[2]) : 0;
        int fds[2];
        must(pipe(fds) == 0);
        pthread_t th[64];
        for (int i = 0; i < nthreads && i < 64; i++)
            must(pthread_create(&th[i], NULL, idle, (void *)(long)fds[0]) == 0);
        int n = 0, err = 0;
        for (;;) {
            pid_t kid = fork();
            if (kid < 0) {
                err = errno;
                break;
            }
            if (kid == 0) {
                char c;
                close(fds[1]);
                (void)!read(fds[0], &c, 1);
                _exit(0);
            }
            n++;
            if (n > 10000)
                break;
        }
        /* A thread cannot be created either. */
        pthread_t extra;
        int trc = pthread_create(&extra, NULL, idle, (void *)(long)fds[0]);
        printf("forked %d, then %s; pthread_create: %s\n", n, strerror(err), strerror(trc));
        fflush(stdout);
        close(fds[1]);
        while (wait(NULL) > 0) {
        }
        close(fds[0]);
        for (int i = 0; i < nthreads && i < 64; i++)
            pthread_join(th[i], NULL);
        /* Once they are gone, forking works again. */
        pid_t kid = fork();
        if (kid == 0)
            _exit(0);
        check(kid > 0, "fork works again after the children exited");
        if (kid > 0)
            waitpid(kid, NULL, 0);
        return finish();
    }
    if (strcmp(mode, "zombies") == 0) {
        /* Children that exit at once and stay unreaped: zombies hold their pids. */
        int n = 0, err = 0;
        for (;;) {
            pid_t kid = fork();
            if (kid < 0) {
                err = errno;
                break;
            }
            if (kid == 0)
                _exit(0);
            n++;
            if (n > 10000)
                break;
        }
        printf("zombies %d, then %s\n", n, strerror(err));
        fflush(stdout);
        while (wait(NULL) > 0) {
        }
        /* Once they are reaped, forking works again. */
        pid_t kid = fork();
        if (kid == 0)
            _exit(0);
        check(kid > 0, "fork works again after the zombies were reaped");
        if (kid > 0)
            waitpid(kid, NULL, 0);
        return finish();
    }
    if (strcmp(mode, "bomb") == 0) {
        printf("bombing\n");
        fflush(stdout);
        for (;;)
            fork();
    }
    fprintf(stderr, "usage: limits_forkbomb count [THREADS] | zombies | bomb\n");
    return 2;
}
