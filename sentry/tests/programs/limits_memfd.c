/* memfd sizes under --memory-limit (issue 5). Run with the limit (64M) as argv[1] and a cycle
 * count as argv[2]: a memfd grown to 32M works; growing a second one to 40M fails (ftruncate
 * with ENOMEM, fallocate with ENOSPC); closing the first releases its charge so the second
 * can grow; a mapping or a child process holding a closed memfd keeps it charged until it
 * goes; growth by write(2) shows at the next look (sysinfo); shrinking releases. Then CYCLES
 * create/grow/close cycles in two processes, one after the other, each checking through sysinfo(2) that its
 * cycles leave no charge behind (the test also checks the final charge, memory_final). */
#include "prog.h"
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>

#define MIB (1024UL * 1024UL)

static unsigned long charged_now(void)
{
    struct sysinfo si;
    must(sysinfo(&si) == 0);
    return (si.totalram - si.freeram) * si.mem_unit;
}

/* Whether x is within one MiB of want (the program's own heap and stack move a little). */
static int near(unsigned long x, unsigned long want)
{
    return x + MIB >= want && x <= want + MIB;
}

static int cycles(int n, const char *who)
{
    unsigned long before = charged_now();
    for (int i = 0; i < n; i++) {
        int fd = memfd_create("cycle", MFD_CLOEXEC);
        if (fd < 0)
            return 1;
        size_t len = 4096 * (1 + i % 64);
        if (ftruncate(fd, (off_t)len) != 0)
            return 1;
        if (i % 3 == 0 && fallocate(fd, 0, 0, (off_t)(len * 2)) != 0)
            return 1;
        if (i % 5 == 0) {
            char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (p == MAP_FAILED)
                return 1;
            p[0] = 1;
            close(fd);
            if (munmap(p, len) != 0)
                return 1;
        } else if (i % 7 == 0) {
            if (write(fd, "x", 1) != 1 || close_range((unsigned)fd, (unsigned)fd, 0) != 0)
                return 1;
        } else {
            close(fd);
        }
    }
    unsigned long after = charged_now();
    check(after == before, "%s: %d memfd cycles leave no charge (%lu before, %lu after)", who, n,
          before, after);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: limits_memfd LIMIT CYCLES\n");
        return 2;
    }
    unsigned long limit = strtoul(argv[1], NULL, 0);
    int n = atoi(argv[2]);
    struct sysinfo si;
    must(sysinfo(&si) == 0);
    check(si.totalram * si.mem_unit == limit, "sysinfo shows the limit (%lu)", limit);

    unsigned long base = charged_now();
    int a = memfd_create("a", MFD_CLOEXEC);
    must(a >= 0);
    check(ftruncate(a, 32 * MIB) == 0, "a memfd grows to 32M");
    check(near(charged_now(), base + 32 * MIB), "its 32M are charged (%lu over %lu)",
          charged_now() - base, base);
    int b = memfd_create("b", MFD_CLOEXEC);
    must(b >= 0);
    errno = 0;
    int rc = ftruncate(b, 40 * MIB);
    check(rc == -1 && errno == ENOMEM, "a second memfd cannot grow to 40M: ftruncate ENOMEM (%d %s)",
          rc, strerror(errno));
    errno = 0;
    rc = fallocate(b, 0, 0, 40 * MIB);
    check(rc == -1 && errno == ENOSPC, "fallocate to 40M fails with ENOSPC (%d %s)", rc,
          strerror(errno));
    struct stat st;
    must(fstat(b, &st) == 0);
    check(st.st_size == 0, "the refused memfd kept its size (%ld)", (long)st.st_size);
    check(ftruncate(b, 16 * MIB) == 0, "it may grow within the limit (16M)");

    /* Closing the first releases its charge. */
    close(a);
    check(ftruncate(b, 40 * MIB) == 0, "after close of the first, the second grows to 40M");
    check(near(charged_now(), base + 40 * MIB), "40M charged (%lu over the base)",
          charged_now() - base);
    rc = ftruncate(b, 8 * MIB);
    unsigned long now = charged_now();
    check(rc == 0 && near(now, base + 8 * MIB), "shrinking to 8M releases the rest (%lu over the base)",
          now - base);
    rc = fallocate(b, FALLOC_FL_KEEP_SIZE, 0, 24 * MIB);
    now = charged_now();
    check(rc == 0 && near(now, base + 24 * MIB),
          "fallocate KEEP_SIZE past the end is charged (%lu over the base)", now - base);
    check(ftruncate(b, 0) == 0 && fallocate(b, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                                            24 * MIB) == 0,
          "emptied (truncate, punch hole)");
    check(near(charged_now(), base), "nothing left charged (%lu over the base)",
          charged_now() - base);

    /* A mapping holds a closed memfd: charged until munmap. */
    int c = memfd_create("c", 0);
    must(c >= 0);
    check(ftruncate(c, 32 * MIB) == 0, "a third memfd grows to 32M");
    char *p = mmap(NULL, 32 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0);
    must(p != MAP_FAILED);
    memset(p, 1, 4 * MIB);
    close(c);
    errno = 0;
    rc = ftruncate(b, 40 * MIB);
    check(rc == -1 && errno == ENOMEM, "mapped after close, it stays charged (%d %s)", rc,
          strerror(errno));
    must(munmap(p, 32 * MIB) == 0);
    check(ftruncate(b, 40 * MIB) == 0, "after munmap of its last mapping, it is released");
    must(ftruncate(b, 0) == 0);

    /* A child holding an inherited memfd: charged until the child is gone. */
    int d = memfd_create("d", 0);
    must(d >= 0);
    check(ftruncate(d, 32 * MIB) == 0, "a fourth memfd grows to 32M");
    int pipefd[2];
    must(pipe(pipefd) == 0);
    pid_t child = fork();
    must(child >= 0);
    if (child == 0) {
        char byte;
        close(pipefd[1]);
        /* Holds d until the parent closes the pipe. */
        _exit(read(pipefd[0], &byte, 1) == 0 ? 0 : 1);
    }
    close(pipefd[0]);
    close(d);
    errno = 0;
    rc = ftruncate(b, 40 * MIB);
    check(rc == -1 && errno == ENOMEM, "closed here but held by a child, it stays charged (%d %s)",
          rc, strerror(errno));
    close(pipefd[1]);
    int status;
    must(waitpid(child, &status, 0) == child);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child exited");
    check(ftruncate(b, 40 * MIB) == 0, "after the child's exit, it is released");
    must(ftruncate(b, 0) == 0);

    /* Growth by write(2) is not stopped; the next look charges it. */
    int w = memfd_create("w", 0);
    must(w >= 0);
    static char chunk[1024 * 1024];
    memset(chunk, 2, sizeof chunk);
    for (int i = 0; i < 8; i++)
        must(write(w, chunk, sizeof chunk) == (ssize_t)sizeof chunk);
    check(near(charged_now(), base + 8 * MIB), "8M written into a memfd show at sysinfo (%lu over the base)",
          charged_now() - base);
    close(w);
    check(near(charged_now(), base), "and go at its close (%lu over the base)", charged_now() - base);
    close(b);

    /* Cycles in two processes, one after the other (sysinfo shows the whole sandbox). */
    child = fork();
    must(child >= 0);
    if (child == 0)
        _exit(cycles(n, "child") == 0 && prog_failures == 0 ? 0 : 1);
    must(waitpid(child, &status, 0) == child);
    int bad = cycles(n, "parent");
    check(!bad && WIFEXITED(status) && WEXITSTATUS(status) == 0, "both cycled without failure");
    printf("cycles %d\n", 2 * n);
    return finish();
}
