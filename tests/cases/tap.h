/* tap.h — shared helpers for the conformance cases.
 *
 * Every case prints TAP: one "ok N - syscall: description" or "not ok N - ..." line per test
 * point, diagnostics as "# ..." lines (ignored by the comparison), and the plan "1..N" last.
 * The description starts with the syscall name and a colon: the runner groups by it.
 * Output must be deterministic: never print pids, times, addresses or paths in an ok line.
 *
 * Work happens in a fresh directory: $CONFORMANCE_TMP if set (the runner sets it), else
 * argv[1], else a mkdtemp() under /tmp. tap_init() chdir()s into it; tap_done() removes
 * everything inside it (and the directory itself when tap_init created it), prints the plan
 * and returns the exit status (0 when every point passed, 1 otherwise).
 */
#ifndef CONFORMANCE_TAP_H
#define CONFORMANCE_TAP_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int tap_n, tap_failed, tap_own_dir;
static char tap_dir[4096];

/* A pointer that is never mapped in user space (EFAULT on every use). */
#define BADPTR ((void *)0x10)
/* A pointer into the kernel half: also EFAULT. */
#define KPTR ((void *)0xffffffffff600000UL)

static const char *tap_errname(int e)
{
    const char *n = e ? strerrorname_np(e) : "0";
    return n ? n : "E?";
}

static void tap_diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("# ", stdout);
    vprintf(fmt, ap);
    fputs("\n", stdout);
    va_end(ap);
    fflush(stdout);
}

static int tap_vok(int pass, const char *fmt, va_list ap)
{
    printf("%s %d - ", pass ? "ok" : "not ok", ++tap_n);
    vprintf(fmt, ap);
    fputs("\n", stdout);
    fflush(stdout);
    if (!pass)
        tap_failed++;
    return pass;
}

static int tap_ok(int pass, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = tap_vok(pass, fmt, ap);
    va_end(ap);
    return r;
}

/* OK(cond, "sys: desc") — a plain assertion. */
#define OK(cond, ...) tap_ok(!!(cond), __VA_ARGS__)

