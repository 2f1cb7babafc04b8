/* escape_probe MODE SECRET_PATH SECRET_DEV SECRET_INO OUTSIDE_DIR OUTSIDE_DEV OUTSIDE_INO [N]
 *
 * Tries to reach, from inside the sandbox, a file the test created on the host outside the
 * rootfs (SECRET_PATH, a host path; its st_dev/st_ino as seen on the host) and the host
 * directory that holds it (OUTSIDE_DIR). Every fd an attempt obtains is compared with both by
 * (st_dev, st_ino) and its first bytes are printed, so the test sees a leak from outside too
 * (it looks for the secret's content in the output). Prints one line per attempt:
 *   "held MODE: what (errno=E)" / "held MODE: what (inside file)" or "ESCAPE MODE: what".
 * Exits 0 when every attempt was held, 1 when one escaped, 2 on a usage or setup error.
 *
 * Modes: dotdot, symlink, proc, chroot, fchdir, link, race, rename, fds, opath. Built static by
 * sentry/tests/escapes.rs (and by rootfs-fixtures/programs.sh, which builds every program here).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *mode;
static const char *secret_path;
static dev_t secret_dev, outside_dev;
static ino_t secret_ino, outside_ino;
static const char *outside_dir;
static int escaped;

static int is_forbidden(const struct stat *st)
{
    return (st->st_dev == secret_dev && st->st_ino == secret_ino) ||
           (st->st_dev == outside_dev && st->st_ino == outside_ino);
}

/* Judges an fd an attempt produced (closes it). Returns 1 when it names the secret or the
 * outside directory. */
static int judge_fd(const char *what, int fd, int quiet)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        if (!quiet)
            printf("held %s: %s (fstat errno=%s)\n", mode, what, strerrorname_np(errno));
        close(fd);
        return 0;
    }
    if (is_forbidden(&st)) {
        char buf[128] = {0};
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        printf("ESCAPE %s: %s reached dev=%lu ino=%lu: %.*s\n", mode, what,
               (unsigned long)st.st_dev, (unsigned long)st.st_ino, n > 0 ? (int)n : 0, buf);
        escaped = 1;
        close(fd);
        return 1;
    }
    if (!quiet) {
        char buf[64] = {0};
        ssize_t n = S_ISREG(st.st_mode) ? pread(fd, buf, sizeof buf - 1, 0) : 0;
        /* What a sandbox file holds is printed too: the test checks no secret is in it. */
        printf("held %s: %s (inside %s%s%.*s)\n", mode, what,
               S_ISDIR(st.st_mode) ? "directory" : "file", n > 0 ? ": " : "", n > 0 ? (int)n : 0,
               buf);
    }
    close(fd);
    return 0;
}

/* One attempt: openat(dirfd, path, flags). */
static void try_open(const char *what, int dirfd, const char *path, int flags)
{
    errno = 0;
    int fd = openat(dirfd, path, flags | O_CLOEXEC);
    if (fd < 0) {
        printf("held %s: %s (errno=%s)\n", mode, what, strerrorname_np(errno));
        return;
    }
    judge_fd(what, fd, 0);
}

/* stat(2) of a path: must not report the secret's or the outside directory's identity. */
static void try_stat(const char *what, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("held %s: %s (errno=%s)\n", mode, what, strerrorname_np(errno));
        return;
    }
    if (is_forbidden(&st)) {
        printf("ESCAPE %s: %s stat reached dev=%lu ino=%lu\n", mode, what,
               (unsigned long)st.st_dev, (unsigned long)st.st_ino);
        escaped = 1;
        return;
    }
    printf("held %s: %s (stat of an inside %s)\n", mode, what, S_ISDIR(st.st_mode) ? "directory" : "file");
}

static char *dots(int n, const char *tail)
{
    size_t len = (size_t)n * 3 + strlen(tail) + 2;
    char *p = malloc(len);
    if (!p)
        exit(2);
    p[0] = 0;
    for (int i = 0; i < n; i++)
        strcat(p, "../");
    strcat(p, tail[0] == '/' ? tail + 1 : tail);
    return p;
}

