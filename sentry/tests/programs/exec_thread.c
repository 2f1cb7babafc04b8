/* exec_thread [TARGET]: a non-main thread calls execve while other threads are running.
 * With no argument, it re-executes itself (argv[0] "after-exec"), which prints "exec from
 * thread ok" and the pid it has (the exec makes the thread take over the thread group leader's
 * pid, which must equal the pid before the exec), and checks that it has the CPUs the process
 * had before (a sentry that held the thread to one CPU over its exec gives them back). With TARGET (e.g. /bin/echo), the thread execs
 * TARGET with the argument "exec from thread ok". */
#define _GNU_SOURCE
#include "prog.h"
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>

static const char *self;
static const char *target;
static char pidbuf[32];
static char cpusbuf[32];

static int cpus(void)
{
    cpu_set_t set;
    must(sched_getaffinity(0, sizeof set, &set) == 0);
    return CPU_COUNT(&set);
}
static volatile int spin = 1;

static void *busy(void *arg)
{
    (void)arg;
    while (spin)
        syscall(SYS_getppid);
    return NULL;
}

static void *execer(void *arg)
{
    (void)arg;
    if (target) {
        char *const av[] = {(char *)target, "exec from thread ok", NULL};
        char *const ev[] = {"PATH=/usr/bin:/bin", NULL};
        execve(target, av, ev);
    } else {
        char *const av[] = {(char *)self, "after-exec", pidbuf, cpusbuf, NULL};
        char *const ev[] = {NULL};
        execve(self, av, ev);
    }
    fprintf(stderr, "execve: %s\n", strerror(errno));
    exit(3);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "after-exec") == 0) {
        int same = atoi(argv[2]) == getpid();
        check(same, "pid after exec from a thread is the thread group's (%s -> %d)", argv[2],
              getpid());
        check(atoi(argv[3]) == cpus(), "CPUs after exec from a thread: %s -> %d", argv[3],
              cpus());
        printf("exec from thread ok\n");
        return finish();
    }
    self = argv[0];
    if (argc == 2)
        target = argv[1];
    snprintf(pidbuf, sizeof pidbuf, "%d", getpid());
    snprintf(cpusbuf, sizeof cpusbuf, "%d", cpus());
    pthread_t b1, b2, e;
    must(pthread_create(&b1, NULL, busy, NULL) == 0);
    must(pthread_create(&b2, NULL, busy, NULL) == 0);
    must(pthread_create(&e, NULL, execer, NULL) == 0);
    /* The exec ends every thread, this one included: the join never returns. */
    pthread_join(e, NULL);
    return 4;
}
