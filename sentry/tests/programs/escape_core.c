/* escape_core: the host kernel must write no core file for the sandbox. Raises RLIMIT_CORE
 * (the sandbox sees what it set), then children crash with SIGSEGV, SIGQUIT and abort() in
 * the working directory; the test looks for core files on the host. Then PR_SET_DUMPABLE 0,
 * which the sandbox sees, must not blind the sentry: a getsockname whose answer the sentry
 * writes into the task still works. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "ok" : "FAIL", what);
    if (!ok)
        failures++;
}

int main(void)
{
    struct rlimit want = {RLIM_INFINITY, RLIM_INFINITY}, got = {0, 0};
    int raised = setrlimit(RLIMIT_CORE, &want) == 0;
    if (!raised) {
        /* Not allowed to raise the hard limit: the soft one up to it will do. */
        getrlimit(RLIMIT_CORE, &want);
        want.rlim_cur = want.rlim_max;
        check(setrlimit(RLIMIT_CORE, &want) == 0, "setrlimit: soft core limit up to the hard one");
    }
    check(getrlimit(RLIMIT_CORE, &got) == 0 && got.rlim_cur == want.rlim_cur && got.rlim_max == want.rlim_max,
          "getrlimit shows the core limit the sandbox set");
    struct rlimit bad = {2, 1};
    errno = 0;
    check(setrlimit(RLIMIT_CORE, &bad) == -1 && errno == EINVAL, "setrlimit soft above hard: EINVAL");
    int sigs[] = {SIGSEGV, SIGQUIT, SIGABRT};
    for (int i = 0; i < 3; i++) {
        pid_t kid = fork();
        if (kid == 0) {
            signal(sigs[i], SIG_DFL);
            raise(sigs[i]);
            _exit(0);
        }
        int status = 0;
        waitpid(kid, &status, 0);
        check(WIFSIGNALED(status) && WTERMSIG(status) == sigs[i], "a child died of a core signal");
    }

    check(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0, "PR_SET_DUMPABLE 0");
    check(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0, "PR_GET_DUMPABLE shows 0");
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "/tmp/core-test-%d.sock", (int)getpid());
    unlink(a.sun_path);
    struct sockaddr_un back;
    socklen_t len = sizeof back;
    memset(&back, 0, sizeof back);
    check(bind(s, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(s, (struct sockaddr *)&back, &len) == 0 &&
              strcmp(back.sun_path, a.sun_path) == 0,
          "getsockname answers in sandbox terms while not dumpable");
    unlink(a.sun_path);
    printf("core done\n");
    return failures != 0;
}