/* T_OK(expr, ...) — expr must not return -1. Evaluates to the result. */
#define T_OK(expr, ...)                                                              \
    ({                                                                               \
        errno = 0;                                                                   \
        long _r = (long)(expr);                                                      \
        int _e = errno;                                                              \
        if (!tap_ok(_r != -1, __VA_ARGS__))                                           \
            tap_diag("%s returned -1 errno=%s", #expr, tap_errname(_e));             \
        _r;                                                                          \
    })

/* T_EQ(expr, want, ...) — expr must return exactly want. */
#define T_EQ(expr, want, ...)                                                        \
    ({                                                                               \
        errno = 0;                                                                   \
        long _r = (long)(expr);                                                      \
        int _e = errno;                                                              \
        long _w = (long)(want);                                                      \
        if (!tap_ok(_r == _w, __VA_ARGS__))                                          \
            tap_diag("%s returned %ld (errno=%s), want %ld", #expr, _r,              \
                     tap_errname(_e), _w);                                           \
        _r;                                                                          \
    })

/* T_ERR(expr, ERRNO, ...) — expr must fail with -1 and errno ERRNO. */
#define T_ERR(expr, want, ...)                                                       \
    ({                                                                               \
        errno = 0;                                                                   \
        long _r = (long)(expr);                                                      \
        int _e = errno;                                                              \
        if (!tap_ok(_r == -1 && _e == (want), __VA_ARGS__))                          \
            tap_diag("%s returned %ld errno=%s, want -1 errno=%s", #expr, _r,        \
                     tap_errname(_e), tap_errname(want));                            \
        _r;                                                                          \
    })

/* T_ERR2 — either of two errnos is what Linux documents for this path. */
#define T_ERR2(expr, w1, w2, ...)                                                    \
    ({                                                                               \
        errno = 0;                                                                   \
        long _r = (long)(expr);                                                      \
        int _e = errno;                                                              \
        if (!tap_ok(_r == -1 && (_e == (w1) || _e == (w2)), __VA_ARGS__))            \
            tap_diag("%s returned %ld errno=%s", #expr, _r, tap_errname(_e));        \
        _r;                                                                          \
    })

/* T_IS(expr, want, ...) — expr must return exactly want (want -1: and errno WANT_ERRNO via
 * T_IS_ERR). The line ends with what was observed ("-> 0", "-> errno=EPERM"), so that a
 * difference the sentry makes by design can be declared exactly in <case>.expect-sentry. */
static const char *tap_seen(long r, int e)
{
    static char b[48];
    if (r == -1)
        snprintf(b, sizeof b, "errno=%s", tap_errname(e));
    else
        snprintf(b, sizeof b, "%ld", r);
    return b;
}
#define T_IS(expr, want, fmt, ...)                                                   \
    ({                                                                               \
        errno = 0;                                                                   \
        long _r = (long)(expr);                                                      \
        int _e = errno;                                                              \
        tap_ok(_r == (long)(want), fmt " -> %s", ##__VA_ARGS__, tap_seen(_r, _e));   \
        _r;                                                                          \
    })
#define T_IS_ERR(expr, want, fmt, ...)                                               \
    ({                                                                               \
        errno = 0;                                                                   \
        long _r = (long)(expr);                                                      \
        int _e = errno;                                                              \
        tap_ok(_r == -1 && _e == (want), fmt " -> %s", ##__VA_ARGS__,                \
               tap_seen(_r, _e));                                                    \
        _r;                                                                          \
    })

static int tap_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    if (ftw->level == 0)
        return 0;
    /* chmod follows a symbolic link: a case's link to a file outside must not change it. */
    if (flag != FTW_SL && flag != FTW_SLN)
        chmod(p, 0700);
    remove(p);
    return 0;
}

static void tap_clean(void)
{
    if (tap_dir[0])
        nftw(tap_dir, tap_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void tap_init(int argc, char **argv)
{
    const char *d = getenv("CONFORMANCE_TMP");
    if (!d && argc > 1)
        d = argv[1];
    if (d) {
        mkdir(d, 0700);
        snprintf(tap_dir, sizeof tap_dir, "%s", d);
    } else {
        snprintf(tap_dir, sizeof tap_dir, "/tmp/conformance.XXXXXX");
        if (!mkdtemp(tap_dir)) {
            printf("Bail out! mkdtemp: %s\n", strerror(errno));
            exit(2);
        }
        tap_own_dir = 1;
    }
    if (chdir(tap_dir) != 0) {
        printf("Bail out! chdir work dir: %s\n", strerror(errno));
        exit(2);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    umask(022);
}

static int tap_done(void)
{
    if (chdir("/") != 0)
        tap_diag("chdir / failed");
    tap_clean();
    if (tap_own_dir)
        rmdir(tap_dir);
    printf("1..%d\n", tap_n);
    fflush(stdout);
    return tap_failed ? 1 : 0;
}

/* Run fn in a forked child; returns its wait status (or -1). Used to isolate calls that change
 * process state (ids, signal dispositions, exit). */
static int tap_in_child(int (*fn)(void *), void *arg)
{
    fflush(stdout);
    pid_t p = fork();
    if (p < 0)
        return -1;
    if (p == 0)
        _exit(fn(arg));
    int st;
    if (waitpid(p, &st, 0) != p)
        return -1;
    return st;
}

/* Write a whole small file; returns 0 on success. */
static int tap_write_file(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    size_t n = strlen(data);
    int r = write(fd, data, n) == (ssize_t)n ? 0 : -1;
    close(fd);
    return r;
}

/* Drops every id to 65534 (nobody), supplementary groups too; 0 on success. */
static int tap_become_nobody(void)
{
    if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
        return 1;
    return 0;
}

/* A child's wait status as one number: its exit code, or 200 + the signal that killed it. */
static int tap_child_code(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : 200 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}
#endif
