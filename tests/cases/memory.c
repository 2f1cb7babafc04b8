/* Memory: mmap(2), munmap(2), mprotect(2), mremap(2), madvise(2), brk(2), mlock(2) family,
 * msync(2), mincore(2), memfd_create(2). */
#include "tap.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

static sigjmp_buf jb;
static void on_segv(int s) { siglongjmp(jb, s); }

/* 1 when reading *p faults (SIGSEGV), 0 when it reads. */
static int faults(volatile char *p)
{
    if (sigsetjmp(jb, 1))
        return 1;
    (void)*p;
    return 0;
}

static int wfaults(volatile char *p)
{
    if (sigsetjmp(jb, 1))
        return 1;
    *p = 1;
    return 0;
}

int main(int argc, char **argv)
{
    tap_init(argc, argv);
    long pg = sysconf(_SC_PAGESIZE);
    struct sigaction sa = {.sa_handler = on_segv, .sa_flags = SA_NODEFER};
    sigaction(SIGSEGV, &sa, NULL);

    /* mmap */
    char *m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    OK(m != MAP_FAILED, "mmap: anonymous private 4 pages");
    OK(m[0] == 0 && m[4 * pg - 1] == 0, "mmap: anonymous memory is zeroed");
    m[0] = 'x';
    OK(m[0] == 'x', "mmap: writable");
    T_ERR((long)mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL, "mmap: length 0 -> EINVAL");
    T_ERR((long)mmap(NULL, pg, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL, "mmap: neither SHARED nor PRIVATE -> EINVAL");
    T_ERR((long)mmap(NULL, pg, PROT_READ, MAP_PRIVATE, -1, 0), EBADF, "mmap: file mapping with fd -1 -> EBADF");
    T_ERR((long)mmap((void *)1, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), EINVAL,
          "mmap: unaligned MAP_FIXED -> EINVAL");
    T_ERR((long)mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1), EINVAL, "mmap: unaligned offset -> EINVAL");
    T_ERR((long)mmap(NULL, (size_t)1 << 62, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), ENOMEM,
          "mmap: huge length -> ENOMEM");
    tap_write_file("f", "filedata");
    int fd = open("f", O_RDONLY);
    char *fm = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 0);
    OK(fm != MAP_FAILED && memcmp(fm, "filedata", 8) == 0, "mmap: file mapping shows the content");
    T_ERR((long)mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EACCES,
          "mmap: shared writable map of a read-only fd -> EACCES");
    int dfd = open(".", O_RDONLY);
    T_ERR((long)mmap(NULL, pg, PROT_READ, MAP_PRIVATE, dfd, 0), ENODEV, "mmap: a directory -> ENODEV");
    close(dfd);
    void *fx = mmap(m + pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    OK(fx == m + pg, "mmap: MAP_FIXED at the requested address");
    T_ERR((long)mmap(m, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0), EEXIST,
          "mmap: MAP_FIXED_NOREPLACE over a mapping -> EEXIST");

    /* mprotect */
    T_EQ(mprotect(m, pg, PROT_READ), 0, "mprotect: read-only");
    OK(wfaults(m) == 1, "mprotect: writing now faults (SIGSEGV)");
    T_EQ(mprotect(m, pg, PROT_NONE), 0, "mprotect: PROT_NONE");
    OK(faults(m) == 1, "mprotect: reading PROT_NONE faults");
    T_EQ(mprotect(m, pg, PROT_READ | PROT_WRITE), 0, "mprotect: back to read-write");
    OK(m[0] == 'x', "mprotect: content preserved");
    T_ERR(mprotect(m + 1, pg, PROT_READ), EINVAL, "mprotect: unaligned -> EINVAL");
    T_ERR(mprotect(m, pg, 0x100), EINVAL, "mprotect: bad prot -> EINVAL");
    T_EQ(mprotect(fm, pg, PROT_READ | PROT_WRITE), 0, "mprotect: a private file map may become writable");

    /* madvise */
    m[2 * pg] = 7;
    T_EQ(madvise(m + 2 * pg, pg, MADV_DONTNEED), 0, "madvise: MADV_DONTNEED");
    OK(m[2 * pg] == 0, "madvise: DONTNEED zero-fills private anonymous memory");
    T_EQ(madvise(m, pg, MADV_NORMAL), 0, "madvise: MADV_NORMAL");
    T_ERR(madvise(m + 1, pg, MADV_NORMAL), EINVAL, "madvise: unaligned -> EINVAL");
    T_ERR(madvise(m, pg, 12345), EINVAL, "madvise: bad advice -> EINVAL");

    /* mremap */
    char *m2 = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    m2[0] = 'x';
    char *r = mremap(m2, 4 * pg, 8 * pg, MREMAP_MAYMOVE);
    OK(r != MAP_FAILED && r[0] == 'x', "mremap: grow with MAYMOVE keeps content");
    T_ERR((long)mremap(r, 8 * pg, 16 * pg, 0x100), EINVAL, "mremap: bad flags -> EINVAL");
    T_ERR((long)mremap(r + 1, pg, pg, 0), EINVAL, "mremap: unaligned -> EINVAL");
    char *s = mremap(r, 8 * pg, 2 * pg, 0);
    OK(s == r, "mremap: shrink in place");
    OK(faults(r + 3 * pg) == 1, "mremap: the cut-off tail is unmapped");

    /* munmap */
    T_EQ(munmap(r, 2 * pg), 0, "munmap: unmaps");
    OK(faults(r) == 1, "munmap: access faults afterwards");
    T_EQ(munmap(r, 2 * pg), 0, "munmap: already unmapped range is not an error");
    T_ERR(munmap(r + 1, pg), EINVAL, "munmap: unaligned -> EINVAL");
    T_ERR(munmap(r, 0), EINVAL, "munmap: length 0 -> EINVAL");

    /* brk */
    long b0 = syscall(SYS_brk, 0);
    OK(b0 > 0, "brk: query the break");
    long b1 = syscall(SYS_brk, b0 + 64 * pg);
    OK(b1 == b0 + 64 * pg, "brk: grow by 64 pages");
    ((char *)b0)[10] = 5;
    OK(((char *)b0)[10] == 5, "brk: new memory is usable");
    OK(syscall(SYS_brk, b0) == b0, "brk: shrink back");
    OK(syscall(SYS_brk, 1) == b0, "brk: impossible value returns the current break");

    /* mlock / munlock / mlockall / munlockall / mlock2 */
    char *lk = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    T_EQ(mlock(lk, pg), 0, "mlock: one page as root");
    T_EQ(munlock(lk, pg), 0, "munlock: the page");
    T_EQ(mlock2(lk, pg, MLOCK_ONFAULT), 0, "mlock2: MLOCK_ONFAULT");
    T_ERR(mlock2(lk, pg, 0x8), EINVAL, "mlock2: bad flags -> EINVAL");
    T_ERR(mlock((void *)0x1000, pg), ENOMEM, "mlock: unmapped range -> ENOMEM");
    T_EQ(mlockall(MCL_CURRENT | MCL_ONFAULT), 0, "mlockall: MCL_CURRENT|MCL_ONFAULT");
    T_ERR(mlockall(0), EINVAL, "mlockall: no flags -> EINVAL");
    T_EQ(munlockall(), 0, "munlockall: unlocks");

    /* msync */
    int wfd = open("w", O_RDWR | O_CREAT, 0644);
    ftruncate(wfd, pg);
    char *wm = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, 0);
    memcpy(wm, "synced", 6);
    T_EQ(msync(wm, pg, MS_SYNC), 0, "msync: MS_SYNC");
    char rb[8] = {0};
    pread(wfd, rb, 6, 0);
    OK(memcmp(rb, "synced", 6) == 0, "msync: the file has the data");
    T_ERR(msync(wm, pg, MS_SYNC | MS_ASYNC), EINVAL, "msync: SYNC|ASYNC -> EINVAL");
    T_ERR(msync(wm + 1, pg, MS_SYNC), EINVAL, "msync: unaligned -> EINVAL");
    T_ERR(msync((void *)0x1000, pg, MS_SYNC), ENOMEM, "msync: unmapped -> ENOMEM");

    /* mincore */
    unsigned char vec[2];
    lk[0] = 1;
    T_EQ(mincore(lk, 2 * pg, vec), 0, "mincore: two pages");
    OK(vec[0] & 1, "mincore: touched page is resident");
    T_ERR(mincore(lk + 1, pg, vec), EINVAL, "mincore: unaligned -> EINVAL");
    T_ERR(mincore((void *)0x1000, pg, vec), ENOMEM, "mincore: unmapped -> ENOMEM");
    T_ERR(mincore(lk, pg, BADPTR), EFAULT, "mincore: bad vector -> EFAULT");

    /* memfd_create */
    int mfd = T_OK(memfd_create("conformance", MFD_CLOEXEC | MFD_ALLOW_SEALING), "memfd_create: with sealing");
    T_EQ(write(mfd, "memfd", 5), 5, "memfd_create: writable");
    T_EQ(fcntl(mfd, F_ADD_SEALS, F_SEAL_GROW), 0, "memfd_create: F_ADD_SEALS F_SEAL_GROW");
    T_ERR(write(mfd, "more", 4), EPERM, "memfd_create: sealed against growth -> EPERM");
    T_EQ(fcntl(mfd, F_GET_SEALS), F_SEAL_GROW, "memfd_create: F_GET_SEALS");
    T_ERR(memfd_create("x", 0x1000), EINVAL, "memfd_create: bad flags -> EINVAL");
    T_ERR(memfd_create(BADPTR, 0), EFAULT, "memfd_create: bad name -> EFAULT");
    char longn[300];
    memset(longn, 'n', sizeof longn - 1);
    longn[sizeof longn - 1] = 0;
    T_ERR(memfd_create(longn, 0), EINVAL, "memfd_create: name > 249 bytes -> EINVAL");
    return tap_done();
}