static void must(int ok, const char *what)
{
    if (!ok) {
        printf("setup failed: %s: %s\n", what, strerror(errno));
        exit(2);
    }
}

/* .. beyond the root: absolute, relative from /, from a deep cwd, through dir fds. */
static void mode_dotdot(void)
{
    try_open("the host path as is", AT_FDCWD, secret_path, O_RDONLY);
    try_open("/.. then the host path", AT_FDCWD, dots(1, secret_path), O_RDONLY);
    char *p = malloc(strlen(secret_path) + 64);
    must(p != NULL, "malloc");
    sprintf(p, "/../../../../../../../..%s", secret_path);
    try_open("/../../.. + host path", AT_FDCWD, p, O_RDONLY);
    try_open("40 x ../ + host path from /", AT_FDCWD, dots(40, secret_path), O_RDONLY);
    try_stat("stat /../../.. + host path", p);
    try_open("/.. as a directory", AT_FDCWD, "/..", O_RDONLY | O_DIRECTORY);
    try_open("the outside dir by host path", AT_FDCWD, outside_dir, O_RDONLY | O_DIRECTORY);
    must(mkdir("/tmp/deep", 0755) == 0 || errno == EEXIST, "mkdir /tmp/deep");
    must(mkdir("/tmp/deep/er", 0755) == 0 || errno == EEXIST, "mkdir /tmp/deep/er");
    must(chdir("/tmp/deep/er") == 0, "chdir /tmp/deep/er");
    try_open("40 x ../ from a deep cwd", AT_FDCWD, dots(40, secret_path), O_RDONLY);
    for (int i = 0; i < 40; i++)
        if (chdir("..") != 0)
            break;
    try_open("after 40 chdir(\"..\"), relative host path", AT_FDCWD, secret_path + 1, O_RDONLY);
    try_open("after 40 chdir(\"..\"), the cwd", AT_FDCWD, ".", O_RDONLY | O_DIRECTORY);
    int root = open("/", O_RDONLY | O_DIRECTORY);
    must(root >= 0, "open /");
    int d = root;
    for (int i = 0; i < 40; i++) {
        int up = openat(d, "..", O_RDONLY | O_DIRECTORY);
        if (up < 0)
            break;
        if (d != root)
            close(d);
        d = up;
    }
    judge_fd("openat(fd, \"..\") 40 times from /", d, 0);
    try_open("openat(root fd, 40 x ../ + host path)", root, dots(40, secret_path), O_RDONLY);
    struct stat a, b;
    must(stat("/", &a) == 0 && stat("/..", &b) == 0, "stat / and /..");
    if (a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
        printf("ESCAPE %s: /.. is not /\n", mode);
        escaped = 1;
    } else {
        printf("held %s: /.. is / (same dev and inode)\n", mode);
    }
}

/* Symlinks whose targets name the host: absolute, /../.., relative, chains, O_CREAT through
 * a dangling link (the test checks nothing appeared outside). */
