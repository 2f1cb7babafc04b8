/* stopcont: SIGSTOP / SIGCONT and group-stop behave as natively.
 * 1. The process stops itself with raise(SIGSTOP); a helper child sends SIGCONT (again and
 *    again, until the parent reports it runs: a SIGCONT sent before the stop does not count).
 * 2. A child stops itself with raise(SIGSTOP); the parent sees it stopped (waitpid WUNTRACED),
 *    continues it (SIGCONT, waitpid WCONTINUED), and the child runs on.
 * 3. Group-stop: the parent stops a running child with SIGSTOP, sees the stop, and checks the
 *    child stays stopped: a request sent to it gets no answer while it is stopped (a bounded
 *    poll: this can only miss a wrongly running child, never fail a correct one); after SIGCONT
 *    the answer comes. With "threads", the child answers from a second thread while its main
 *    thread blocks, so the whole thread group must stop. */
#include "prog.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

static void self_stop(void)
{
    int resumed[2];
    must(pipe(resumed) == 0);
    pid_t parent = getpid();
    pid_t helper = fork();
    must(helper >= 0);
    if (helper == 0) {
        close(resumed[1]);
        struct pollfd pfd = {.fd = resumed[0], .events = POLLIN};
        for (int i = 0; i < 100000; i++) {
            if (kill(parent, SIGCONT) != 0)
                _exit(2);
            if (poll(&pfd, 1, 10) > 0)
                _exit(0);
        }
        _exit(3);
    }
    close(resumed[0]);
    must(raise(SIGSTOP) == 0);
    must(write(resumed[1], "r", 1) == 1);
    int status = 0;
    must(waitpid(helper, &status, 0) == helper);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "stopped self, continued by a child");
    close(resumed[1]);
}

static void child_stops_itself(void)
{
    int out[2], go[2];
    must(pipe(out) == 0 && pipe(go) == 0);
    pid_t child = fork();
    must(child >= 0);
    if (child == 0) {
        char c;
        close(out[0]);
        close(go[1]);
        raise(SIGSTOP);
        write_all(out[1], "after", 5);
        /* Stay alive until the parent has seen the continue: a child that already exited
         * would be reported as exited, not continued. */
        _exit(read(go[0], &c, 1) == 0 ? 0 : 1);
    }
    close(out[1]);
    close(go[0]);
    int status = 0;
    must(waitpid(child, &status, WUNTRACED) == child);
    check(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP, "child stopped itself (status %#x)",
          status);
    must(kill(child, SIGCONT) == 0);
    must(waitpid(child, &status, WCONTINUED) == child);
    check(WIFCONTINUED(status), "child continued (status %#x)", status);
    char buf[8] = {0};
    ssize_t n = read(out[0], buf, sizeof buf - 1);
    check(n == 5 && strcmp(buf, "after") == 0, "child ran after SIGCONT");
    close(go[1]);
    must(waitpid(child, &status, 0) == child);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child exited 0");
    close(out[0]);
}

static int echo_in = -1, echo_out = -1;

/* Answers each byte read from echo_in on echo_out, until EOF. */
static void *echo_loop(void *arg)
{
    char c;
    (void)arg;
    while (read(echo_in, &c, 1) == 1)
        write_all(echo_out, &c, 1);
    return NULL;
}

static void group_stop(int threads)
{
    int req[2], ans[2];
    must(pipe(req) == 0 && pipe(ans) == 0);
    pid_t child = fork();
    must(child >= 0);
    if (child == 0) {
        close(req[1]);
        close(ans[0]);
        echo_in = req[0];
        echo_out = ans[1];
        if (threads) {
            pthread_t t;
            int blocker[2];
            must(pipe(blocker) == 0);
            must(pthread_create(&t, NULL, echo_loop, NULL) == 0);
            pthread_join(t, NULL);
        } else {
            echo_loop(NULL);
        }
        _exit(0);
    }
    close(req[0]);
    close(ans[1]);
    const char *what = threads ? "multithreaded child" : "child";
    char c = 0;
    must(write(req[1], "1", 1) == 1);
    check(read(ans[0], &c, 1) == 1 && c == '1', "%s answers while running", what);

    must(kill(child, SIGSTOP) == 0);
    int status = 0;
    must(waitpid(child, &status, WUNTRACED) == child);
    check(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP, "%s stopped by SIGSTOP (status %#x)",
          what, status);
    must(write(req[1], "2", 1) == 1);
    struct pollfd pfd = {.fd = ans[0], .events = POLLIN};
    int ready = poll(&pfd, 1, 300);
    check(ready == 0, "stopped %s stays stopped (poll %d)", what, ready);

    must(kill(child, SIGCONT) == 0);
    must(waitpid(child, &status, WCONTINUED) == child);
    check(WIFCONTINUED(status), "%s continued (status %#x)", what, status);
    c = 0;
    check(read(ans[0], &c, 1) == 1 && c == '2', "%s answers after SIGCONT", what);
    close(req[1]);
    must(waitpid(child, &status, 0) == child);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s exited 0", what);
    close(ans[0]);
}

int main(void)
{
    self_stop();
    child_stops_itself();
    group_stop(0);
    group_stop(1);
    printf("stopcont done\n");
    return finish();
}
