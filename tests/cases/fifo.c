/* FIFOs (fifo(7)): open(2) of a FIFO blocks until the other end is opened, unless
 * O_NONBLOCK (a reader then opens at once; a writer gets ENXIO) or O_RDWR; a signal
 * interrupts a blocked open (EINTR without SA_RESTART, a transparent restart with it). */
#include "tap.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

static volatile int alarms;
static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    char buf[8] = {0};
    T_EQ(mkfifo("f", 0600), 0, "mkfifo: a FIFO");

    T_ERR(open("f", O_WRONLY | O_NONBLOCK), ENXIO, "open: O_WRONLY|O_NONBLOCK, no reader -> ENXIO");
    int r = T_OK(open("f", O_RDONLY | O_NONBLOCK), "open: O_RDONLY|O_NONBLOCK opens at once");
    OK((fcntl(r, F_GETFL) & O_NONBLOCK) != 0, "fcntl: the reader is non-blocking");
    T_EQ(read(r, buf, 1), 0, "read: no writer yet -> end of file");
    int w = T_OK(open("f", O_WRONLY), "open: O_WRONLY with a reader opens at once");
    OK((fcntl(w, F_GETFL) & O_NONBLOCK) == 0, "fcntl: the writer is blocking, as asked");
    close(w);
    close(r);
    int rw = T_OK(open("f", O_RDWR), "open: O_RDWR never waits");
    close(rw);

    /* Reader and writer in two processes, each blocking until the other comes. */
    pid_t c = fork();
    if (c == 0) {
        int fd = open("f", O_WRONLY);
        _exit(fd >= 0 && write(fd, "ping", 4) == 4 ? 0 : 1);
    }
    r = T_OK(open("f", O_RDONLY), "open: a blocking reader meets a blocking writer");
    OK(read(r, buf, 4) == 4 && memcmp(buf, "ping", 4) == 0, "read: the writer's bytes");
    int status;
    waitpid(c, &status, 0);
    OK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "open: the writer's open returned too");
    close(r);
    c = fork();
    if (c == 0) {
        int fd = open("f", O_RDONLY);
        char b[4];
        _exit(fd >= 0 && read(fd, b, 4) == 4 && memcmp(b, "pong", 4) == 0 ? 0 : 1);
    }
    w = T_OK(open("f", O_WRONLY), "open: a blocking writer meets a blocking reader");
    T_EQ(write(w, "pong", 4), 4, "write: to the reader");
    close(w);
    waitpid(c, &status, 0);
    OK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "read: the reader got the bytes");

    /* Nobody comes: a signal ends the wait. */
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval once = {{0, 0}, {0, 200000}};
    setitimer(ITIMER_REAL, &once, NULL);
    T_ERR(open("f", O_RDONLY), EINTR, "open: a handled signal (no SA_RESTART) -> EINTR");
    setitimer(ITIMER_REAL, &once, NULL);
    T_ERR(open("f", O_WRONLY), EINTR, "open: a blocked writer too -> EINTR");
    OK(alarms == 2, "open: each wait saw its signal");

    /* With SA_RESTART the open goes on through signals until a writer comes. The writer
     * signals the reader first; whether those land during the wait or before it, the open
     * must end with the writer's fd. */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    c = fork();
    if (c == 0) {
        for (int i = 0; i < 3; i++)
            kill(getppid(), SIGALRM);
        int fd = open("f", O_WRONLY);
        _exit(fd >= 0 && write(fd, "late", 4) == 4 ? 0 : 1);
    }
    r = T_OK(open("f", O_RDONLY), "open: SA_RESTART signals do not end the wait");
    OK(read(r, buf, 4) == 4 && memcmp(buf, "late", 4) == 0, "read: the late writer's bytes");
    close(r);
    waitpid(c, &status, 0);
    OK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "open: the late writer's open returned");
    unlink("f");
    return tap_done();
}
