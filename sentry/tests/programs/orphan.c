/* orphan [subreaper]: a double fork whose middle process exits, leaving an orphan that must
 * still run to completion. The orphan waits until the middle process is gone (EOF on a pipe
 * whose only write end the middle process held), then reports through a second pipe.
 * With "subreaper", the top process is PR_SET_CHILD_SUBREAPER: the orphan is reparented to it,
 * and the top process must reap it with its own exit status. */
#include "prog.h"
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
    int subreaper = argc > 1 && strcmp(argv[1], "subreaper") == 0;
    if (subreaper)
        must(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0);
    int middle_alive[2], report[2];
    must(pipe(middle_alive) == 0 && pipe(report) == 0);
    pid_t middle = fork();
    must(middle >= 0);
    if (middle == 0) {
        close(report[0]);
        pid_t orphan = fork();
        must(orphan >= 0);
        if (orphan == 0) {
            char c;
            close(middle_alive[1]);
            /* EOF once the middle process (the last holder of the write end) has exited. */
            ssize_t n = read(middle_alive[0], &c, 1);
            fdprintf(report[1], "orphan %d ran after its parent exited (read %zd) ppid-changed %d\n",
                     getpid(), n, getppid() != middle ? 1 : 0);
            _exit(7);
        }
        _exit(0); /* middle: leaves the orphan behind, keeping middle_alive[1] until now */
    }
    close(middle_alive[1]);
    close(report[1]);
    close(middle_alive[0]);
    int status = 0;
    check(waitpid(middle, &status, 0) == middle && WIFEXITED(status), "middle process reaped");
    char buf[256];
    size_t len = 0;
    ssize_t n;
    while ((n = read(report[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = 0;
    int orphan_pid = 0, got = 0, changed = 0;
    sscanf(buf, "orphan %d ran after its parent exited (read %d) ppid-changed %d", &orphan_pid,
           &got, &changed);
    check(orphan_pid > 0 && got == 0, "orphan ran to completion: %.*s", (int)strcspn(buf, "\n"),
          buf);
    check(changed, "orphan was reparented");
    if (subreaper) {
        status = 0;
        pid_t r = waitpid(-1, &status, 0);
        check(r == orphan_pid && WIFEXITED(status) && WEXITSTATUS(status) == 7,
              "orphan reaped by the subreaper (pid %d, status %d)", r, WEXITSTATUS(status));
        errno = 0;
        check(waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD, "no child left");
    }
    printf("orphan done\n");
    return finish();
}
