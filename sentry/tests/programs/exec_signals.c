/* exec_signals: children exec while their parent floods them with a signal they handle.
 * Each child installs a SIGWINCH handler, then execs this program again (which exits 0 at
 * once: SIGWINCH is ignored by default in the new image); the parent sends SIGWINCH from
 * before the exec until the child is gone. Linux's execve never fails with EINTR and is not
 * held up by handled signals: every exec must succeed. */
#define _GNU_SOURCE
#include "prog.h"
#include <signal.h>
#include <sys/wait.h>

#define EXECS 20

static void on_winch(int sig)
{
    (void)sig;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "execed") == 0) {
        /* The mask crosses execve as it was: nothing the sentry held stays blocked. */
        sigset_t mask;
        sigprocmask(SIG_SETMASK, NULL, &mask);
        return sigisemptyset(&mask) ? 0 : 6;
    }
    int execed = 0, failed_exec = 0, masked = 0, other = 0;
    for (int i = 0; i < EXECS; i++) {
        int go[2];
        must(pipe(go) == 0);
        pid_t child = fork();
        must(child >= 0);
        if (child == 0) {
            struct sigaction sa = {.sa_handler = on_winch};
            sigaction(SIGWINCH, &sa, NULL);
            char byte;
            close(go[1]);
            ssize_t n;
            while ((n = read(go[0], &byte, 1)) < 0 && errno == EINTR)
                ;
            if (n != 0)
                _exit(4);
            execl("/proc/self/exe", argv[0], "execed", (char *)NULL);
            _exit(errno == EINTR ? 3 : 5);
        }
        close(go[0]);
        kill(child, SIGWINCH);
        close(go[1]);
        int status = 0;
        while (waitpid(child, &status, WNOHANG) == 0)
            kill(child, SIGWINCH);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            execed++;
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
            failed_exec++;
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 6)
            masked++;
        else
            other++;
    }
    check(failed_exec == 0, "no exec failed with EINTR (%d did)", failed_exec);
    check(masked == 0, "every exec'd program starts with the signal mask of its exec (%d had signals blocked)", masked);
    check(execed == EXECS, "every exec ran the program (%d of %d; %d ended otherwise)", execed, EXECS, other);
    printf("exec_signals done\n");
    return finish();
}
