/* Heap allocation counter for scripts/bench, loaded with LD_PRELOAD into one client run.
 *
 * Counts the calls that create or resize a heap block (malloc, calloc, realloc,
 * posix_memalign, aligned_alloc, memalign) in the whole process, every thread, and at exit
 * appends "allocations N" to the file named by V4L2RVA_ALLOC_COUNT_OUT. The bench runs a
 * client on N and on 2N frames and takes the difference: allocations per frame in steady
 * state, start-up and teardown cancelled out. Calls reach the real allocator through
 * RTLD_NEXT; calloc during dlsym's own bootstrap is served from a static arena. Each
 * process of the run (children inherit LD_PRELOAD) writes its own line, "pid P allocations
 * N", so the bench takes the line of the process it started.
 *
 * With V4L2RVA_ALLOC_SITES=1 it also records where each allocation came from: the call
 * chain's first SITE_DEPTH return addresses (backtrace(3)), counted per distinct chain, and
 * at exit appends one line per chain, "pid P site COUNT OBJECT+0xOFFSET ...", each frame
 * as the shared object's path and the offset of the address in it (dladdr(3); addr2line
 * turns it into a function and line). tests/bench/alloc_sites.py subtracts the N-frame
 * run's chains from the 2N-frame run's and names the allocating code per frame. Recording
 * takes a spinlock per allocation, so it is only for the allocation runs, never the timed
 * ones; allocations made while a chain is being taken (backtrace loading libgcc_s) are
 * counted without a site. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_ulong count;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);

/* Call sites (V4L2RVA_ALLOC_SITES=1): an open-addressing table of distinct chains. */
#define SITE_DEPTH 8
#define SITE_SLOTS 16384
struct site {
    void *frames[SITE_DEPTH];
    int depth;
    unsigned long count;
};
static struct site sites[SITE_SLOTS];
static unsigned long sites_dropped;
static atomic_flag sites_lock = ATOMIC_FLAG_INIT;
static int sites_on = -1;
static __thread int in_site __attribute__((tls_model("initial-exec")));

static void note_site(void)
{
    if (sites_on < 0)
        sites_on = getenv("V4L2RVA_ALLOC_SITES") != NULL;
    if (!sites_on || in_site)
        return;
    in_site = 1;
    void *frames[SITE_DEPTH + 2];
    /* Frames 0 and 1 are note_site and the counting wrapper itself. */
    int n = backtrace(frames, SITE_DEPTH + 2) - 2;
    if (n > 0) {
        uintptr_t h = 1469598103934665603u;
        for (int i = 0; i < n; i++)
            h = (h ^ (uintptr_t)frames[i + 2]) * 1099511628211u;
        while (atomic_flag_test_and_set_explicit(&sites_lock, memory_order_acquire))
            ;
        int placed = 0;
        for (unsigned long k = 0; k < SITE_SLOTS && !placed; k++) {
            struct site *s = &sites[(h + k) % SITE_SLOTS];
            if (s->depth == 0) {
                memcpy(s->frames, frames + 2, (size_t)n * sizeof(void *));
                s->depth = n;
            }
            if (s->depth == n && memcmp(s->frames, frames + 2, (size_t)n * sizeof(void *)) == 0) {
                s->count++;
                placed = 1;
            }
        }
        if (!placed)
            sites_dropped++;
        atomic_flag_clear_explicit(&sites_lock, memory_order_release);
    }
    in_site = 0;
}

static char arena[4096];
static size_t arena_used;
static int resolving;

static void resolve(void)
{
    if (real_malloc || resolving)
        return;
    resolving = 1;
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = dlsym(RTLD_NEXT, "memalign");
    resolving = 0;
}

static int in_arena(void *p)
{
    return (char *)p >= arena && (char *)p < arena + sizeof(arena);
}

void *malloc(size_t n)
{
    resolve();
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    note_site();
    return real_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    resolve();
    if (!real_calloc) { /* dlsym bootstrap */
        size_t n = (a * b + 15) & ~(size_t)15;
        if (arena_used + n > sizeof(arena))
            return NULL;
        void *p = arena + arena_used;
        arena_used += n;
        return p;
    }
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    note_site();
    return real_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    resolve();
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    note_site();
    if (in_arena(p)) {
        void *q = real_malloc(n);
        if (q)
            memcpy(q, p, n < sizeof(arena) ? n : sizeof(arena));
        return q;
    }
    return real_realloc(p, n);
}

void free(void *p)
{
    static void (*real_free)(void *);
    if (in_arena(p))
        return;
    if (!real_free)
        real_free = dlsym(RTLD_NEXT, "free");
    real_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    resolve();
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    note_site();
    return real_posix_memalign(out, align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    resolve();
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    note_site();
    return real_aligned_alloc(align, n);
}

void *memalign(size_t align, size_t n)
{
    resolve();
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    note_site();
    return real_memalign(align, n);
}

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("V4L2RVA_ALLOC_COUNT_OUT");
    if (!path)
        return;
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    fprintf(f, "pid %ld allocations %lu\n", (long)getpid(), atomic_load(&count));
    if (sites_on > 0) {
        in_site = 1;
        for (unsigned long k = 0; k < SITE_SLOTS; k++) {
            struct site *s = &sites[k];
            if (s->depth == 0)
                continue;
            fprintf(f, "pid %ld site %lu", (long)getpid(), s->count);
            for (int i = 0; i < s->depth; i++) {
                Dl_info info;
                if (dladdr(s->frames[i], &info) && info.dli_fname)
                    fprintf(f, " %s+0x%lx", info.dli_fname,
                            (unsigned long)((uintptr_t)s->frames[i] - (uintptr_t)info.dli_fbase));
                else
                    fprintf(f, " ?+0x%lx", (unsigned long)(uintptr_t)s->frames[i]);
            }
            fputc('\n', f);
        }
        if (sites_dropped)
            fprintf(f, "pid %ld sites-dropped %lu\n", (long)getpid(), sites_dropped);
    }
    fclose(f);
}