static void mode_symlink(void)
{
    must(chdir("/tmp") == 0, "chdir /tmp");
    char *t = malloc(strlen(secret_path) + 64);
    must(t != NULL, "malloc");
    unlink("s-abs");
    must(symlink(secret_path, "s-abs") == 0, "symlink s-abs");
    try_open("absolute symlink to the host path", AT_FDCWD, "s-abs", O_RDONLY);
    sprintf(t, "/../../../../../../..%s", secret_path);
    unlink("s-up");
    must(symlink(t, "s-up") == 0, "symlink s-up");
    try_open("symlink to /../../.. + host path", AT_FDCWD, "s-up", O_RDONLY);
    unlink("s-rel");
    must(symlink(dots(40, secret_path), "s-rel") == 0, "symlink s-rel");
    try_open("relative symlink 40 x ../ + host path", AT_FDCWD, "s-rel", O_RDONLY);
    unlink("s-root");
    must(symlink("/../../../../../../..", "s-root") == 0, "symlink s-root");
    sprintf(t, "s-root%s", secret_path);
    try_open("symlink to /../.. as a directory, then the host path", AT_FDCWD, t, O_RDONLY);
    try_stat("stat through the /../.. symlink", t);
    unlink("s-chain1");
    unlink("s-chain2");
    must(symlink("s-root", "s-chain1") == 0 && symlink("s-chain1/../../..", "s-chain2") == 0, "chain");
    sprintf(t, "s-chain2%s", secret_path);
    try_open("a chain of symlinks and .. to the host path", AT_FDCWD, t, O_RDONLY);
    unlink("s-outdir");
    must(symlink(outside_dir, "s-outdir") == 0, "symlink s-outdir");
    try_open("symlink to the outside directory", AT_FDCWD, "s-outdir", O_RDONLY | O_DIRECTORY);
    /* O_CREAT through dangling links that name the outside directory. */
    sprintf(t, "%s/created-by-sandbox", outside_dir);
    unlink("s-create");
    must(symlink(t, "s-create") == 0, "symlink s-create");
    int fd = open("s-create", O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) {
        int w = write(fd, "sandbox was here\n", 17);
        printf("held %s: O_CREAT through a dangling absolute symlink (created inside, %d bytes)\n",
               mode, w);
        judge_fd("O_CREAT through a dangling absolute symlink", fd, 1);
    } else {
        printf("held %s: O_CREAT through a dangling absolute symlink (errno=%s)\n", mode,
               strerrorname_np(errno));
    }
    sprintf(t, "/../../../..%s/created-by-sandbox-2", outside_dir);
    unlink("s-create2");
    must(symlink(t, "s-create2") == 0, "symlink s-create2");
    fd = open("s-create2", O_CREAT | O_WRONLY, 0644);
    printf("held %s: O_CREAT through a dangling /../.. symlink (%s)\n", mode,
           fd >= 0 ? "created inside" : strerrorname_np(errno));
    if (fd >= 0)
        judge_fd("O_CREAT through a dangling /../.. symlink", fd, 1);
    /* mkdir and rename through the /../.. directory symlink. */
    sprintf(t, "s-root%s/mkdir-by-sandbox", outside_dir);
    int r = mkdir(t, 0755);
    printf("held %s: mkdir through the /../.. symlink (%s)\n", mode, r == 0 ? "made inside" : strerrorname_np(errno));
    char buf[PATH_MAX];
    ssize_t n = readlink("s-abs", buf, sizeof buf - 1);
    printf("held %s: readlink gives the link text only (%zd bytes)\n", mode, n);
}

/* /proc/self/root, /proc/self/cwd, /proc/1/root, /proc/self/fd: without a /proc they must fail;
 * with one, they must stay inside. */
static void mode_proc(void)
{
    char *t = malloc(strlen(secret_path) + 64);
    must(t != NULL, "malloc");
    sprintf(t, "/proc/self/root%s", secret_path);
    try_open("/proc/self/root + host path", AT_FDCWD, t, O_RDONLY);
    sprintf(t, "/proc/self/root/../../..%s", secret_path);
    try_open("/proc/self/root/../../.. + host path", AT_FDCWD, t, O_RDONLY);
    sprintf(t, "/proc/1/root%s", secret_path);
    try_open("/proc/1/root + host path", AT_FDCWD, t, O_RDONLY);
    must(chdir("/tmp") == 0, "chdir /tmp");
    sprintf(t, "/proc/self/cwd/../../../../..%s", secret_path);
    try_open("/proc/self/cwd/../../.. + host path", AT_FDCWD, t, O_RDONLY);
    try_open("/proc/self/root as a directory", AT_FDCWD, "/proc/self/root", O_RDONLY | O_DIRECTORY);
    try_open("/proc/self/cwd as a directory", AT_FDCWD, "/proc/self/cwd", O_RDONLY | O_DIRECTORY);
    try_open("/proc/self/exe", AT_FDCWD, "/proc/self/exe", O_RDONLY);
    try_open("/proc/1/cwd", AT_FDCWD, "/proc/1/cwd", O_RDONLY | O_DIRECTORY);
    int fd = open("/", O_RDONLY | O_DIRECTORY);
    must(fd >= 0, "open /");
    sprintf(t, "/proc/self/fd/%d/../../..%s", fd, secret_path);
    try_open("/proc/self/fd/N/../../.. + host path", AT_FDCWD, t, O_RDONLY);
    sprintf(t, "/proc/thread-self/root%s", secret_path);
    try_open("/proc/thread-self/root + host path", AT_FDCWD, t, O_RDONLY);
    unlink("/tmp/p-root");
    must(symlink("/proc/self/root/../../../..", "/tmp/p-root") == 0, "symlink p-root");
    sprintf(t, "/tmp/p-root%s", secret_path);
    try_open("a symlink to /proc/self/root/../.. + host path", AT_FDCWD, t, O_RDONLY);
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/root", buf, sizeof buf - 1);
    if (n >= 0) {
        buf[n] = 0;
        printf("%s %s: readlink /proc/self/root = %s\n", strcmp(buf, "/") == 0 ? "held" : "ESCAPE", mode, buf);
        if (strcmp(buf, "/") != 0)
            escaped = 1;
    } else {
        printf("held %s: readlink /proc/self/root (errno=%s)\n", mode, strerrorname_np(errno));
    }
}

