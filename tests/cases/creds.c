/* Credentials in depth (issue 8): the saved-id and file-system-id rules of setuid(2),
 * setreuid, setresuid, setgid, setregid, setresgid, setfsuid, setfsgid, the capability sets
 * that follow uid changes and execve, capget/capset versions, pids and subset rules, and
 * getgroups/setgroups edge cases. Starts as root; every change happens in a child, which
 * returns 0 or the number of the step that went wrong. */
#include "tap.h"
#include <grp.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/wait.h>

static const char *self;

static unsigned long long capword(int which)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0)
        return ~0ULL;
    unsigned lo = which == 0 ? d[0].effective : which == 1 ? d[0].permitted : d[0].inheritable;
    unsigned hi = which == 0 ? d[1].effective : which == 1 ? d[1].permitted : d[1].inheritable;
    return lo | (unsigned long long)hi << 32;
}
#define EFF() capword(0)
#define PRM() capword(1)
#define INH() capword(2)
#define HAS(set, cap) (((set) >> (cap)) & 1)

static int run(int (*fn)(void *))
{
    int st = tap_in_child(fn, NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

static int ids_are(uid_t r, uid_t e, uid_t s)
{
    uid_t a, b, c;
    return getresuid(&a, &b, &c) == 0 && a == r && b == e && c == s;
}

static int gids_are(gid_t r, gid_t e, gid_t s)
{
    gid_t a, b, c;
    return getresgid(&a, &b, &c) == 0 && a == r && b == e && c == s;
}

static int setreuid_saved(void *a)
{
    (void)a;
    if (setreuid(-1, 1000) || !ids_are(0, 1000, 1000))
        return 1; /* a new euid other than the real uid becomes the saved uid */
    if (EFF() != 0 || !HAS(PRM(), CAP_SYS_ADMIN))
        return 2; /* euid 0 -> 1000 clears the effective set only */
    if (setreuid(-1, 0) || !ids_are(0, 0, 1000) || !HAS(EFF(), CAP_SYS_ADMIN))
        return 3; /* back to euid 0 through the real uid: effective = permitted */
    if (setreuid(1000, -1) || !ids_are(1000, 0, 0))
        return 4; /* a real uid given: saved = new euid */
    return 0;
}

static int setresuid_perm(void *a)
{
    (void)a;
    if (setresuid(1000, 2000, 3000) || !ids_are(1000, 2000, 3000))
        return 1;
    if (PRM() != 0 || EFF() != 0)
        return 2; /* no uid 0 left: permitted and effective are empty */
    if (setresuid(3000, 1000, 2000) || !ids_are(3000, 1000, 2000))
        return 3; /* any permutation of the three */
    if (setresuid(4000, -1, -1) != -1 || errno != EPERM)
        return 4;
    if (setreuid(2000, -1) != -1 || errno != EPERM)
        return 5; /* setreuid: the real uid only from the real or effective uid */
    if (setuid(2000) || !ids_are(3000, 2000, 2000))
        return 6; /* unprivileged setuid: the effective uid only */
    return 0;
}

static int gid_rules(void *a)
{
    (void)a;
    if (setresgid(10, 20, 30) || !gids_are(10, 20, 30))
        return 1;
    if (setuid(1000))
        return 2;
    if (setregid(30, -1) != -1 || errno != EPERM)
        return 3; /* the real gid only from the real or effective gid */
    if (setregid(-1, 30) || !gids_are(10, 30, 30))
        return 4; /* the effective from any of the three; saved follows (egid != rgid) */
    if (setgid(10) || !gids_are(10, 10, 30))
        return 5;
    if (setgid(99) != -1 || errno != EPERM)
        return 6;
    if (setresgid(-1, -1, 10) || !gids_are(10, 10, 10))
        return 7;
    return 0;
}

static int fsuid_caps(void *a)
{
    (void)a;
    if (setfsuid(1000) != 0)
        return 1;
    if (HAS(EFF(), CAP_DAC_OVERRIDE) || HAS(EFF(), CAP_CHOWN) || !HAS(EFF(), CAP_SETUID))
        return 2; /* a non-root fsuid loses the file capabilities only */
    if (setfsuid(0) != 1000 || !HAS(EFF(), CAP_DAC_OVERRIDE))
        return 3;
    if (setfsgid(77) != 0 || setfsgid(-1) != 77)
        return 4;
    if (setuid(1000))
        return 5;
    if (setfsuid(0) != 1000 || setfsuid(-1) != 1000)
        return 6; /* refused without an error: the old value either way */
    if (setfsgid(5) != 77 || setfsgid(-1) != 77)
        return 7; /* setuid leaves the gids; without CAP_SETGID 5 is refused */
    return 0;
}

static int groups_edges(void *a)
{
    (void)a;
    gid_t g[2] = {9, 3}, out[2];
    if (setgroups(2, g) || getgroups(2, out) != 2)
        return 1;
    if (setgroups(0, NULL) || getgroups(0, NULL) != 0)
        return 2;
    if (setgroups(1, BADPTR) != -1 || errno != EFAULT)
        return 3;
    if (setgroups(2, g) || setuid(1000))
        return 4;
    if (getgroups(0, NULL) != 2)
        return 5; /* groups survive setuid */
    if (setgroups(0, NULL) != -1 || errno != EPERM)
        return 6;
    return 0;
}

static int caps_subsets(void *a)
{
    (void)a;
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d))
        return 1;
    d[0].effective &= ~(1u << CAP_SYS_ADMIN);
    if (syscall(SYS_capset, &h, d) || HAS(EFF(), CAP_SYS_ADMIN))
        return 2; /* out of effective */
    d[0].effective |= 1u << CAP_SYS_ADMIN;
    if (syscall(SYS_capset, &h, d) || !HAS(EFF(), CAP_SYS_ADMIN))
        return 3; /* back from permitted */
    d[0].inheritable |= 1u << CAP_CHOWN;
    if (syscall(SYS_capset, &h, d) || !HAS(INH(), CAP_CHOWN))
        return 4;
    d[0].effective &= ~(1u << CAP_KILL);
    d[0].permitted &= ~(1u << CAP_KILL);
    if (syscall(SYS_capset, &h, d) || HAS(PRM(), CAP_KILL))
        return 5; /* out of permitted */
    d[0].permitted |= 1u << CAP_KILL;
    if (syscall(SYS_capset, &h, d) != -1 || errno != EPERM)
        return 6; /* never back */
    return 0;
}

