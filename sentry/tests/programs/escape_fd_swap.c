/* escape_fd_swap ROUNDS: races the number of an fd against the calls the sentry makes itself on
 * the file behind a number. Stdin is a host file outside the sandbox's mounts (the test's
 * canary). One thread puts, all the while, a file of the sandbox without a name (O_TMPFILE)
 * and stdin in turn at fd 5; the other makes, ROUNDS times: fchmod, fsetxattr, fremovexattr,
 * futimens with explicit times, an open of /proc/self/fd/5 for writing, and
 * linkat(5, "", AT_EMPTY_PATH) to a new name (removed again). An fd or a name that is the
 * canary is an escape here; the test checks the canary's mode, times and attributes on the
 * host. Prints "rounds N changed C" (C: calls that succeeded) and exits 0,
 * or names the escape and exits 3. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define SWAPPED 5

static int own = -1;
static volatile int running = 1;

static void *swapper(void *unused)
{
    (void)unused;
    while (running) {
        dup2(0, SWAPPED);
        dup2(own, SWAPPED);
    }
    return NULL;
}

/* Fails if `fd` is the canary. */
static void not_the_canary(int fd, const struct stat *canary, const char *what)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_dev == canary->st_dev && st.st_ino == canary->st_ino) {
        printf("ESCAPE: %s\n", what);
        fflush(stdout);
        exit(3);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: escape_fd_swap ROUNDS\n");
        return 2;
    }
    long rounds = atol(argv[1]);
    struct stat canary;
    if (fstat(0, &canary) != 0) {
        perror("fstat stdin");
        return 1;
    }
    /* A file without a name: an open of /proc/self/fd/5 is then a new open of it. */
    own = open("/tmp", O_RDWR | O_TMPFILE, 0644);
    if (own < 0 || dup2(own, SWAPPED) != SWAPPED) {
        perror("O_TMPFILE in /tmp");
        return 1;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, swapper, NULL) != 0)
        return 1;
    const struct timespec times[2] = {{1, 0}, {1, 0}};
    long changed = 0;
    for (long i = 0; i < rounds; i++) {
        changed += fchmod(SWAPPED, 0606) == 0;
        changed += fsetxattr(SWAPPED, "user.escape", "x", 1, 0) == 0;
        changed += fremovexattr(SWAPPED, "user.escape") == 0;
        changed += futimens(SWAPPED, times) == 0;
        int reopened = open("/proc/self/fd/5", O_RDWR);
        if (reopened >= 0) {
            changed++;
            /* A duplicate of stdin as it was opened (read-only) is no escape. */
            if ((fcntl(reopened, F_GETFL) & O_ACCMODE) != O_RDONLY)
                not_the_canary(reopened, &canary, "the host file was opened for writing");
            close(reopened);
        }
        if (linkat(SWAPPED, "", AT_FDCWD, "/tmp/linked", AT_EMPTY_PATH) == 0) {
            changed++;
            int linked = open("/tmp/linked", O_RDONLY);
            if (linked >= 0)
                not_the_canary(linked, &canary, "the host file was linked into the sandbox");
            close(linked);
            unlink("/tmp/linked");
        }
    }
    running = 0;
    pthread_join(t, NULL);
    printf("rounds %ld changed %ld\n", rounds, changed);
    return 0;
}
