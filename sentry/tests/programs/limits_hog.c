/* Modes (argv[1]):
 *   alloc  — allocate 1 MiB blocks and touch them until malloc fails; print the count.
 *   rss    — create a file of argv[2] bytes in argv[3] (a directory), map it MAP_PRIVATE
 *            writable (file-backed: not committed memory) and write every page.
 *   memfd-write — write argv[2] bytes into a memfd with write(2) only, 1 MiB at a time
 *            (no allocation call on the way; the pages are in no process's RSS).
 *   spin   — burn CPU forever.
 *   spin-ignore-xcpu — the same, with SIGXCPU ignored.
 *   sleep  — fork a child, both wait forever. */
#include "prog.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "alloc") == 0) {
        size_t n = 0;
        for (;;) {
            char *p = malloc(1 << 20);
            if (!p)
                break;
            memset(p, 1, 1 << 20);
            n++;
        }
        printf("malloc failed after %zu MiB\n", n);
        return 0;
    }
    if (strcmp(mode, "rss") == 0 && argc > 3) {
        size_t size = strtoul(argv[2], NULL, 0);
        char path[4096];
        snprintf(path, sizeof path, "%s/rss.data", argv[3]);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        must(fd >= 0);
        must(ftruncate(fd, (off_t)size) == 0);
        char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        must(p != MAP_FAILED);
        printf("mapped %zu bytes\n", size);
        fflush(stdout);
        for (size_t off = 0; off < size; off += 4096)
            p[off] = 1;
        printf("wrote every page\n");
        return 0;
    }
    if (strcmp(mode, "memfd-write") == 0 && argc > 2) {
        static char chunk[1 << 20];
        size_t size = strtoul(argv[2], NULL, 0), done = 0;
        int fd = memfd_create("hog", MFD_CLOEXEC);
        must(fd >= 0);
        printf("writing\n");
        fflush(stdout);
        while (done < size) {
            ssize_t n = write(fd, chunk, sizeof chunk);
            if (n <= 0) {
                printf("write failed after %zu bytes: %s\n", done, strerror(errno));
                return 0;
            }
            done += (size_t)n;
        }
        printf("the memfd holds %zu bytes\n", done);
        return 0;
    }
    if (strncmp(mode, "spin", 4) == 0) {
        if (strcmp(mode, "spin-ignore-xcpu") == 0)
            signal(SIGXCPU, SIG_IGN);
        printf("spinning\n");
        fflush(stdout);
        volatile unsigned long x = 0;
        for (;;)
            x++;
    }
    if (strcmp(mode, "sleep") == 0) {
        pid_t kid = fork();
        must(kid >= 0);
        printf("sleeping\n");
        fflush(stdout);
        for (;;)
            pause();
    }
    fprintf(stderr, "usage: limits_hog alloc|rss SIZE DIR|memfd-write SIZE|spin|spin-ignore-xcpu|sleep\n");
    return 2;
}
