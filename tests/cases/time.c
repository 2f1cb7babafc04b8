/* Time: clock_gettime(2), clock_getres(2), nanosleep(2), clock_nanosleep(2), gettimeofday(2),
 * time(2), timerfd_create(2), setitimer(2)/getitimer, alarm(2), timer_create(2) family. */
#include "tap.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>

static volatile sig_atomic_t ticks;
static int timer_ran_fd = -1;
static void timer_ran(union sigval v)
{
    (void)v;
    write(timer_ran_fd, "r", 1);
}
static void on_sig(int s) { (void)s; ticks++; }

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    struct timespec a, b;
    T_EQ(clock_gettime(CLOCK_MONOTONIC, &a), 0, "clock_gettime: CLOCK_MONOTONIC");
    T_EQ(clock_gettime(CLOCK_MONOTONIC, &b), 0, "clock_gettime: again");
    OK(b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec), "clock_gettime: monotonic does not go back");
    T_EQ(syscall(SYS_clock_gettime, CLOCK_REALTIME, &a), 0, "clock_gettime: CLOCK_REALTIME (raw syscall)");
    OK(a.tv_sec > 1600000000, "clock_gettime: realtime after 2020");
    T_EQ(syscall(SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, &a), 0, "clock_gettime: CLOCK_PROCESS_CPUTIME_ID");
    T_EQ(syscall(SYS_clock_gettime, CLOCK_BOOTTIME, &a), 0, "clock_gettime: CLOCK_BOOTTIME");
    T_ERR(syscall(SYS_clock_gettime, 1000, &a), EINVAL, "clock_gettime: bad clock -> EINVAL");
    T_ERR(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, BADPTR), EFAULT, "clock_gettime: bad pointer -> EFAULT");
    T_EQ(syscall(SYS_clock_getres, CLOCK_MONOTONIC, &a), 0, "clock_getres: CLOCK_MONOTONIC");
    OK(a.tv_sec == 0 && a.tv_nsec == 1, "clock_getres: 1 ns resolution (high-res timers)");
    T_ERR(syscall(SYS_clock_getres, 1000, &a), EINVAL, "clock_getres: bad clock -> EINVAL");
    T_EQ(syscall(SYS_clock_getres, CLOCK_REALTIME, NULL), 0, "clock_getres: NULL res allowed");

    struct timeval tv;
    T_EQ(syscall(SYS_gettimeofday, &tv, NULL), 0, "gettimeofday: raw syscall");
    OK(tv.tv_sec > 1600000000 && tv.tv_usec < 1000000, "gettimeofday: plausible value");
    T_ERR(syscall(SYS_gettimeofday, BADPTR, NULL), EFAULT, "gettimeofday: bad pointer -> EFAULT");
    time_t t = 0;
    long r = syscall(SYS_time, &t);
    OK(r > 1600000000 && r == t, "time: returns and stores the same value");
    T_ERR(syscall(SYS_settimeofday, &tv, BADPTR), EFAULT, "settimeofday: bad timezone pointer -> EFAULT");

    /* nanosleep / clock_nanosleep */
    struct timespec sl = {0, 1000000}, rem;
    T_EQ(syscall(SYS_nanosleep, &sl, &rem), 0, "nanosleep: 1 ms");
    struct timespec bad = {0, 1000000000};
    T_ERR(syscall(SYS_nanosleep, &bad, NULL), EINVAL, "nanosleep: tv_nsec >= 1e9 -> EINVAL");
    struct timespec neg = {-1, 0};
    T_ERR(syscall(SYS_nanosleep, &neg, NULL), EINVAL, "nanosleep: negative -> EINVAL");
    T_ERR(syscall(SYS_nanosleep, BADPTR, NULL), EFAULT, "nanosleep: bad pointer -> EFAULT");
    T_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &sl, NULL), 0, "clock_nanosleep: relative 1 ms");
    clock_gettime(CLOCK_MONOTONIC, &a);
    T_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &a, NULL), 0, "clock_nanosleep: TIMER_ABSTIME in the past returns");
    T_EQ(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &sl, NULL), EINVAL, "clock_nanosleep: thread CPU clock -> EINVAL");
    T_EQ(clock_nanosleep(1000, 0, &sl, NULL), EINVAL, "clock_nanosleep: bad clock -> EINVAL");
    /* EINTR: a handled periodic signal interrupts a long sleep (nanosleep(2) ERRORS). */
    struct sigaction sa = {.sa_handler = on_sig};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 5000}, {0, 5000}}, cur;
    T_EQ(setitimer(ITIMER_REAL, &it, NULL), 0, "setitimer: ITIMER_REAL 5 ms periodic");
    struct timespec lng = {30, 0};
    T_ERR(syscall(SYS_nanosleep, &lng, &rem), EINTR, "nanosleep: interrupted by a signal -> EINTR");
    OK(rem.tv_sec <= 30 && rem.tv_sec >= 1, "nanosleep: remaining time written");
    T_EQ(getitimer(ITIMER_REAL, &cur), 0, "getitimer: ITIMER_REAL");
    OK(cur.it_interval.tv_usec == 5000, "getitimer: interval as set");
    struct itimerval zero = {0};
    setitimer(ITIMER_REAL, &zero, NULL);
    T_ERR(setitimer(99, &it, NULL), EINVAL, "setitimer: bad timer -> EINVAL");
    T_ERR(getitimer(99, &cur), EINVAL, "getitimer: bad timer -> EINVAL");
    T_EQ(alarm(100), 0, "alarm: no previous alarm");
    T_EQ(alarm(0), 100, "alarm: cancel returns the remaining seconds");

    /* timerfd */
    int tfd = T_OK(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK), "timerfd_create: monotonic");
    T_ERR(timerfd_create(CLOCK_MONOTONIC, 0x1), EINVAL, "timerfd_create: bad flags -> EINVAL");
    T_ERR(timerfd_create(1000, 0), EINVAL, "timerfd_create: bad clock -> EINVAL");
    uint64_t exp;
    T_ERR(read(tfd, &exp, 8), EAGAIN, "timerfd_create: unarmed read -> EAGAIN");
    struct itimerspec its = {{0, 0}, {0, 1000}}, og;
    T_EQ(timerfd_settime(tfd, 0, &its, NULL), 0, "timerfd_settime: 1 us one-shot");
    fcntl(tfd, F_SETFL, 0);
    T_EQ(read(tfd, &exp, 8), 8, "timerfd_settime: expiry read (blocking)");
    OK(exp == 1, "timerfd_settime: one expiration");
    T_EQ(timerfd_gettime(tfd, &og), 0, "timerfd_gettime: disarmed after one-shot");
    OK(og.it_value.tv_sec == 0 && og.it_value.tv_nsec == 0, "timerfd_gettime: zero value");
    T_ERR(timerfd_settime(tfd, 0x8, &its, NULL), EINVAL, "timerfd_settime: bad flags -> EINVAL");
    T_ERR(timerfd_settime(tfd, 0, BADPTR, NULL), EFAULT, "timerfd_settime: bad pointer -> EFAULT");
    T_ERR(timerfd_gettime(0, &og), EINVAL, "timerfd_gettime: not a timerfd -> EINVAL");
    T_ERR(read(tfd, &exp, 4), EINVAL, "timerfd_create: read of < 8 bytes -> EINVAL");

    /* POSIX timers */
    timer_t tid;
    struct sigevent sev = {.sigev_notify = SIGEV_NONE};
    T_EQ(syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &tid), 0, "timer_create: SIGEV_NONE");
    struct itimerspec pts = {{0, 0}, {100, 0}};
    T_EQ(syscall(SYS_timer_settime, tid, 0, &pts, NULL), 0, "timer_settime: arm 100 s");
    T_EQ(syscall(SYS_timer_gettime, tid, &og), 0, "timer_gettime: armed");
    OK(og.it_value.tv_sec >= 98 && og.it_value.tv_sec <= 100, "timer_gettime: about 100 s left");
    T_EQ(syscall(SYS_timer_getoverrun, tid), 0, "timer_getoverrun: 0");
    T_EQ(syscall(SYS_timer_delete, tid), 0, "timer_delete: deletes");
    T_ERR(syscall(SYS_timer_delete, tid), EINVAL, "timer_delete: again -> EINVAL");
    T_ERR(syscall(SYS_timer_create, 1000, &sev, &tid), EINVAL, "timer_create: bad clock -> EINVAL");
    T_ERR(syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, BADPTR), EFAULT, "timer_create: bad id pointer -> EFAULT");
    /* A timer that signals one thread (SIGEV_THREAD_ID), named by its own id. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    struct sigevent tev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGUSR1};
    tev._sigev_un._tid = syscall(SYS_gettid);
    T_EQ(syscall(SYS_timer_create, CLOCK_MONOTONIC, &tev, &tid), 0, "timer_create: SIGEV_THREAD_ID of the caller");
    struct itimerspec soon = {{0, 0}, {0, 1000000}};
    T_EQ(syscall(SYS_timer_settime, tid, 0, &soon, NULL), 0, "timer_settime: arm the thread's timer");
    siginfo_t fired;
    struct timespec patience = {10, 0};
    OK(sigtimedwait(&usr1, &fired, &patience) == SIGUSR1 && fired.si_code == SI_TIMER,
       "timer_create: the thread's timer signals it (SI_TIMER)");
    syscall(SYS_timer_delete, tid);
    sigprocmask(SIG_UNBLOCK, &usr1, NULL);
    tev._sigev_un._tid = getppid();
    T_ERR(syscall(SYS_timer_create, CLOCK_MONOTONIC, &tev, &tid), EINVAL,
          "timer_create: SIGEV_THREAD_ID of another process -> EINVAL");
    /* glibc's SIGEV_THREAD: a helper thread named by SIGEV_THREAD_ID runs the function. */
    int ran[2];
    pipe(ran);
    timer_ran_fd = ran[1];
    struct sigevent thread_ev = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = timer_ran};
    timer_t glibc_timer;
    T_EQ(timer_create(CLOCK_MONOTONIC, &thread_ev, &glibc_timer), 0, "timer_create: SIGEV_THREAD (glibc)");
    timer_settime(glibc_timer, 0, &soon, NULL);
    struct pollfd ranp = {.fd = ran[0], .events = POLLIN};
    OK(poll(&ranp, 1, 10000) == 1, "timer_create: the SIGEV_THREAD function ran");
    timer_delete(glibc_timer);
    close(ran[0]);
    close(ran[1]);
    /* CPU-time clocks of processes and threads: their ids carry the caller's numbers. */
    clockid_t cpu;
    struct timespec used;
    T_EQ(clock_getcpuclockid(getpid(), &cpu), 0, "clock_getcpuclockid: own pid");
    T_EQ(clock_gettime(cpu, &used), 0, "clock_gettime: own process CPU clock by pid");
    T_EQ(pthread_getcpuclockid(pthread_self(), &cpu), 0, "pthread_getcpuclockid: own thread");
    T_EQ(clock_gettime(cpu, &used), 0, "clock_gettime: own thread CPU clock by tid");
    fflush(stdout);
    pid_t gone = fork();
    if (gone == 0)
        _exit(0);
    waitpid(gone, NULL, 0);
    OK(clock_getcpuclockid(gone, &cpu) != 0, "clock_getcpuclockid: a reaped child has no clock");
    return tap_done();
}
