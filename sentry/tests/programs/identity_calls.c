/* Identity calls under the sentry (issue 8): the uid, gid, group and capability calls of a
 * sandbox that sees itself as root (`root`) or as an ordinary user (`user UID GID`), and
 * `ids RUID EUID` (the mode an exec'd program reports in), `dropexec UID PATH [ARG...]` (drop
 * to UID, then exec PATH in `ids` mode, where a set-user-ID PATH must not raise privilege,
 * or with the ARGs given).
 * Prints "ok ..." / "FAIL ..." lines and "identity done" at the end. */
#include "prog.h"
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int caps(struct __user_cap_data_struct d[2])
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    return (int)syscall(SYS_capget, &h, d);
}

static unsigned long long eff(void)
{
    struct __user_cap_data_struct d[2];
    must(caps(d) == 0);
    return d[0].effective | (unsigned long long)d[1].effective << 32;
}

static unsigned long long prm(void)
{
    struct __user_cap_data_struct d[2];
    must(caps(d) == 0);
    return d[0].permitted | (unsigned long long)d[1].permitted << 32;
}

/* The "Uid:" or "Gid:" line of /proc/self/status, after its tab. */
static void status_line(const char *key, char *out, size_t size)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    out[0] = 0;
    must(f != NULL);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, strlen(key)) == 0) {
            strncpy(out, line + strlen(key) + 1, size - 1);
            out[size - 1] = 0;
            out[strcspn(out, "\n")] = 0;
        }
    }
    fclose(f);
}

