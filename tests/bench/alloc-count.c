/* Heap allocation counter for scripts/bench, loaded with LD_PRELOAD into one client run.
 *
 * Counts the calls that create or resize a heap block (malloc, calloc, realloc,
 * posix_memalign, aligned_alloc, memalign) in the whole process, every thread, and at exit
 * appends "allocations N" to the file named by V4L2RVA_ALLOC_COUNT_OUT. The bench runs a
 * client on N and on 2N frames and takes the difference: allocations per frame in steady
 * state, start-up and teardown cancelled out. Calls reach the real allocator through
 * RTLD_NEXT; calloc during dlsym's own bootstrap is served from a static arena. Each
 * process of the run (children inherit LD_PRELOAD) writes its own line, "pid P allocations
 * N", so the bench takes the line of the process it started. */
#define _GNU_SOURCE
#include <dlfcn.h>
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
    return real_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    resolve();
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
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
    return real_posix_memalign(out, align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    resolve();
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    return real_aligned_alloc(align, n);
}

void *memalign(size_t align, size_t n)
{
    resolve();
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
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
    fclose(f);
}
