/* escape_zombie_reuse ignore|nullinfo NAME: a child named NAME (its comm, for the test to
 * find its host pid) is reaped where the sentry does not see it reaped: by the kernel itself
 * for a parent that ignores SIGCHLD ("ignore"), or by a waitid with no siginfo
 * ("nullinfo"). Meanwhile the test gives that host pid to a process of its own, outside the
 * sandbox. The child's number must name nothing then (ESRCH from kill, getpgid and
 * pidfd_open): a sentry that kept it for the host pid would let the sandbox signal, or open
 * a pidfd on, whatever host process took the pid.
 *
 * Steps, each answered by a line on stdin: prints "named" once the child has its name;
 * on a line, the child exits and is reaped, and the program prints "reaped"; on a line, it
 * tries the number and prints "clean" (exit 0) or names what it found (exit 3). */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* What `pid` names now, if anything: the call that found it. */
static const char *named(pid_t pid)
{
    if (kill(pid, 0) == 0 || errno != ESRCH)
        return "kill";
    if (getpgid(pid) >= 0 || errno != ESRCH)
        return "getpgid";
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        close(fd);
        return "pidfd_open";
    }
    return errno != ESRCH ? "pidfd_open" : NULL;
}

static int next_step(void)
{
    char line[64];
    fflush(stdout);
    return fgets(line, sizeof line, stdin) != NULL;
}

int main(int argc, char **argv)
{
    int ignore = argc == 3 && strcmp(argv[1], "ignore") == 0;
    if (argc != 3 || (!ignore && strcmp(argv[1], "nullinfo") != 0)) {
        fprintf(stderr, "usage: escape_zombie_reuse ignore|nullinfo NAME\n");
        return 2;
    }
    if (ignore)
        signal(SIGCHLD, SIG_IGN);
    int named_pipe[2], exit_pipe[2];
    if (pipe(named_pipe) != 0 || pipe(exit_pipe) != 0)
        return 1;
    pid_t child = fork();
    if (child == 0) {
        char b;
        prctl(PR_SET_NAME, argv[2]);
        write(named_pipe[1], "n", 1);
        read(exit_pipe[0], &b, 1);
        _exit(0);
    }
    char b;
    if (child < 0 || read(named_pipe[0], &b, 1) != 1)
        return 1;
    printf("named\n");
    if (!next_step())
        return 1;
    write(exit_pipe[1], "x", 1);
    if (ignore) {
        /* Reaped by the kernel as it exits: gone once kill says so. */
        while (kill(child, 0) == 0)
            sched_yield();
    } else if (syscall(SYS_waitid, P_PID, child, NULL, WEXITED, NULL) != 0) {
        printf("waitid: errno %d\n", errno);
        return 1;
    }
    if (named(child)) {
        printf("the reaped child %d is still there (%s)\n", child, named(child));
        return 1;
    }
    printf("reaped\n");
    if (!next_step())
        return 1;
    const char *by = named(child);
    if (by) {
        printf("ESCAPE: the reaped child's number %d names a process (%s)\n", child, by);
        return 3;
    }
    printf("clean\n");
    return 0;
}
