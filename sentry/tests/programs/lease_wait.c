/* lease_wait DIR: an open that waits for a file lease delays only its own caller.
 * The parent takes a read lease on a file of its own; a child opens the file for writing,
 * which waits until the lease is given up. Once the lease break has begun (SIGIO), the parent
 * opens and stats other files while the child still waits — the sentry and its gofer must
 * serve them — and only then gives the lease up; the child's open then completes. */
#include "prog.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

static volatile sig_atomic_t broken;

static void on_sigio(int sig)
{
    (void)sig;
    broken = 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: lease_wait DIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/lease-%d", argv[1], (int)getpid());
    int fd = open(path, O_CREAT | O_EXCL | O_RDONLY, 0644);
    must(fd >= 0);
    sigset_t io, old;
    sigemptyset(&io);
    sigaddset(&io, SIGIO);
    must(sigprocmask(SIG_BLOCK, &io, &old) == 0);
    must(signal(SIGIO, on_sigio) != SIG_ERR);
    if (fcntl(fd, F_SETLEASE, F_RDLCK) != 0) {
        printf("lease refused: %s\n", strerror(errno));
        unlink(path);
        return 3;
    }
    int done[2];
    must(pipe(done) == 0);
    pid_t kid = fork();
    must(kid >= 0);
    if (kid == 0) {
        close(done[0]);
        int w = open(path, O_WRONLY);
        (void)!write(done[1], w >= 0 ? "y" : "n", 1);
        _exit(w >= 0 ? 0 : 1);
    }
    close(done[1]);
    while (!broken)
        sigsuspend(&old);
    /* The child waits in its open now. Other calls are served meanwhile. */
    struct stat st;
    int other = open("/", O_RDONLY | O_DIRECTORY);
    check(other >= 0 && fstat(other, &st) == 0, "an open and a stat are served while a lease holds another open");
    check(stat(argv[1], &st) == 0, "a path stat is served while a lease holds another open");
    struct pollfd p = {.fd = done[0], .events = POLLIN};
    check(poll(&p, 1, 0) == 0, "the child's open still waits for the lease");
    must(fcntl(fd, F_SETLEASE, F_UNLCK) == 0);
    char c = 0;
    check(read(done[0], &c, 1) == 1 && c == 'y', "the child's open completed once the lease was given up");
    int status;
    must(waitpid(kid, &status, 0) == kid);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child exited 0");
    unlink(path);
    printf("lease_wait done\n");
    return finish();
}