/* The classic chroot breakouts, in a child (it changes its root). */
static void chroot_child(int use_fd)
{
    must(mkdir("/tmp/jail", 0755) == 0 || errno == EEXIST, "mkdir /tmp/jail");
    int keep = open("/tmp", O_RDONLY | O_DIRECTORY);
    must(keep >= 0, "open /tmp");
    if (chroot("/tmp/jail") != 0) {
        printf("held %s: chroot refused (errno=%s)\n", mode, strerrorname_np(errno));
        return;
    }
    if (use_fd) {
        /* fchdir to a directory fd opened before the chroot, then climb. */
        if (fchdir(keep) != 0) {
            printf("held %s: fchdir to the pre-chroot fd (errno=%s)\n", mode, strerrorname_np(errno));
            return;
        }
    }
    /* cwd is outside the new root (chroot does not chdir): climb from it. */
    for (int i = 0; i < 64; i++)
        if (chdir("..") != 0)
            break;
    try_open("cwd after climbing, as a directory", AT_FDCWD, ".", O_RDONLY | O_DIRECTORY);
    try_open("relative host path after climbing", AT_FDCWD, secret_path + 1, O_RDONLY);
    try_open("40 x ../ + host path after climbing", AT_FDCWD, dots(40, secret_path), O_RDONLY);
    try_open("openat(pre-chroot fd, 40 x ../ + host path)", keep, dots(40, secret_path), O_RDONLY);
    try_stat("stat of the relative host path after climbing", secret_path + 1);
    /* chroot(".") from up there, then the absolute host path. */
    if (chroot(".") == 0) {
        try_open("chroot(\".\") after climbing, then the host path", AT_FDCWD, secret_path, O_RDONLY);
        try_open("chroot(\".\") after climbing, the outside dir", AT_FDCWD, outside_dir, O_RDONLY | O_DIRECTORY);
    } else {
        printf("held %s: chroot(\".\") after climbing (errno=%s)\n", mode, strerrorname_np(errno));
    }
    char buf[PATH_MAX];
    if (getcwd(buf, sizeof buf))
        printf("held %s: getcwd after the breakout attempt is inside (%zu bytes)\n", mode, strlen(buf));
}

