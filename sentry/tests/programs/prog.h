/* Shared helpers of the test programs run under `sentry run` by the Rust tests in sentry/tests/.
 * Each program prints what it observes on stdout, one line per fact, and exits 0 when every
 * check held (1 otherwise, with a "FAIL ..." line naming the check). */
#ifndef SENTRY_TEST_PROG_H
#define SENTRY_TEST_PROG_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int prog_failures __attribute__((unused));

/* Prints "ok <what>" or "FAIL <what>: <detail>" and counts failures. */
__attribute__((format(printf, 2, 3), unused)) static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    printf("%s ", ok ? "ok" : "FAIL");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (!ok)
        prog_failures++;
}

/* Aborts the program with a message when a setup step (not a check) fails. */
#define must(expr)                                                                          \
    do {                                                                                    \
        if (!(expr)) {                                                                      \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr,            \
                    strerror(errno));                                                       \
            exit(2);                                                                        \
        }                                                                                   \
    } while (0)

__attribute__((unused)) static int finish(void)
{
    fflush(stdout);
    return prog_failures ? 1 : 0;
}

/* Writes all of buf to fd (stdout through a pipe may be short-written). */
__attribute__((unused)) static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        must(n > 0);
        buf += n;
        len -= (size_t)n;
    }
}

/* printf to a raw fd, for children that must not share stdio buffers. */
__attribute__((format(printf, 2, 3), unused)) static void fdprintf(int fd, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 1)
        n = (int)sizeof buf - 1;
    if (n > 0)
        write_all(fd, buf, (size_t)n);
}

#endif
