/* thread_exit: threads exit while others keep running. Two long-lived threads make syscalls
 * until told to stop; meanwhile 32 short-lived threads are created and exit (half by returning,
 * half with pthread_exit); finally the main thread (the thread group leader) exits alone with
 * pthread_exit while another thread runs on, joins it, and ends the process. */
#include "prog.h"
#include <pthread.h>
#include <semaphore.h>
#include <sys/syscall.h>

#define SHORT_LIVED 32

static volatile int stop;

static sem_t long_lived_up;

static void *long_lived(void *arg)
{
    long n = 0;
    (void)arg;
    syscall(SYS_getpid);
    n++;
    sem_post(&long_lived_up);
    while (!stop) {
        syscall(SYS_getpid);
        n++;
    }
    return (void *)n;
}

static void *short_lived(void *arg)
{
    long i = (long)arg;
    syscall(SYS_gettid);
    if (i % 2)
        pthread_exit((void *)(i + 1));
    return (void *)(i + 1);
}

static pid_t leader;
static pthread_t main_thread;

static void *last(void *arg)
{
    (void)arg;
    /* Joining the main thread returns once the kernel has cleared its tid (it exited):
     * from then on the thread group runs without its leader. */
    int joined = pthread_join(main_thread, NULL);
    check(joined == 0, "joined the exited main thread (%s)", strerror(joined));
    check(getpid() == leader, "process keeps its pid after the leader thread exited");
    printf("thread_exit done\n");
    exit(finish());
}

int main(void)
{
    pthread_t a, b, t[SHORT_LIVED], l;
    leader = getpid();
    main_thread = pthread_self();
    must(sem_init(&long_lived_up, 0, 0) == 0);
    must(pthread_create(&a, NULL, long_lived, NULL) == 0);
    must(pthread_create(&b, NULL, long_lived, NULL) == 0);
    /* Both long-lived threads are running (they made a call) before the others come and go. */
    must(sem_wait(&long_lived_up) == 0 && sem_wait(&long_lived_up) == 0);
    int ok = 0;
    for (long i = 0; i < SHORT_LIVED; i++) {
        must(pthread_create(&t[i], NULL, short_lived, (void *)i) == 0);
    }
    for (long i = 0; i < SHORT_LIVED; i++) {
        void *ret = NULL;
        if (pthread_join(t[i], &ret) == 0 && ret == (void *)(i + 1))
            ok++;
    }
    check(ok == SHORT_LIVED, "%d short-lived threads exited with their values", ok);
    stop = 1;
    void *ra = NULL, *rb = NULL;
    must(pthread_join(a, &ra) == 0 && pthread_join(b, &rb) == 0);
    check(ra != NULL && rb != NULL, "long-lived threads ran while others exited (%ld, %ld calls)",
          (long)ra, (long)rb);
    fflush(stdout);
    must(pthread_create(&l, NULL, last, NULL) == 0);
    pthread_exit(NULL); /* this thread only: the process goes on with `last` */
}
