// conformance: ns
/* PID namespace: the first task is PID 1 with no parent in the namespace; children get small
 * PIDs; kill(2) and wait4(2) use namespace PIDs; /proc/self agrees. Run natively under
 * `unshare --pid --fork --mount-proc`. */
#include "tap.h"
#include <signal.h>
#include <sys/prctl.h>

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    T_EQ(getpid(), 1, "getpid: the first task is PID 1");
    T_EQ(getppid(), 0, "getppid: PID 1 has parent 0 in its namespace");
    T_EQ(syscall(SYS_gettid), 1, "gettid: 1");
    char link[64] = {0};
    T_EQ(readlink("/proc/self", link, sizeof link), 1, "getpid: /proc/self links to \"1\"");
    OK(strcmp(link, "1") == 0, "getpid: /proc/self is 1");
    fflush(stdout);
    int pp[2];
    pipe(pp);
    pid_t c = fork();
    if (c == 0) {
        char b;
        read(pp[0], &b, 1);
        _exit(getppid() == 1 ? 0 : 1);
    }
    OK(c > 1 && c < 100, "fork: child PID is small (namespace numbering)");
    T_EQ(kill(c, 0), 0, "kill: the child's namespace PID reaches it");
    T_EQ(getpgid(c), getpgid(0), "getpgid: the child is in its parent's group");
    write(pp[1], "x", 1);
    int st;
    T_EQ(waitpid(c, &st, 0), c, "wait4: by namespace PID");
    OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "getppid: the child sees parent 1");
    T_ERR(kill(c, 0), ESRCH, "kill: reaped child -> ESRCH");
    /* Orphans are reparented to PID 1 (the namespace's init). */
    fflush(stdout);
    c = fork();
    if (c == 0) {
        pid_t g = fork();
        if (g == 0) {
            char b;
            read(pp[0], &b, 1);
            _exit(getppid() == 1 ? 0 : 1);
        }
        _exit(0);
    }
    waitpid(c, NULL, 0);
    write(pp[1], "y", 1);
    pid_t w = wait(&st);
    OK(w > 1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "wait4: an orphan is reparented to PID 1 and reaped by it");
    T_ERR(kill(12345, 0), ESRCH, "kill: a PID not in the namespace -> ESRCH");
    return tap_done();
}
