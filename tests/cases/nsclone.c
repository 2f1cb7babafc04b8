// conformance: ns
/* The two cases from the container literature, as written there:
 * 1. clone(CLONE_NEWUTS | SIGCHLD): the child changes its hostname; the parent's is unchanged.
 * 2. clone(CLONE_NEWNS | SIGCHLD): the child mounts a tmpfs; /proc/<parent>/mounts and
 *    /proc/<child>/mounts differ (the child's lists the tmpfs, the parent's does not).
 * Run natively in a fresh UTS, PID and mount namespace (unshare) and under the sentry. */
#define _GNU_SOURCE
#include "tap.h"
#include <sched.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#define STACK_SIZE (1024 * 1024)

static char uts_stack[STACK_SIZE];
static char ns_stack[STACK_SIZE];
static int ready[2], go[2];

static int uts_child(void *arg)
{
    (void)arg;
    if (sethostname("child-host", 10) != 0)
        return 1;
    struct utsname u;
    uname(&u);
    return strcmp(u.nodename, "child-host") == 0 ? 0 : 2;
}

static int mount_child(void *arg)
{
    const char *dir = arg;
    if (mount("nsclone", dir, "tmpfs", 0, "size=1m") != 0)
        return 1;
    char c = 'r';
    if (write(ready[1], &c, 1) != 1)
        return 2;
    /* Stay alive (mounted) until the parent has compared the two mount tables. */
    if (read(go[0], &c, 1) != 1)
        return 3;
    return 0;
}

/* Whether /proc/<pid>/mounts lists a mount whose source is "nsclone". */
static int lists_nsclone(pid_t pid)
{
    char path[64], line[4096];
    snprintf(path, sizeof path, "/proc/%d/mounts", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "nsclone ", 8) == 0)
            found = 1;
    fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    struct utsname before, after;
    T_EQ(sethostname("parent-host", 11), 0, "uts: the parent names itself");
    uname(&before);
    fflush(stdout);
    pid_t c = clone(uts_child, uts_stack + STACK_SIZE, CLONE_NEWUTS | SIGCHLD, NULL);
    OK(c > 0, "clone(CLONE_NEWUTS | SIGCHLD): a child");
    int status = -1;
    T_EQ(waitpid(c, &status, 0), c, "uts: the child is reaped");
    OK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "uts: the child saw its own new hostname");
    uname(&after);
    OK(strcmp(after.nodename, "parent-host") == 0 && strcmp(before.nodename, after.nodename) == 0,
       "uts: the parent's hostname is unchanged");

    char dir[] = "nsclone-mnt";
    mkdir(dir, 0755);
    if (pipe(ready) != 0 || pipe(go) != 0)
        return 1;
    fflush(stdout);
    c = clone(mount_child, ns_stack + STACK_SIZE, CLONE_NEWNS | SIGCHLD, dir);
    OK(c > 0, "clone(CLONE_NEWNS | SIGCHLD): a child");
    char b;
    T_EQ(read(ready[0], &b, 1), 1, "mnt: the child mounted a tmpfs");
    T_EQ(lists_nsclone(c), 1, "mnt: /proc/<child>/mounts lists the tmpfs");
    T_EQ(lists_nsclone(getpid()), 0, "mnt: /proc/<parent>/mounts does not");
    T_EQ(write(go[1], "g", 1), 1, "mnt: the child may go");
    status = -1;
    T_EQ(waitpid(c, &status, 0), c, "mnt: the child is reaped");
    OK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "mnt: the child exited cleanly");
    rmdir(dir);
    return tap_done();
}
