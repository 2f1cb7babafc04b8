/* exec_area [DYNAMIC]: execs through vfork, as a shell does, and looks at what that leaves in
 * its own address space (a vfork child execs from its parent's). The sentry keeps one sealed
 * read-only area per address space for the empty path and the argv of its execveat: a long
 * run of commands adds no mapping, and nothing in the sandbox can make the area writable,
 * unmap it or map over it. Runs this static program (argv kept as it is) and DYNAMIC
 * (default /bin/true, run through its ELF interpreter with a new argv) in turn. */
#define _GNU_SOURCE
#include "prog.h"
#include <sys/mman.h>
#include <sys/wait.h>

#define EXECS 100

static int run(const char *path, char *const argv[])
{
    pid_t pid = vfork();
    if (pid == 0) {
        execv(path, argv);
        _exit(127);
    }
    int status;
    must(pid > 0 && waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    must(f != NULL);
    int lines = 0, c;
    while ((c = fgetc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    return lines;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0)
        return 0;
    const char *dynamic = argc > 1 ? argv[1] : "/bin/true";
    char *self_args[] = {argv[0], "child", NULL};
    char *dynamic_args[] = {(char *)dynamic, NULL};
    check(run(argv[0], self_args) == 0 && run(dynamic, dynamic_args) == 0, "first execs");
    int before = count_maps();
    int failed = 0;
    for (int i = 0; i < EXECS; i++)
        failed += i % 2 ? run(argv[0], self_args) != 0 : run(dynamic, dynamic_args) != 0;
    check(failed == 0, "%d execs through vfork, %d failed", EXECS, failed);
    int after = count_maps();
    check(after == before, "mappings: %d before them, %d after", before, after);

    /* The area: a private anonymous read-only mapping where the sentry puts it. */
    FILE *f = fopen("/proc/self/maps", "r");
    must(f != NULL);
    char line[512];
    int areas = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long start, end;
        char perms[5], dev[16];
        unsigned long inode;
        int name_at = 0;
        if (sscanf(line, "%lx-%lx %4s %*x %15s %lu %n", &start, &end, perms, dev, &inode,
                   &name_at) != 5)
            continue;
        if (start < (1UL << 45) || start >= (1UL << 46) || strcmp(perms, "r--p") != 0 ||
            strcmp(dev, "00:00") != 0 || inode != 0 || line[name_at] != '\0')
            continue;
        areas++;
        void *at = (void *)start;
        errno = 0;
        int r = mprotect(at, 4096, PROT_READ | PROT_WRITE);
        check(r != 0 && errno == EPERM, "mprotect of the area refused (%d, %s)", r,
              strerror(errno));
        errno = 0;
        r = munmap(at, end - start);
        check(r != 0 && errno == EPERM, "munmap of the area refused (%d, %s)", r,
              strerror(errno));
        errno = 0;
        void *over = mmap(at, 4096, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        check(over == MAP_FAILED && errno == EPERM, "mmap over the area refused (%s)",
              strerror(errno));
    }
    fclose(f);
    check(areas == 1, "one exec area (%d)", areas);
    check(run(dynamic, dynamic_args) == 0, "an exec after the attempts");
    printf("exec_area done\n");
    return finish();
}