static void mode_chroot(int use_fd)
{
    fflush(stdout);
    pid_t c = fork();
    must(c >= 0, "fork");
    if (c == 0) {
        chroot_child(use_fd);
        fflush(stdout);
        _exit(escaped ? 1 : 0);
    }
    int st;
    must(waitpid(c, &st, 0) == c, "waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        escaped = 1;
}

/* Hard links to the host file: every way must fail, and the host file's link count stays. */
static void mode_link(void)
{
    must(chdir("/tmp") == 0, "chdir /tmp");
    char *t = malloc(strlen(secret_path) + 64);
    must(t != NULL, "malloc");
    struct {
        const char *what;
        const char *from;
    } tries[4];
    sprintf(t, "/../../../..%s", secret_path);
    tries[0].what = "link(host path)";
    tries[0].from = secret_path;
    tries[1].what = "link(/../../.. + host path)";
    tries[1].from = t;
    tries[2].what = "link(40 x ../ + host path)";
    tries[2].from = dots(40, secret_path);
    unlink("l-sym");
    must(symlink(secret_path, "l-sym") == 0, "symlink l-sym");
    tries[3].what = "linkat(symlink to the host path, AT_SYMLINK_FOLLOW)";
    tries[3].from = "l-sym";
    for (int i = 0; i < 4; i++) {
        char name[32];
        sprintf(name, "l-%d", i);
        unlink(name);
        int r = linkat(AT_FDCWD, tries[i].from, AT_FDCWD, name, AT_SYMLINK_FOLLOW);
        if (r != 0) {
            printf("held %s: %s (errno=%s)\n", mode, tries[i].what, strerrorname_np(errno));
            continue;
        }
        int fd = open(name, O_RDONLY);
        if (fd < 0 || !judge_fd(tries[i].what, fd, 1))
            printf("held %s: %s (linked an inside file)\n", mode, tries[i].what);
    }
    /* A link from inside to a name outside. */
    int fd = open("l-inside", O_CREAT | O_WRONLY, 0644);
    must(fd >= 0, "create l-inside");
    close(fd);
    sprintf(t, "/../../../..%s/linked-by-sandbox", outside_dir);
    int r = link("l-inside", t);
    printf("held %s: link(inside file, /../.. + outside dir) (%s)\n", mode, r == 0 ? "made inside" : strerrorname_np(errno));
    sprintf(t, "/proc/self/fd/%d", open("l-inside", O_RDONLY));
    r = linkat(AT_FDCWD, t, AT_FDCWD, "l-procfd", AT_SYMLINK_FOLLOW);
    printf("held %s: linkat through /proc/self/fd (%s)\n", mode, r == 0 ? "linked an inside file" : strerrorname_np(errno));
}

/* A second thread flips a path buffer between a harmless and a forbidden path while this one
 * calls open() N times: whatever the sentry reads must be one of the two, and the forbidden one
 * must resolve inside. */
static char race_buf[PATH_MAX];
static const char *race_a, *race_b;
static volatile int race_stop;

static void *flipper(void *arg)
{
    (void)arg;
    size_t la = strlen(race_a) + 1, lb = strlen(race_b) + 1;
    while (!race_stop) {
        memcpy(race_buf, race_a, la);
        memcpy(race_buf, race_b, lb);
    }
    return NULL;
}

static void mode_race(long n)
{
    int fd = open("/tmp/harmless", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    must(fd >= 0, "create /tmp/harmless");
    must(write(fd, "harmless\n", 9) == 9, "write /tmp/harmless");
    close(fd);
    char *forbidden = malloc(strlen(secret_path) + 64);
    must(forbidden != NULL, "malloc");
    sprintf(forbidden, "/../../../../../../..%s", secret_path);
    race_a = "/tmp/harmless";
    race_b = forbidden;
    strcpy(race_buf, race_a);
    pthread_t th;
    must(pthread_create(&th, NULL, flipper, NULL) == 0, "pthread_create");
    long opened = 0, failed = 0, bad = 0;
    for (long i = 0; i < n; i++) {
        int f = open(race_buf, O_RDONLY);
        if (f < 0) {
            failed++;
            continue;
        }
        opened++;
        struct stat st;
        if (fstat(f, &st) == 0 && is_forbidden(&st)) {
            bad++;
            if (bad == 1)
                judge_fd("open() of the flipped buffer", f, 0);
            else
                close(f);
            continue;
        }
        close(f);
    }
    race_stop = 1;
    pthread_join(th, NULL);
    printf("%s %s: %ld open() calls of a flipped buffer: %ld opened inside, %ld failed, %ld reached the host\n",
           bad ? "ESCAPE" : "held", mode, n, opened, failed, bad);
    if (bad)
        escaped = 1;
}

/* A directory swapped with a symlink to the outside by rename() while this thread looks up
 * paths through it. */
static volatile int swap_stop;

static void *swapper(void *arg)
{
    (void)arg;
    while (!swap_stop) {
        rename("/tmp/sw/dir", "/tmp/sw/tmp");
        rename("/tmp/sw/lnk", "/tmp/sw/dir");
        rename("/tmp/sw/dir", "/tmp/sw/lnk");
        rename("/tmp/sw/tmp", "/tmp/sw/dir");
    }
    return NULL;
}

static void mode_rename(long n)
{
    const char *base = strrchr(secret_path, '/');
    must(base != NULL, "secret path has a /");
    base++;
    must(mkdir("/tmp/sw", 0755) == 0 || errno == EEXIST, "mkdir /tmp/sw");
    must(mkdir("/tmp/sw/dir", 0755) == 0 || errno == EEXIST, "mkdir /tmp/sw/dir");
    char p[PATH_MAX];
    snprintf(p, sizeof p, "/tmp/sw/dir/%s", base);
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    must(fd >= 0, "create the decoy");
    must(write(fd, "decoy\n", 6) == 6, "write the decoy");
    close(fd);
    char t[PATH_MAX];
    snprintf(t, sizeof t, "/../../../../../../..%s", outside_dir);
    unlink("/tmp/sw/lnk");
    must(symlink(t, "/tmp/sw/lnk") == 0, "symlink /tmp/sw/lnk");
    pthread_t th;
    must(pthread_create(&th, NULL, swapper, NULL) == 0, "pthread_create");
    long opened = 0, failed = 0, bad = 0, dirs = 0;
    char q[PATH_MAX];
    snprintf(q, sizeof q, "/tmp/sw/dir/%s", base);
    for (long i = 0; i < n; i++) {
        int f = open(q, O_RDONLY);
        if (f >= 0) {
            opened++;
            struct stat st;
            if (fstat(f, &st) == 0 && is_forbidden(&st)) {
                if (++bad == 1)
                    judge_fd("open() through the swapped directory", f, 0);
                else
                    close(f);
                continue;
            }
            close(f);
        } else {
            failed++;
        }
        int d = open("/tmp/sw/dir", O_RDONLY | O_DIRECTORY);
        if (d >= 0) {
            struct stat st;
            if (fstat(d, &st) == 0 && is_forbidden(&st)) {
                if (++bad == 1)
                    judge_fd("open() of the swapped directory", d, 0);
                else
                    close(d);
                continue;
            }
            dirs++;
            close(d);
        }
    }
    swap_stop = 1;
    pthread_join(th, NULL);
    printf("%s %s: %ld lookups through a directory swapped with a symlink by rename(): %ld opened inside, "
           "%ld failed, %ld reached the host\n",
           bad ? "ESCAPE" : "held", mode, n, opened, failed, bad);
    (void)dirs;
    if (bad)
        escaped = 1;
}

/* Every fd the task holds, after setting up the usual things, must name something inside. */
static void check_all_fds(const char *when)
{
    int seen = 0;
    for (int fd = 0; fd < 1024; fd++) {
        struct stat st;
        if (fstat(fd, &st) != 0)
            continue;
        seen++;
        if (is_forbidden(&st)) {
            printf("ESCAPE %s: fd %d %s names the secret or the outside dir\n", mode, fd, when);
            escaped = 1;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            /* A directory fd: climbing from it must stay inside too. */
            int d = dup(fd);
            for (int i = 0; d >= 0 && i < 40; i++) {
                int up = openat(d, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                close(d);
                d = up;
            }
            if (d >= 0) {
                struct stat ust;
                if (fstat(d, &ust) == 0 && is_forbidden(&ust)) {
                    printf("ESCAPE %s: climbing from directory fd %d %s reached the outside dir\n", mode, fd, when);
                    escaped = 1;
                }
                close(d);
            }
        }
    }
    printf("held %s: %d open fds %s, none outside\n", mode, seen, when);
}

static void mode_fds(void)
{
    check_all_fds("at start");
    int keep[8];
    keep[0] = open("/", O_RDONLY | O_DIRECTORY);
    keep[1] = open("/tmp", O_RDONLY | O_DIRECTORY);
    keep[2] = open("/dev/null", O_RDWR);
    keep[3] = open("/bin/busybox", O_RDONLY);
    keep[4] = open("/..", O_RDONLY | O_DIRECTORY);
    keep[5] = open("/tmp", O_RDWR | O_TMPFILE, 0600);
    int sp[2];
    keep[6] = socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0 ? sp[0] : -1;
    keep[7] = chdir("/tmp") == 0 ? open(".", O_RDONLY) : -1;
    check_all_fds("after opening /, /tmp, /dev/null, /bin/busybox, /.., a tmpfile, a socketpair, the cwd");
    fflush(stdout);
    pid_t c = fork();
    must(c >= 0, "fork");
    if (c == 0) {
        check_all_fds("in a forked child");
        fflush(stdout);
        _exit(escaped ? 1 : 0);
    }
    int st;
    must(waitpid(c, &st, 0) == c, "waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        escaped = 1;
    for (int i = 0; i < 8; i++)
        if (keep[i] >= 0)
            close(keep[i]);
}

/* O_PATH fds (which need no permission on the file itself) of the root, of /.., and of symlinks
 * naming the host: each must name something inside. */
static void mode_opath(void)
{
    must(chdir("/tmp") == 0, "chdir /tmp");
    unlink("o-abs");
    must(symlink(secret_path, "o-abs") == 0, "symlink o-abs");
    unlink("o-root");
    must(symlink("/../../../../..", "o-root") == 0, "symlink o-root");
    char *t = malloc(strlen(secret_path) + 64);
    must(t != NULL, "malloc");
    try_open("O_PATH of /..", AT_FDCWD, "/..", O_PATH);
    try_open("O_PATH of 40 x ../", AT_FDCWD, dots(40, ""), O_PATH);
    try_open("O_PATH of a symlink to the host path", AT_FDCWD, "o-abs", O_PATH);
    try_open("O_PATH|O_NOFOLLOW of a symlink to the host path", AT_FDCWD, "o-abs", O_PATH | O_NOFOLLOW);
    sprintf(t, "o-root%s", secret_path);
    try_open("O_PATH through a /../.. symlink + host path", AT_FDCWD, t, O_PATH);
    try_open("O_PATH of the outside dir by host path", AT_FDCWD, outside_dir, O_PATH | O_DIRECTORY);
    int root = open("/", O_PATH | O_DIRECTORY);
    must(root >= 0, "O_PATH /");
    try_open("openat(O_PATH fd of /, 40 x ../ + host path)", root, dots(40, secret_path), O_RDONLY);
    try_open("openat(O_PATH fd of /, ..)", root, "..", O_RDONLY | O_DIRECTORY);
    check_all_fds("holding an O_PATH fd of /");
    close(root);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 8) {
        fprintf(stderr, "usage: %s MODE SECRET DEV INO OUTSIDE_DIR DEV INO [N]\n", argv[0]);
        return 2;
    }
    mode = argv[1];
    secret_path = argv[2];
    secret_dev = (dev_t)strtoull(argv[3], NULL, 10);
    secret_ino = (ino_t)strtoull(argv[4], NULL, 10);
    outside_dir = argv[5];
    outside_dev = (dev_t)strtoull(argv[6], NULL, 10);
    outside_ino = (ino_t)strtoull(argv[7], NULL, 10);
    long n = argc > 8 ? strtol(argv[8], NULL, 10) : 1000;
    if (secret_path[0] != '/' || outside_dir[0] != '/') {
        fprintf(stderr, "paths must be absolute\n");
        return 2;
    }
    if (!strcmp(mode, "dotdot"))
        mode_dotdot();
    else if (!strcmp(mode, "symlink"))
        mode_symlink();
    else if (!strcmp(mode, "proc"))
        mode_proc();
    else if (!strcmp(mode, "chroot"))
        mode_chroot(0);
    else if (!strcmp(mode, "fchdir"))
        mode_chroot(1);
    else if (!strcmp(mode, "link"))
        mode_link();
    else if (!strcmp(mode, "race"))
        mode_race(n);
    else if (!strcmp(mode, "rename"))
        mode_rename(n);
    else if (!strcmp(mode, "fds"))
        mode_fds();
    else if (!strcmp(mode, "opath"))
        mode_opath();
    else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    printf("%s %s\n", escaped ? "ESCAPED" : "ALL HELD", mode);
    return escaped ? 1 : 0;
}
