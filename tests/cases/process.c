/* Processes: getpid(2)/getppid/gettid, fork(2), vfork(2), clone(2), clone3(2), wait4(2),
 * waitid(2), execve(2), execveat(2), exit(2), exit_group(2), prctl(2), rlimits, sessions and
 * process groups, getrusage(2), times(2), sysinfo(2), scheduling, futex(2), getrandom(2)... */
#include "tap.h"
#include <linux/futex.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/times.h>
#include <asm/prctl.h>

static int child_exit_code(pid_t p)
{
    int st;
    if (waitpid(p, &st, 0) != p)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* CLONE_PARENT_SETTID's word, watched by a thread while clones write it: the number each
 * round's reader saw that was not 0 (or 0 when it saw none). */
#define SETTID_ROUNDS 300
static volatile pid_t settid_word;
static volatile int settid_round, settid_started, settid_done;
static pid_t settid_seen[SETTID_ROUNDS];

static void *settid_reader(void *a)
{
    (void)a;
    settid_started = 1;
    while (!settid_done) {
        int round = settid_round;
        pid_t v = settid_word;
        if (settid_round == round && v != 0)
            settid_seen[round] = v;
    }
    return NULL;
}

static int exit_at_once(void *a)
{
    (void)a;
    return 0;
}

/* Clones with CLONE_VM|CLONE_PARENT_SETTID while a thread reads the word; *late counts the
 * clones that returned before the word held the child's number, *other the rounds where the
 * reader saw a number that was not the child's. */
static void watch_parent_settid(int *late, int *other)
{
    static char stack[65536];
    pthread_t reader;
    *late = *other = -1;
    if (pthread_create(&reader, NULL, settid_reader, NULL) != 0)
        return;
    while (!settid_started)
        ;
    pid_t tids[SETTID_ROUNDS];
    *late = *other = 0;
    for (int i = 0; i < SETTID_ROUNDS; i++) {
        settid_word = 0;
        settid_round = i;
        tids[i] = clone(exit_at_once, stack + sizeof stack, CLONE_VM | CLONE_PARENT_SETTID | SIGCHLD, NULL,
                        (pid_t *)&settid_word, NULL, NULL);
        *late += settid_word != tids[i];
        waitpid(tids[i], NULL, 0);
    }
    settid_done = 1;
    pthread_join(reader, NULL);
    for (int i = 0; i < SETTID_ROUNDS; i++)
        *other += settid_seen[i] != 0 && settid_seen[i] != tids[i];
}

static int no_new_privs_child(void *a)
{
    (void)a;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return 1;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
        return 2;
    fflush(stdout);
    pid_t c = fork();
    if (c == 0)
        _exit(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 1);
    int st;
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 3;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--exec-child") == 0)
        return argc > 2 ? atoi(argv[2]) : 42;
    if (argc > 1 && strcmp(argv[1], "--exit-group") == 0)
        syscall(SYS_exit_group, 7);
    tap_init(argc, argv);
    char self[4096];
    /* The runner starts cases by absolute path; /proc/self/exe only when argv[0] is not one
     * (a rootfs need not have /proc). */
    if (argv[0][0] == '/') {
        snprintf(self, sizeof self, "%s", argv[0]);
    } else {
        ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
        self[sl > 0 ? sl : 0] = 0;
    }

    /* ids */
    pid_t me = getpid();
    OK(me > 0, "getpid: positive");
    T_EQ(syscall(SYS_gettid), me, "gettid: main thread tid == pid");
    OK(getppid() >= 0, "getppid: non-negative");

    /* fork / wait4 */
    fflush(stdout);
    pid_t c = fork();
    if (c == 0)
        _exit(getppid() == me ? 3 : 4);
    OK(c > 0, "fork: returns the child's pid");
    int st = 0;
    struct rusage ru;
    T_EQ(wait4(c, &st, 0, &ru), c, "wait4: reaps the child");
    OK(WIFEXITED(st) && WEXITSTATUS(st) == 3, "fork: the child's getppid() is the parent's getpid()");
    T_ERR(wait4(-1, &st, 0, NULL), ECHILD, "wait4: no children -> ECHILD");
    T_ERR(wait4(-1, &st, 0x40000000 | 0x1000, NULL), EINVAL, "wait4: bad options -> EINVAL");
    fflush(stdout);
    c = fork();
    if (c == 0)
        _exit(0);
    T_ERR(wait4(c, BADPTR, 0, NULL), EFAULT, "wait4: bad status pointer -> EFAULT");
    waitpid(c, NULL, 0);
    fflush(stdout);
    int pp[2];
    pipe(pp);
    c = fork();
    if (c == 0) {
        char b;
        read(pp[0], &b, 1);
        _exit(5);
    }
    T_EQ(wait4(c, &st, WNOHANG, NULL), 0, "wait4: WNOHANG with a running child returns 0");
    write(pp[1], "x", 1);
    T_EQ(child_exit_code(c), 5, "wait4: exit status after release");

    /* waitid */
    fflush(stdout);
    c = fork();
    if (c == 0)
        _exit(9);
    siginfo_t si = {0};
    T_EQ(waitid(P_PID, c, &si, WEXITED), 0, "waitid: P_PID WEXITED");
    OK(si.si_code == CLD_EXITED && si.si_status == 9 && si.si_pid == c, "waitid: siginfo CLD_EXITED status 9");
    T_ERR(waitid(99, 0, &si, WEXITED), EINVAL, "waitid: bad idtype -> EINVAL");
    T_ERR(waitid(P_ALL, 0, &si, 0), EINVAL, "waitid: no wait flags -> EINVAL");
    T_ERR(waitid(P_ALL, 0, &si, WEXITED), ECHILD, "waitid: no children -> ECHILD");
    memset(&si, 0x55, sizeof si);
    waitid(P_ALL, 0, &si, WEXITED);
    OK(si.si_pid == 0 && si.si_signo == 0 && si.si_status == 0,
       "waitid: ECHILD still zeroes si_signo, si_pid and si_status");

    /* waitid with WNOWAIT: nothing yet with WNOHANG, then the exited child, which stays. */
    int go[2];
    pipe(go);
    fflush(stdout);
    c = fork();
    if (c == 0) {
        char b;
        read(go[0], &b, 1);
        _exit(6);
    }
    memset(&si, 0x55, sizeof si);
    T_EQ(waitid(P_PID, c, &si, WEXITED | WNOWAIT | WNOHANG), 0, "waitid: WNOWAIT|WNOHANG, child running");
    OK(si.si_pid == 0 && si.si_signo == 0, "waitid: nothing to report zeroes si_pid and si_signo");
    write(go[1], "x", 1);
    si = (siginfo_t){0};
    T_EQ(waitid(P_PGID, 0, &si, WEXITED | WNOWAIT), 0, "waitid: WNOWAIT on the caller's group");
    OK(si.si_pid == c && si.si_code == CLD_EXITED && si.si_status == 6 && si.si_uid == getuid(),
       "waitid: WNOWAIT names the child, its uid and its status");
    T_ERR(waitid(P_ALL, 0, BADPTR, WEXITED | WNOWAIT), EFAULT, "waitid: WNOWAIT with a bad siginfo -> EFAULT");
    si = (siginfo_t){0};
    T_EQ(waitid(P_ALL, 0, &si, WEXITED), 0, "waitid: the child is still there to reap");
    OK(si.si_pid == c && si.si_status == 6, "waitid: reaps that child");
    close(go[0]);
    close(go[1]);

    /* waitid with no siginfo reaps as well: the child's number is gone after. */
    fflush(stdout);
    c = fork();
    if (c == 0)
        _exit(2);
    T_EQ(syscall(SYS_waitid, P_PID, c, NULL, WEXITED, NULL), 0, "waitid: no siginfo, reaps");
    T_ERR(kill(c, 0), ESRCH, "waitid: the reaped child's number names nothing");
    T_ERR(waitid(P_PID, c, &si, WEXITED | WNOHANG), ECHILD, "waitid: nothing left to reap");

    /* waitid: a child stops, continues, then exits; WNOHANG while it runs. */
    int wp[2];
    pipe(wp);
    fflush(stdout);
    c = fork();
    if (c == 0) {
        char b;
        raise(SIGSTOP);
        read(wp[0], &b, 1);
        _exit(4);
    }
    memset(&si, 0x55, sizeof si);
    T_EQ(waitid(P_PID, c, &si, WEXITED | WSTOPPED), 0, "waitid: WSTOPPED sees the stop");
    OK(si.si_signo == SIGCHLD && si.si_code == CLD_STOPPED && si.si_status == SIGSTOP &&
           si.si_pid == c && si.si_uid == getuid(),
       "waitid: CLD_STOPPED, SIGSTOP, the child's pid and uid");
    kill(c, SIGCONT);
    T_EQ(waitid(P_PID, c, &si, WEXITED | WCONTINUED), 0, "waitid: WCONTINUED sees the continue");
    OK(si.si_code == CLD_CONTINUED && si.si_status == SIGCONT && si.si_pid == c,
       "waitid: CLD_CONTINUED and SIGCONT");
    memset(&si, 0x55, sizeof si);
    T_EQ(waitid(P_PID, c, &si, WEXITED | WNOHANG), 0, "waitid: WNOHANG with a running child returns 0");
    OK(si.si_pid == 0 && si.si_signo == 0, "waitid: WNOHANG with nothing to report zeroes si_pid and si_signo");
    write(wp[1], "x", 1);
    T_EQ(syscall(SYS_waitid, P_PGID, 0, &si, WEXITED, &ru), 0, "waitid: P_PGID 0 (own group) with rusage");
    OK(si.si_code == CLD_EXITED && si.si_status == 4 && si.si_pid == c, "waitid: the group's child exited 4");
    close(wp[0]);
    close(wp[1]);

    /* waitid for stops and continues alone (no WEXITED): by any child, by the stopped
     * child's own group, by its number; WNOWAIT leaves the event, WNOHANG finds none left;
     * the siginfo names the stop signal; a second child that only runs is passed over. The
     * stopped child has a group of its own, so that SIGTSTP stops it (not orphaned). */
    int stp[2];
    pipe(stp);
    fflush(stdout);
    pid_t idle = fork();
    if (idle == 0) {
        char b;
        read(stp[0], &b, 1);
        _exit(0);
    }
    c = fork();
    if (c == 0) {
        char b;
        setpgid(0, 0);
        raise(SIGTSTP);
        read(stp[0], &b, 1);
        _exit(5);
    }
    memset(&si, 0x55, sizeof si);
    T_EQ(waitid(P_ALL, 0, &si, WSTOPPED | WNOWAIT), 0, "waitid: WSTOPPED|WNOWAIT by any child");
    OK(si.si_signo == SIGCHLD && si.si_code == CLD_STOPPED && si.si_status == SIGTSTP &&
           si.si_pid == c && si.si_uid == getuid(),
       "waitid: the stopped child, its stop signal and its uid");
    si = (siginfo_t){0};
    T_EQ(waitid(P_PGID, c, &si, WSTOPPED), 0, "waitid: WSTOPPED by the child's group");
    OK(si.si_code == CLD_STOPPED && si.si_status == SIGTSTP && si.si_pid == c,
       "waitid: the stop WNOWAIT left");
    memset(&si, 0x55, sizeof si);
    T_EQ(waitid(P_ALL, 0, &si, WSTOPPED | WNOHANG), 0, "waitid: WSTOPPED|WNOHANG, the stop taken");
    OK(si.si_pid == 0 && si.si_signo == 0 && si.si_code == 0 && si.si_status == 0,
       "waitid: nothing left to report: zeros");
    T_ERR(waitid(P_ALL, 0, BADPTR, WSTOPPED | WNOHANG), EFAULT,
          "waitid: nothing to report, a bad siginfo -> EFAULT");
    T_ERR(waitid(P_PID, getpid(), &si, WSTOPPED | WNOHANG), ECHILD,
          "waitid: WSTOPPED for the caller itself -> ECHILD");
    kill(c, SIGCONT);
    memset(&ru, 0, sizeof ru);
    si = (siginfo_t){0};
    T_EQ(syscall(SYS_waitid, P_PID, c, &si, WCONTINUED, &ru), 0, "waitid: WCONTINUED with a rusage");
    OK(si.si_signo == SIGCHLD && si.si_code == CLD_CONTINUED && si.si_status == SIGCONT &&
           si.si_pid == c && si.si_uid == getuid(),
       "waitid: CLD_CONTINUED, SIGCONT, the child's pid and uid");
    T_EQ(waitid(P_ALL, 0, &si, WSTOPPED | WCONTINUED | WNOHANG), 0, "waitid: the continue taken");
    OK(si.si_pid == 0, "waitid: nothing to report after the continue");
    write(stp[1], "xx", 2);
    T_EQ(waitid(P_PID, idle, &si, WEXITED | WNOWAIT), 0, "waitid: the idle child exits");
    T_EQ(waitid(P_PID, c, &si, WEXITED | WNOWAIT), 0, "waitid: the stopped child exits");
    si = (siginfo_t){0};
    T_EQ(waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WNOWAIT), 0,
         "waitid: WEXITED|WSTOPPED|WNOWAIT with two zombies");
    OK(si.si_code == CLD_EXITED && si.si_pid == idle && si.si_status == 0,
       "waitid: the older zombie first");
    T_EQ(child_exit_code(idle), 0, "waitid: the idle child reaped");
    T_EQ(child_exit_code(c), 5, "waitid: the stopped child reaped, exit 5");
    close(stp[0]);
    close(stp[1]);

    /* vfork: the parent waits until the child execs or exits. */
    fflush(stdout);
    volatile int shared = 0;
    c = vfork();
    if (c == 0) {
        shared = 1;
        _exit(11);
    }
    OK(shared == 1, "vfork: child ran first in the shared address space");
    T_EQ(child_exit_code(c), 11, "vfork: child exit status");
    /* After a clone the kernel refused (CLONE_THREAD without CLONE_SIGHAND), a vfork's child is
     * a process of its own, not a thread of its parent. */
    T_ERR(syscall(SYS_clone, CLONE_THREAD | CLONE_VM, 0, NULL, NULL, 0), EINVAL,
          "clone: CLONE_THREAD without CLONE_SIGHAND -> EINVAL");
    fflush(stdout);
    volatile pid_t seen_pid = 0, seen_parent = 0;
    c = vfork();
    if (c == 0) {
        seen_pid = getpid();
        seen_parent = getppid();
        _exit(0);
    }
    OK(seen_pid == c && seen_pid != getpid() && seen_parent == getpid(),
       "vfork: after a refused clone the child is a process of its own");
    T_EQ(child_exit_code(c), 0, "vfork: that child's exit status");

    /* clone (raw, fork-like) and clone3 */
    fflush(stdout);
    long r = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (r == 0)
        _exit(12);
    OK(r > 0, "clone: SIGCHLD only behaves like fork");
    T_EQ(child_exit_code(r), 12, "clone: child exit status");
    T_ERR(syscall(SYS_clone, CLONE_SIGHAND, 0, NULL, NULL, 0), EINVAL, "clone: CLONE_SIGHAND without CLONE_VM -> EINVAL");
    T_ERR(syscall(SYS_clone, CLONE_THREAD, 0, NULL, NULL, 0), EINVAL, "clone: CLONE_THREAD without SIGHAND -> EINVAL");
    struct clone_args ca = {.exit_signal = SIGCHLD};
    fflush(stdout);
    r = syscall(SYS_clone3, &ca, sizeof ca);
    if (r == 0)
        _exit(13);
    OK(r > 0, "clone3: fork-like");
    T_EQ(child_exit_code(r), 13, "clone3: child exit status");
    T_ERR(syscall(SYS_clone3, &ca, 8), EINVAL, "clone3: size too small -> EINVAL");
    T_ERR(syscall(SYS_clone3, BADPTR, sizeof ca), EFAULT, "clone3: bad pointer -> EFAULT");
    ca.flags = 0x8000000000000000ull;
    T_ERR(syscall(SYS_clone3, &ca, sizeof ca), EINVAL, "clone3: unknown flag -> EINVAL");

    /* execve / execveat */
    fflush(stdout);
    c = fork();
    if (c == 0) {
        char *av[] = {self, "--exec-child", "21", NULL};
        execve(self, av, (char *[]){NULL});
        _exit(99);
    }
    T_EQ(child_exit_code(c), 21, "execve: runs the new image with its argv");
    char *av[] = {"x", NULL};
    T_ERR(execve("/nonexistent/prog", av, (char *[]){NULL}), ENOENT, "execve: missing file -> ENOENT");
    T_ERR(execve(BADPTR, av, (char *[]){NULL}), EFAULT, "execve: bad path -> EFAULT");
    tap_write_file("notexec", "#!/bin/sh\n");
    T_ERR(execve("notexec", av, (char *[]){NULL}), EACCES, "execve: file without x bit -> EACCES");
    T_ERR(execve(".", av, (char *[]){NULL}), EACCES, "execve: a directory -> EACCES");
    tap_write_file("garbage", "\x01\x02garbage");
    chmod("garbage", 0755);
    T_ERR(execve("garbage", av, (char *[]){NULL}), ENOEXEC, "execve: unknown format -> ENOEXEC");
    T_ERR(execve(self, BADPTR, (char *[]){NULL}), EFAULT, "execve: bad argv -> EFAULT");
    fflush(stdout);
    c = fork();
    if (c == 0) {
        int fd = open(self, O_RDONLY | O_CLOEXEC);
        char *av2[] = {self, "--exec-child", "22", NULL};
        syscall(SYS_execveat, fd, "", av2, (char *[]){NULL}, AT_EMPTY_PATH);
        _exit(99);
    }
    T_EQ(child_exit_code(c), 22, "execveat: AT_EMPTY_PATH on an fd");
    T_ERR(syscall(SYS_execveat, AT_FDCWD, self, av, NULL, 0x1), EINVAL, "execveat: bad flags -> EINVAL");

    /* exit / exit_group */
    fflush(stdout);
    c = fork();
    if (c == 0)
        syscall(SYS_exit, 17);
    T_EQ(child_exit_code(c), 17, "exit: status 17 of a single-threaded child");
    fflush(stdout);
    c = fork();
    if (c == 0) {
        char *av2[] = {self, "--exit-group", NULL};
        execve(self, av2, (char *[]){NULL});
        _exit(99);
    }
    T_EQ(child_exit_code(c), 7, "exit_group: status 7");
    fflush(stdout);
    c = fork();
    if (c == 0)
        syscall(SYS_exit_group, 256 + 3);
    T_EQ(child_exit_code(c), 3, "exit_group: status is masked with 0xff");

    /* prctl */
    char name[16];
    T_EQ(prctl(PR_SET_NAME, "conformance-x"), 0, "prctl: PR_SET_NAME");
    T_EQ(prctl(PR_GET_NAME, name), 0, "prctl: PR_GET_NAME");
    OK(strcmp(name, "conformance-x") == 0, "prctl: name round-trips");
    T_EQ(prctl(PR_GET_DUMPABLE), 1, "prctl: PR_GET_DUMPABLE is 1");
    T_EQ(prctl(PR_SET_PDEATHSIG, SIGTERM), 0, "prctl: PR_SET_PDEATHSIG");
    int pd = 0;
    T_EQ(prctl(PR_GET_PDEATHSIG, &pd), 0, "prctl: PR_GET_PDEATHSIG");
    OK(pd == SIGTERM, "prctl: pdeathsig round-trips");
    prctl(PR_SET_PDEATHSIG, 0);
    T_ERR(prctl(0x7fff0000), EINVAL, "prctl: unknown option -> EINVAL");
    T_ERR(prctl(PR_SET_PDEATHSIG, 999), EINVAL, "prctl: bad signal -> EINVAL");
    T_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 0, "prctl: PR_GET_NO_NEW_PRIVS is 0");
    T_ERR(prctl(PR_GET_NAME, BADPTR), EFAULT, "prctl: PR_GET_NAME bad pointer -> EFAULT");

    /* rlimits */
    struct rlimit rl, rl2;
    T_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0, "getrlimit: RLIMIT_NOFILE");
    OK(rl.rlim_cur <= rl.rlim_max, "getrlimit: soft <= hard");
    T_ERR(syscall(SYS_getrlimit, 999, &rl2), EINVAL, "getrlimit: bad resource -> EINVAL");
    T_ERR(syscall(SYS_getrlimit, RLIMIT_NOFILE, BADPTR), EFAULT, "getrlimit: bad pointer -> EFAULT");
    rl2.rlim_cur = 64;
    rl2.rlim_max = rl.rlim_max;
    T_EQ(setrlimit(RLIMIT_NOFILE, &rl2), 0, "setrlimit: soft NOFILE 64");
    T_ERR(dup2(0, 100), EBADF, "setrlimit: dup2 beyond the soft NOFILE limit -> EBADF");
    rl2.rlim_cur = rl.rlim_max + 1;
    T_ERR(setrlimit(RLIMIT_NOFILE, &rl2), EINVAL, "setrlimit: soft > hard -> EINVAL");
    struct rlimit old;
    T_EQ(prlimit(0, RLIMIT_NOFILE, &rl, &old), 0, "prlimit64: restore and read old");
    OK(old.rlim_cur == 64, "prlimit64: old soft limit 64");
    T_ERR(prlimit(0x3ffffff0, RLIMIT_NOFILE, NULL, &old), ESRCH, "prlimit64: missing pid -> ESRCH");
    T_ERR(prlimit(0, 999, NULL, &old), EINVAL, "prlimit64: bad resource -> EINVAL");

    /* sessions and process groups (in a child, which is not a group leader) */
    fflush(stdout);
    c = fork();
    if (c == 0) {
        int bits = 0;
        pid_t p = getpid();
        if (setpgid(0, 0) == 0)
            bits |= 1;
        if (getpgid(0) == p && getpgrp() == p)
            bits |= 2;
        if (setsid() == -1 && errno == EPERM)
            bits |= 4; /* a process group leader cannot setsid */
        _exit(bits);
    }
    T_EQ(child_exit_code(c), 7, "setpgid: own group; getpgid/getpgrp agree; setsid as leader -> EPERM");
    fflush(stdout);
    c = fork();
    if (c == 0) {
        int bits = 0;
        pid_t p = getpid();
        if (setsid() == p)
            bits |= 1;
        if (getsid(0) == p && getpgrp() == p)
            bits |= 2;
        if (setpgid(0, getppid()) == -1)
            bits |= 4; /* cannot move into another session's group */
        _exit(bits);
    }
    T_EQ(child_exit_code(c), 7, "setsid: new session and group; getsid(0); setpgid across sessions fails");
    T_ERR(getpgid(0x3ffffff0), ESRCH, "getpgid: missing pid -> ESRCH");
    T_ERR(getsid(0x3ffffff0), ESRCH, "getsid: missing pid -> ESRCH");
    T_ERR(setpgid(-1, 0), EINVAL, "setpgid: negative pgid -> EINVAL");
    /* The caller's session may be led from outside our PID namespace (a container, or the
     * sandbox's PID 1), where both are 0; what holds everywhere is that 0 means "self". */
    OK(getsid(0) == getsid(getpid()) && getpgid(0) == getpgid(getpid()) && getpgid(0) == getpgrp(),
       "getsid/getpgid: 0 names the caller");

    /* getrusage / times / sysinfo */
    T_EQ(getrusage(RUSAGE_SELF, &ru), 0, "getrusage: RUSAGE_SELF");
    T_EQ(getrusage(RUSAGE_CHILDREN, &ru), 0, "getrusage: RUSAGE_CHILDREN");
    T_ERR(getrusage(99, &ru), EINVAL, "getrusage: bad who -> EINVAL");
    T_ERR(getrusage(RUSAGE_SELF, BADPTR), EFAULT, "getrusage: bad pointer -> EFAULT");
    struct tms tm;
    OK(syscall(SYS_times, &tm) > 0, "times: returns clock ticks");
    T_ERR(syscall(SYS_times, BADPTR), EFAULT, "times: bad pointer -> EFAULT");
    struct sysinfo sinfo;
    T_EQ(sysinfo(&sinfo), 0, "sysinfo: fills the struct");
    OK(sinfo.totalram > 0 && sinfo.mem_unit > 0 && sinfo.procs > 0, "sysinfo: plausible values");
    T_ERR(sysinfo(BADPTR), EFAULT, "sysinfo: bad pointer -> EFAULT");

    /* scheduling */
    T_EQ(sched_yield(), 0, "sched_yield: returns 0");
    cpu_set_t cs;
    CPU_ZERO(&cs);
    OK(syscall(SYS_sched_getaffinity, 0, sizeof cs, &cs) > 0 && CPU_COUNT(&cs) > 0, "sched_getaffinity: some CPU");
    T_EQ(sched_setaffinity(0, sizeof cs, &cs), 0, "sched_setaffinity: same set");
    T_ERR(syscall(SYS_sched_getaffinity, 0, 1, &cs), EINVAL, "sched_getaffinity: size too small -> EINVAL");
    T_EQ(sched_getscheduler(0), SCHED_OTHER, "sched_getscheduler: SCHED_OTHER");
    struct sched_param sp;
    T_EQ(sched_getparam(0, &sp), 0, "sched_getparam: own");
    OK(sp.sched_priority == 0, "sched_getparam: priority 0");
    T_ERR(sched_getscheduler(-1), EINVAL, "sched_getscheduler: negative pid -> EINVAL");
    errno = 0;
    int prio = getpriority(PRIO_PROCESS, 0);
    OK(errno == 0 && prio >= -20 && prio <= 19, "getpriority: own nice value");
    T_EQ(setpriority(PRIO_PROCESS, 0, prio + 1 > 19 ? 19 : prio + 1), 0, "setpriority: nicer");
    T_ERR(getpriority(99, 0), EINVAL, "getpriority: bad which -> EINVAL");
    unsigned cpu = 999, node = 999;
    T_EQ(syscall(SYS_getcpu, &cpu, &node, NULL), 0, "getcpu: returns 0");
    OK(cpu < 4096, "getcpu: cpu number plausible");

    /* thread-area and futex plumbing */
    OK(syscall(SYS_set_tid_address, NULL) == me, "set_tid_address: returns the tid");
    unsigned long fsbase = 0;
    T_EQ(syscall(SYS_arch_prctl, ARCH_GET_FS, &fsbase), 0, "arch_prctl: ARCH_GET_FS");
    OK(fsbase != 0, "arch_prctl: TLS base set");
    T_ERR(syscall(SYS_arch_prctl, 0x9999, &fsbase), EINVAL, "arch_prctl: bad code -> EINVAL");
    uint32_t fw = 1;
    T_EQ(syscall(SYS_futex, &fw, FUTEX_WAKE, 1, NULL, NULL, 0), 0, "futex: FUTEX_WAKE with no waiters");
    T_ERR(syscall(SYS_futex, &fw, FUTEX_WAIT, 2, NULL, NULL, 0), EAGAIN, "futex: FUTEX_WAIT value mismatch -> EAGAIN");
    struct timespec zt = {0, 1000};
    T_ERR(syscall(SYS_futex, &fw, FUTEX_WAIT, 1, &zt, NULL, 0), ETIMEDOUT, "futex: FUTEX_WAIT timeout -> ETIMEDOUT");
    T_ERR(syscall(SYS_futex, &fw, 99, 1, NULL, NULL, 0), ENOSYS, "futex: bad op -> ENOSYS");
    T_ERR(syscall(SYS_futex, BADPTR, FUTEX_WAIT, 1, NULL, NULL, 0), EFAULT, "futex: bad address -> EFAULT");
    void *head;
    size_t len;
    T_EQ(syscall(SYS_get_robust_list, 0, &head, &len), 0, "get_robust_list: own");
    OK(len == 24, "get_robust_list: glibc registered a 24-byte head");
    T_ERR(syscall(SYS_set_robust_list, head, 1), EINVAL, "set_robust_list: bad length -> EINVAL");
    T_EQ(syscall(SYS_set_robust_list, head, len), 0, "set_robust_list: same head");

    /* getrandom / personality */
    unsigned char rnd[64];
    T_EQ(getrandom(rnd, sizeof rnd, 0), 64, "getrandom: 64 bytes");
    T_EQ(getrandom(rnd, sizeof rnd, GRND_NONBLOCK), 64, "getrandom: GRND_NONBLOCK");
    T_ERR(getrandom(rnd, sizeof rnd, 0x100), EINVAL, "getrandom: bad flags -> EINVAL");
    T_ERR(getrandom(BADPTR, 16, 0), EFAULT, "getrandom: bad buffer -> EFAULT");
    T_EQ(syscall(SYS_personality, 0xffffffff), 0, "personality: query returns PER_LINUX");

    /* no_new_privs: set once, seen by the caller and inherited by a child. */
    T_ERR(prctl(PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0), EINVAL, "prctl: PR_SET_NO_NEW_PRIVS 2 -> EINVAL");
    T_ERR(prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0), EINVAL, "prctl: PR_GET_NO_NEW_PRIVS with an argument -> EINVAL");
    T_EQ(tap_in_child(no_new_privs_child, NULL), 0, "prctl: PR_SET_NO_NEW_PRIVS is seen and inherited");

    /* The ids clone writes into memory: the caller's numbers, in place when clone returns. */
    int late, other;
    watch_parent_settid(&late, &other);
    T_EQ(late, 0, "clone: CLONE_PARENT_SETTID's word holds the child's id when clone returns");
    T_EQ(other, 0, "clone: a thread reading CLONE_PARENT_SETTID's word sees only the child's id");
    static pid_t own_word;
    fflush(stdout);
    pid_t forked = syscall(SYS_clone, CLONE_CHILD_SETTID | SIGCHLD, 0, NULL, &own_word, 0);
    if (forked == 0)
        _exit(own_word == getpid() ? 0 : 1);
    T_EQ(child_exit_code(forked), 0, "clone: CLONE_CHILD_SETTID's word in the child's memory holds its id");
    OK(own_word == 0, "clone: CLONE_CHILD_SETTID writes nothing into the parent's copy");
    int pidfd = -1;
    T_ERR(syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &pidfd, NULL, 0), EINVAL,
          "clone: CLONE_PIDFD with CLONE_PARENT_SETTID (one word for both) -> EINVAL");
    fflush(stdout);
    forked = syscall(SYS_clone, CLONE_PARENT_SETTID | SIGCHLD, 0, BADPTR, NULL, 0);
    if (forked == 0)
        _exit(0);
    T_EQ(child_exit_code(forked), 0, "clone: CLONE_PARENT_SETTID at an unmapped address is not written");
    return tap_done();
}
