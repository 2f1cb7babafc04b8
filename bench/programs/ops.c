/*
 * ops: time one operation in a loop and print the cost of one operation.
 *
 * Usage: ops <op> <iterations> [path]
 *   op          one of the names in OPS below
 *   iterations  number of timed iterations (a warm-up of iterations/10, at
 *               least 1, runs first and is not timed)
 *   path        the file for open_close and stat, the static `true` binary for
 *               fork_exec_wait
 *
 * Output: one line "<op> <ns_per_op>" on stdout, exit status 0.
 * Errors: one line on stderr, exit status 2 (usage) or 1 (an operation failed).
 *
 * Timing uses clock_gettime(CLOCK_MONOTONIC) around the loop. Built by
 * bench/build.sh with gcc -static -O2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *g_path;
static int g_pipe[2] = {-1, -1};
static int g_devnull = -1;
static uintptr_t g_brk0;

static void die(const char *op, const char *what) {
    fprintf(stderr, "ops: %s: %s: %s\n", op, what, strerror(errno));
    exit(1);
}

static void op_empty(long n) {
    for (long i = 0; i < n; i++)
        __asm__ volatile("" ::: "memory");
}

static void op_getpid(long n) {
    for (long i = 0; i < n; i++)
        syscall(SYS_getpid);
}

static void op_clock_gettime(long n) {
    struct timespec ts;
    for (long i = 0; i < n; i++) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        __asm__ volatile("" : : "r"(&ts) : "memory");
    }
}

static void op_open_close(long n) {
    for (long i = 0; i < n; i++) {
        int fd = open(g_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            die("open_close", g_path);
        close(fd);
    }
}

static void op_stat(long n) {
    struct stat st;
    for (long i = 0; i < n; i++)
        if (stat(g_path, &st) != 0)
            die("stat", g_path);
}

static void op_pipe_read(long n) {
    char c = 'x';
    for (long i = 0; i < n; i++) {
        if (write(g_pipe[1], &c, 1) != 1)
            die("pipe_read", "write");
        if (read(g_pipe[0], &c, 1) != 1)
            die("pipe_read", "read");
    }
}

static void op_write_devnull(long n) {
    char c = 'x';
    for (long i = 0; i < n; i++)
        if (write(g_devnull, &c, 1) != 1)
            die("write_devnull", "write");
}

static void op_mmap_munmap(long n) {
    for (long i = 0; i < n; i++) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            die("mmap_munmap", "mmap");
        if (munmap(p, 4096) != 0)
            die("mmap_munmap", "munmap");
    }
}

static void op_brk(long n) {
    for (long i = 0; i < n; i++) {
        uintptr_t up = (uintptr_t)syscall(SYS_brk, g_brk0 + 4096);
        if (up != g_brk0 + 4096) {
            errno = ENOMEM;
            die("brk", "grow");
        }
        uintptr_t down = (uintptr_t)syscall(SYS_brk, g_brk0);
        if (down != g_brk0) {
            errno = ENOMEM;
            die("brk", "shrink");
        }
    }
}

static void reap(const char *op, pid_t pid) {
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, 0);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            die(op, "waitpid");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "ops: %s: child status 0x%x\n", op, status);
        exit(1);
    }
}

static void op_fork_wait(long n) {
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0)
            die("fork_wait", "fork");
        if (pid == 0)
            _exit(0);
        reap("fork_wait", pid);
    }
}

static void op_fork_exec_wait(long n) {
    char *const argv[] = {(char *)g_path, NULL};
    char *const envp[] = {NULL};
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0)
            die("fork_exec_wait", "fork");
        if (pid == 0) {
            execve(g_path, argv, envp);
            _exit(127);
        }
        reap("fork_exec_wait", pid);
    }
}

struct op {
    const char *name;
    void (*run)(long);
    int needs_path;
};

static const struct op OPS[] = {
    {"empty", op_empty, 0},
    {"getpid", op_getpid, 0},
    {"clock_gettime", op_clock_gettime, 0},
    {"open_close", op_open_close, 1},
    {"stat", op_stat, 1},
    {"pipe_read", op_pipe_read, 0},
    {"write_devnull", op_write_devnull, 0},
    {"mmap_munmap", op_mmap_munmap, 0},
    {"brk", op_brk, 0},
    {"fork_wait", op_fork_wait, 0},
    {"fork_exec_wait", op_fork_exec_wait, 1},
};

static void usage(void) {
    fprintf(stderr, "usage: ops <op> <iterations> [path]\nops:");
    for (size_t i = 0; i < sizeof(OPS) / sizeof(OPS[0]); i++)
        fprintf(stderr, " %s", OPS[i].name);
    fprintf(stderr, "\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4)
        usage();
    const struct op *op = NULL;
    for (size_t i = 0; i < sizeof(OPS) / sizeof(OPS[0]); i++)
        if (strcmp(argv[1], OPS[i].name) == 0)
            op = &OPS[i];
    if (op == NULL)
        usage();
    char *end;
    errno = 0;
    long n = strtol(argv[2], &end, 10);
    if (errno != 0 || *end != '\0' || n <= 0)
        usage();
    g_path = argc == 4 ? argv[3] : NULL;
    if (op->needs_path && g_path == NULL) {
        fprintf(stderr, "ops: %s needs a path\n", op->name);
        exit(2);
    }

    if (pipe(g_pipe) != 0)
        die(op->name, "pipe");
    g_devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (g_devnull < 0)
        die(op->name, "/dev/null");
    g_brk0 = (uintptr_t)syscall(SYS_brk, 0);

    long warm = n / 10 > 0 ? n / 10 : 1;
    op->run(warm);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    op->run(n);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    printf("%s %.3f\n", op->name, ns / (double)n);
    return 0;
}