static int child_status(pid_t pid)
{
    int st;
    must(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void ids_mode(uid_t want_r, uid_t want_e)
{
    uid_t r, e, s;
    must(getresuid(&r, &e, &s) == 0);
    printf("ids %u %u %u\n", r, e, s);
    check(r == want_r && e == want_e && s == want_e, "exec keeps the caller's ids (%u %u %u)", r,
          e, s);
    check(want_r == 0 ? eff() == 0 && prm() != 0 : prm() == 0,
          "capabilities after exec follow the real uid (root: permitted only)");
}

static void root_mode(const char *self)
{
    uid_t r, e, s;
    char line[256];
    check(getuid() == 0 && geteuid() == 0 && getgid() == 0 && getegid() == 0, "starts as root");
    must(getresuid(&r, &e, &s) == 0);
    check(r == 0 && e == 0 && s == 0, "getresuid 0 0 0");
    check((eff() >> CAP_SETUID & 1) && (eff() >> CAP_SYS_ADMIN & 1), "root has capabilities");
    status_line("Uid:", line, sizeof line);
    check(strcmp(line, "0\t0\t0\t0") == 0, "/proc/self/status Uid: '%s'", line);

    struct __user_cap_header_struct h = {0x12345678, 0};
    long rc = syscall(SYS_capget, &h, NULL);
    check(rc == 0 && h.version == _LINUX_CAPABILITY_VERSION_3,
          "capget with a bad version and no data: %ld, version %#x", rc, h.version);

    gid_t groups[2] = {20, 10}, got[4];
    check(setgroups(2, groups) == 0, "root may setgroups");
    check(getgroups(0, NULL) == 2, "getgroups counts 2");
    errno = 0;
    check(getgroups(1, got) == -1 && errno == EINVAL, "getgroups with a short list: EINVAL");
    check(getgroups(4, got) == 2 && got[0] == 10 && got[1] == 20, "getgroups lists 10 20");

    check(setfsuid(1234) == 0, "setfsuid returns the old fsuid");
    check(setfsuid(-1) == 1234, "setfsuid(-1) reports the current fsuid");
    check(setfsuid(0) == 1234, "setfsuid back to root");

    fflush(stdout);
    pid_t pid = fork();
    must(pid >= 0);
    if (pid == 0) {
        check(seteuid(1000) == 0 && geteuid() == 1000 && getuid() == 0, "seteuid(1000)");
        check(eff() == 0 && prm() != 0, "a non-root euid has no effective capability");
        check(seteuid(0) == 0 && geteuid() == 0 && eff() != 0, "seteuid back to the saved root");
        check(setgid(1000) == 0 && getgid() == 1000 && getegid() == 1000, "setgid(1000)");
        check(setuid(1000) == 0, "setuid(1000)");
        must(getresuid(&r, &e, &s) == 0);
        check(r == 1000 && e == 1000 && s == 1000, "all uids 1000");
        check(prm() == 0 && eff() == 0, "no capability after dropping root");
        errno = 0;
        check(setuid(0) == -1 && errno == EPERM, "cannot regain root: EPERM");
        errno = 0;
        check(setresuid(-1, 0, -1) == -1 && errno == EPERM, "setresuid to 0: EPERM");
        errno = 0;
        check(setgroups(0, NULL) == -1 && errno == EPERM, "setgroups without CAP_SETGID: EPERM");
        errno = 0;
        check(setgid(0) == -1 && errno == EPERM, "setgid(0): EPERM");
        check(setfsuid(0) == 1000 && setfsuid(-1) == 1000, "setfsuid(0) refused silently");
        status_line("Uid:", line, sizeof line);
        check(strcmp(line, "1000\t1000\t1000\t1000") == 0, "/proc/self/status Uid: '%s'", line);
        fflush(stdout);
        execl(self, self, "ids", "1000", "1000", (char *)NULL);
        printf("FAIL exec %s: %s\n", self, strerror(errno));
        _exit(1);
    }
    check(child_status(pid) == 0, "the child's checks");
    check(getuid() == 0 && eff() != 0, "the parent is still root");

    /* A root real uid that keeps a non-root effective uid across exec keeps it. */
    fflush(stdout);
    pid = fork();
    must(pid >= 0);
    if (pid == 0) {
        must(setresuid(0, 2000, 2000) == 0);
        execl(self, self, "ids", "0", "2000", (char *)NULL);
        _exit(1);
    }
    check(child_status(pid) == 0, "exec with ruid 0, euid 2000");
}

static void user_mode(uid_t uid, gid_t gid)
{
    uid_t r, e, s;
    check(getuid() == uid && geteuid() == uid && getgid() == gid && getegid() == gid,
          "starts as %u:%u", uid, gid);
    must(getresuid(&r, &e, &s) == 0);
    check(r == uid && e == uid && s == uid, "getresuid");
    check(eff() == 0 && prm() == 0, "no capability");
    errno = 0;
    check(setuid(0) == -1 && errno == EPERM, "setuid(0): EPERM");
    errno = 0;
    check(setreuid(0, -1) == -1 && errno == EPERM, "setreuid(0, -1): EPERM");
    check(setuid(uid) == 0, "setuid to itself");
    errno = 0;
    check(setgroups(0, NULL) == -1 && errno == EPERM, "setgroups: EPERM");
    errno = 0;
    check(setresgid(0, 0, 0) == -1 && errno == EPERM, "setresgid(0): EPERM");
    check(setfsuid(0) == (int)uid && setfsuid(-1) == (int)uid, "setfsuid(0) is refused");

    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {{1 << CAP_CHOWN, 1 << CAP_CHOWN, 0}, {0, 0, 0}};
    errno = 0;
    check(syscall(SYS_capset, &h, d) == -1 && errno == EPERM, "capset to gain: EPERM");
    memset(d, 0, sizeof d);
    check(syscall(SYS_capset, &h, d) == 0, "capset to nothing");

    /* A reopen through /proc/self/fd of an unlinked file checks the access asked. */
    char tmp[] = "/tmp/reopen-XXXXXX", self[64];
    int fd = mkstemp(tmp);
    must(fd >= 0 && fchmod(fd, 0400) == 0 && unlink(tmp) == 0);
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    errno = 0;
    check(open(self, O_RDWR) == -1 && errno == EACCES, "reopen of an unlinked 0400 file to write: EACCES");
    int again = open(self, O_RDONLY);
    check(again >= 0, "reopen of it to read");
    close(again);
    close(fd);
}

/* Drops every id to uid (as root may), then runs the program at path, which reports. */
static void drop_exec(uid_t uid, const char *path, char **args)
{
    char text[16];
    must(setgid(uid) == 0);
    must(setuid(uid) == 0);
    if (args[0] != NULL) {
        /* With arguments: run PATH with them (argv[0] = PATH). */
        fflush(stdout);
        execv(path, args - 1);
        printf("FAIL exec %s: %s\n", path, strerror(errno));
        exit(1);
    }
    snprintf(text, sizeof text, "%u", uid);
    fflush(stdout);
    execl(path, path, "ids", text, text, (char *)NULL);
    printf("FAIL exec %s: %s\n", path, strerror(errno));
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "dropexec") == 0)
        drop_exec((uid_t)atoi(argv[2]), argv[3], argv + 4);
    if (argc >= 4 && strcmp(argv[1], "ids") == 0)
        ids_mode((uid_t)atoi(argv[2]), (uid_t)atoi(argv[3]));
    else if (argc >= 2 && strcmp(argv[1], "root") == 0)
        root_mode(argv[0]);
    else if (argc >= 4 && strcmp(argv[1], "user") == 0)
        user_mode((uid_t)atoi(argv[2]), (gid_t)atoi(argv[3]));
    else {
        fprintf(stderr, "usage: identity_calls root | user UID GID | ids RUID EUID | dropexec UID PATH\n");
        return 2;
    }
    if (argc >= 2 && strcmp(argv[1], "ids") != 0)
        printf("identity done\n");
    return finish();
}
