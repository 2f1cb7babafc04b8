/* zombie: a child exits and stays a zombie until its parent reaps it.
 * The parent first observes the exit without reaping (waitid WNOWAIT), checks the child is a
 * zombie (kill(pid, 0) still succeeds, waitid again reports it), then reaps it with waitpid and
 * checks the status; afterwards the pid is gone (ECHILD). */
#include "prog.h"
#include <signal.h>
#include <sys/wait.h>

int main(void)
{
    pid_t pid = fork();
    must(pid >= 0);
    if (pid == 0)
        _exit(42);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    must(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0);
    check(si.si_pid == pid && si.si_code == CLD_EXITED && si.si_status == 42,
          "child exit seen without reaping (code %d status %d)", si.si_code, si.si_status);
    check(kill(pid, 0) == 0, "zombie still has its pid");
    memset(&si, 0, sizeof si);
    must(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT | WNOHANG) == 0);
    check(si.si_pid == pid, "zombie reported again");
    int status = 0;
    pid_t r = waitpid(pid, &status, 0);
    check(r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 42, "zombie reaped, status 42");
    errno = 0;
    r = waitpid(pid, &status, WNOHANG);
    check(r == -1 && errno == ECHILD, "no child left after reaping (%s)", strerror(errno));
    printf("zombie done\n");
    return finish();
}
