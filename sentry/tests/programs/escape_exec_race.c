/* escape_exec_race ROUNDS TARGET EVIL HOST_PAYLOAD
 *
 * Races the kernel's reading of an exec the sentry decided. Each round forks a child with
 * two threads: one execs TARGET (a static program of the sandbox that exits 0); the other
 *  - flips the byte that ends TARGET's path between NUL and '/', with HOST_PAYLOAD's path
 *    (an absolute host path outside the sandbox) right after it: a kernel that reads the
 *    "empty" path at the end of the task's own string then runs the host file;
 *  - re-points the fd numbers the sentry installs the program at (3..6) to EVIL, a program
 *    of the sandbox whose ELF interpreter is HOST_PAYLOAD.
 * With a fifth argument "page", the second thread instead looks in /proc/self/maps for the
 * read-only page the sentry maps for the exec's empty path and argv, makes it writable
 * (mprotect, or a MAP_FIXED mapping over it) and writes HOST_PAYLOAD's path at its start.
 * HOST_PAYLOAD prints a marker if it ever runs; the test looks for it. Prints
 * "rounds N target-ran T" at the end.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[4096];
static size_t target_len;
static int evil_fd = 100;
static volatile int stop;

static void *flipper(void *arg)
{
    (void)arg;
    while (!stop) {
        path[target_len] = '/';
        for (int fd = 3; fd <= 6; fd++)
            dup2(evil_fd, fd);
        path[target_len] = '\0';
    }
    return NULL;
}

static const char *host_path;

/* Whether one line of /proc/self/maps is a read-only private mapping high in the address
 * space (where the sentry puts the exec's page): its start in *at. */
static int candidate(const char *line, unsigned long *at)
{
    unsigned long start, end;
    char perms[5];
    if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) != 3)
        return 0;
    *at = start;
    return start >= (1UL << 45) && start < (1UL << 47) && strcmp(perms, "r--p") == 0;
}

static void *pager(void *arg)
{
    (void)arg;
    static char maps[65536];
    while (!stop) {
        int fd = open("/proc/self/maps", O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, maps, sizeof maps - 1);
        close(fd);
        if (n <= 0)
            continue;
        maps[n] = '\0';
        for (char *line = maps; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
            unsigned long at;
            if (!candidate(line, &at))
                continue;
            if (mprotect((void *)at, 4096, PROT_READ | PROT_WRITE) != 0 &&
                mmap((void *)at, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                     -1, 0) == MAP_FAILED)
                continue;
            strcpy((char *)at, host_path);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int page = argc == 6 && strcmp(argv[5], "page") == 0;
    host_path = argv[4];
    if (argc != 5 && !page) {
        fprintf(stderr, "usage: %s ROUNDS TARGET EVIL HOST_PAYLOAD [page]\n", argv[0]);
        return 2;
    }
    int rounds = atoi(argv[1]);
    target_len = strlen(argv[2]);
    if (target_len + strlen(argv[4]) + 1 >= sizeof path)
        return 2;
    memcpy(path, argv[2], target_len);
    /* path[target_len] is the flipped byte; the host path (without its leading '/') follows. */
    strcpy(path + target_len + 1, argv[4] + 1);
    int fd = open(argv[3], O_RDONLY);
    if (fd < 0 || dup2(fd, evil_fd) < 0) {
        perror("open EVIL");
        return 2;
    }
    close(fd);
    int target_ran = 0;
    for (int i = 0; i < rounds; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            pthread_t t;
            pthread_create(&t, NULL, page ? pager : flipper, NULL);
            char *args[] = {path, NULL};
            char *env[] = {NULL};
            for (;;) {
                path[target_len] = '\0';
                execve(path, args, env);
            }
        }
        int status;
        if (waitpid(pid, &status, 0) < 0) {
            perror("waitpid");
            return 2;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            target_ran++;
    }
    printf("rounds %d target-ran %d\n", rounds, target_ran);
    return 0;
}