static int caps_unprivileged(void *a)
{
    (void)a;
    if (setuid(1000))
        return 1;
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {{0, 0, 1u << CAP_CHOWN}, {0, 0, 0}};
    if (syscall(SYS_capset, &h, d) != -1 || errno != EPERM)
        return 2; /* inheritable beyond permitted needs CAP_SETPCAP */
    struct __user_cap_header_struct v1 = {_LINUX_CAPABILITY_VERSION_1, 0};
    struct __user_cap_data_struct one = {0, 0, 0};
    if (syscall(SYS_capget, &v1, &one) || one.effective || one.permitted)
        return 3;
    return 0;
}

/* A root child that drops to 1000 and waits, for capget of another pid. */
static int capget_other(void *a)
{
    (void)a;
    int go[2], done[2];
    if (pipe(go) || pipe(done))
        return 1;
    pid_t p = fork();
    if (p == 0) {
        char c;
        close(go[0]);
        close(done[1]);
        setuid(1000);
        write(go[1], "x", 1);
        read(done[0], &c, 1);
        _exit(0);
    }
    char c;
    close(go[1]);
    close(done[0]);
    if (read(go[0], &c, 1) != 1)
        return 2;
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, p};
    struct __user_cap_data_struct d[2];
    int rc = 0;
    if (syscall(SYS_capget, &h, d) || d[0].effective || d[0].permitted)
        rc = 3;
    struct __user_cap_data_struct mine[2] = {{0, 0, 0}, {0, 0, 0}};
    if (!rc && (syscall(SYS_capset, &h, mine) != -1 || errno != EPERM))
        rc = 4; /* capset on another process */
    close(done[1]);
    waitpid(p, NULL, 0);
    return rc;
}

static int exec_as(uid_t r, uid_t e, const char *mode)
{
    if (setresuid(r, e, e))
        return 1;
    fflush(stdout);
    execl(self, self, mode, (char *)NULL);
    return 2;
}
static int exec_user(void *a)
{
    (void)a;
    return exec_as(1000, 1000, "--after-exec-user");
}
static int exec_root_real(void *a)
{
    (void)a;
    return exec_as(0, 1000, "--after-exec-root-real");
}
static int exec_root(void *a)
{
    (void)a;
    return exec_as(0, 0, "--after-exec-root");
}

/* The exec'd program's side: exit status 0 when the ids and sets are as Linux makes them. */
static int after_exec(const char *mode)
{
    if (strcmp(mode, "--after-exec-user") == 0)
        return ids_are(1000, 1000, 1000) && PRM() == 0 && EFF() == 0 ? 0 : 11;
    if (strcmp(mode, "--after-exec-root-real") == 0)
        /* root's real uid: every file capability is permitted, none effective */
        return ids_are(0, 1000, 1000) && HAS(PRM(), CAP_SYS_ADMIN) && EFF() == 0 ? 0 : 12;
    return ids_are(0, 0, 0) && HAS(EFF(), CAP_SYS_ADMIN) && EFF() == PRM() ? 0 : 13;
}

int main(int argc, char **argv)
{
    self = argv[0];
    if (argc > 1 && strncmp(argv[1], "--after-exec", 12) == 0)
        return after_exec(argv[1]);
    tap_init(argc, argv);
    T_ERR(setuid(-1), EINVAL, "setuid: -1 -> EINVAL");
    T_ERR(setgid(-1), EINVAL, "setgid: -1 -> EINVAL");
    T_EQ(run(setreuid_saved), 0, "setreuid: the saved uid follows a new euid; effective set");
    T_EQ(run(setresuid_perm), 0, "setresuid: permutations only once unprivileged");
    T_EQ(run(gid_rules), 0, "setregid: unprivileged rules of setregid, setgid, setresgid");
    T_EQ(run(fsuid_caps), 0, "setfsuid: the file capabilities follow the fsuid");
    T_EQ(run(groups_edges), 0, "setgroups: empty list, bad pointer, kept across setuid");
    T_EQ(run(caps_subsets), 0, "capset: effective within permitted, permitted only shrinks");
    T_EQ(run(caps_unprivileged), 0, "capset: unprivileged inheritable; capget version 1");
    T_EQ(run(capget_other), 0, "capget: another process's sets; capset on it -> EPERM");
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, -1};
    struct __user_cap_data_struct d[2];
    T_ERR(syscall(SYS_capget, &h, d), EINVAL, "capget: negative pid -> EINVAL");
    struct __user_cap_header_struct h2 = {_LINUX_CAPABILITY_VERSION_2, 0};
    T_EQ(syscall(SYS_capget, &h2, d), 0, "capget: version 2 header");
    T_EQ(run(exec_user), 0, "execve: an unprivileged caller keeps its ids, no capabilities");
    T_EQ(run(exec_root_real), 0, "execve: real uid 0, euid 1000: permitted full, none effective");
    T_EQ(run(exec_root), 0, "execve: root keeps every capability");
    return tap_done();
}
