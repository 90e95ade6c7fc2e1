/* The bad-input corpus (tests/bad-inputs/, format in docs/internals/testing.md):
 * every case runs the real `ragsim` binary and must exit with status 2,
 * print its expected message in the expected form, not crash (no signal,
 * no sanitizer report), leave a pre-existing output file byte-identical and
 * create no output (nor a temporary file) where there was none. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define CORPUS RAGSIM_SOURCE_DIR "/tests/bad-inputs"
#define MAX_ARGS 16

typedef struct {
    char name[256];
    char expect[1024];
    char where[16];     /* file | set | none | cli */
    char cmd[16];       /* run | validate | compare | sweep (the case is a sweep file) */
    char path[512];     /* scenario path relative to the corpus */
    char mode[32];      /* "" | unreadable */
    char *args[MAX_ARGS];
    int nargs;
} bad_case_t;

static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '\\' && r[1] == 'n') { *w++ = '\n'; r++; }
        else if (*r == '\\' && r[1] == '\\') { *w++ = '\\'; r++; }
        else *w++ = *r;
    }
    *w = 0;
}

/* Header lines "# key: value" at the top of `file`; false if it has none. */
static bool parse_header(const char *file, bad_case_t *c)
{
    FILE *f = fopen(file, "rb");
    if (!f) return false;
    char line[4096];
    bool any = false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "# ", 2) != 0) break;
        line[strcspn(line, "\n")] = 0;
        char *colon = strstr(line + 2, ": ");
        if (!colon) break;
        *colon = 0;
        const char *k = line + 2, *v = colon + 2;
        if (!strcmp(k, "expect")) snprintf(c->expect, sizeof c->expect, "%s", v), any = true;
        else if (!strcmp(k, "where")) snprintf(c->where, sizeof c->where, "%s", v);
        else if (!strcmp(k, "cmd")) snprintf(c->cmd, sizeof c->cmd, "%s", v);
        else if (!strcmp(k, "path")) snprintf(c->path, sizeof c->path, "%s", v);
        else if (!strcmp(k, "mode")) snprintf(c->mode, sizeof c->mode, "%s", v);
        else if (!strcmp(k, "arg") && c->nargs < MAX_ARGS) {
            c->args[c->nargs] = strdup(v);
            unescape(c->args[c->nargs++]);
        } else break;
    }
    fclose(f);
    return any;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The cases, sorted by name: NAME.expect (side file) or NAME.yaml with a header. */
static size_t load_cases(bad_case_t **out)
{
    DIR *dir = opendir(CORPUS);
    cr_assert_not_null(dir, "cannot open %s", CORPUS);
    char *names[1024];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) && n < 1024) {
        size_t len = strlen(e->d_name);
        char stem[256];
        if (len > 7 && !strcmp(e->d_name + len - 7, ".expect")) {
            snprintf(stem, sizeof stem, "%.*s", (int)(len - 7), e->d_name);
        } else if (len > 5 && !strcmp(e->d_name + len - 5, ".yaml")) {
            char p[1024], x[1024];
            snprintf(p, sizeof p, "%s/%s", CORPUS, e->d_name);
            snprintf(x, sizeof x, "%s/%.*s.expect", CORPUS, (int)(len - 5), e->d_name);
            struct stat st;
            if (stat(p, &st) != 0 || !S_ISREG(st.st_mode) || access(x, F_OK) == 0) continue;
            snprintf(stem, sizeof stem, "%.*s", (int)(len - 5), e->d_name);
        } else {
            continue;
        }
        names[n++] = strdup(stem);
    }
    closedir(dir);
    qsort(names, n, sizeof *names, cmp_str);
    bad_case_t *cs = calloc(n ? n : 1, sizeof *cs);
    for (size_t i = 0; i < n; i++) {
        bad_case_t *c = &cs[i];
        snprintf(c->name, sizeof c->name, "%s", names[i]);
        snprintf(c->where, sizeof c->where, "file");
        snprintf(c->cmd, sizeof c->cmd, "run");
        snprintf(c->path, sizeof c->path, "%s.yaml", names[i]);
        char side[1024], yaml[1024];
        snprintf(side, sizeof side, "%s/%s.expect", CORPUS, names[i]);
        snprintf(yaml, sizeof yaml, "%s/%s.yaml", CORPUS, names[i]);
        bool ok = parse_header(access(side, F_OK) == 0 ? side : yaml, c);
        cr_assert(ok, "case '%s' has no '# expect:' line", names[i]);
        free(names[i]);
    }
    *out = cs;
    return n;
}

static size_t dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

static const char previous[] = "previous trace \x01\x02\xff bytes\n";

/* One run of a case; appends what went wrong to fail (empty: passed). */
static void run_case(const bad_case_t *c, bool preexisting, char *fail, size_t cap)
{
    char dir[1024], out[1100], errf[1100], scen[1100];
    snprintf(dir, sizeof dir, "%s/bad-%s-XXXXXX", RAGSIM_TEST_TMPDIR, c->name);
    cr_assert_not_null(mkdtemp(dir));
    chmod(dir, 0755);
    snprintf(out, sizeof out, "%s/out.h5", dir);
    snprintf(errf, sizeof errf, "%s.stderr", dir);
    snprintf(scen, sizeof scen, "%s/%s", CORPUS, c->path);
    bool drop = !strcmp(c->mode, "unreadable");
    if (drop) {
        /* a copy nobody may read (run as `nobody` when we are root) */
        size_t len = 0;
        char *text = tu_read_file(scen, &len);
        cr_assert_not_null(text);
        snprintf(scen, sizeof scen, "%s/unreadable.yaml", dir);
        FILE *f = fopen(scen, "wb");
        fwrite(text, 1, len, f);
        fclose(f);
        free(text);
        chmod(scen, 0);
    }
    if (preexisting) cr_assert_eq(tu_write_file(out, previous), 0);
    size_t before = dir_entries(dir);

    char *argv[MAX_ARGS + 12];
    int k = 0;
    argv[k++] = (char *)RAGSIM_BINARY;
    argv[k++] = (char *)c->cmd;
    argv[k++] = scen;
    if (strcmp(c->cmd, "validate") != 0) {
        argv[k++] = "-o";
        argv[k++] = out;
        argv[k++] = "--force";   /* the refusal must come from the input, not the existing file */
        argv[k++] = "-q";
    }
    for (int i = 0; i < c->nargs; i++) argv[k++] = c->args[i];
    argv[k] = NULL;
    int st = tu_wait(tu_spawn(argv, errf, 120, drop));
    size_t elen = 0;
    char *err = tu_read_file(errf, &elen);
    if (!err) err = strdup("");
    unlink(errf);

    size_t used = strlen(fail);
#define FAIL(...) (used += (size_t)snprintf(fail + used, used < cap ? cap - used : 0, __VA_ARGS__))
    if (WIFSIGNALED(st)) FAIL("  killed by signal %d\n", WTERMSIG(st));
    else if (WEXITSTATUS(st) != 2) FAIL("  exit status %d, expected 2\n", WEXITSTATUS(st));
    static const char *const crash[] = {"AddressSanitizer", "LeakSanitizer", "runtime error:", "Segmentation", "Aborted", NULL};
    for (int i = 0; crash[i]; i++)
        if (strstr(err, crash[i])) FAIL("  stderr reports a crash ('%s')\n", crash[i]);

    /* the expected message, in the expected form */
    bool found = false;
    for (char *line = err; *line && !found;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        const char *rest = NULL;
        if (!strcmp(c->where, "file") || !strcmp(c->where, "none")) {
            size_t pl = strlen(scen);
            if (!strncmp(line, scen, pl) && line[pl] == ':') rest = line + pl + 1;
        } else if (!strcmp(c->where, "set")) {
            if (!strncmp(line, "--set:", 6)) rest = line + 6;
        } else if (!strncmp(line, "ragsim: error: ", 15)) {
            rest = line;
        }
        if (rest && !strcmp(c->where, "file")) {
            int l = 0, col = 0, nch = 0;
            if (sscanf(rest, "%d:%d: error: %n", &l, &col, &nch) < 2 || nch == 0 || l < 1 || col < 1) rest = NULL;
        } else if (rest && !strcmp(c->where, "set")) {
            int l = 0, col = 0, nch = 0;
            if (sscanf(rest, "%d:%d: error: %n", &l, &col, &nch) < 2 || nch == 0 || l != 1 || col < 1) rest = NULL;
        } else if (rest && !strcmp(c->where, "none")) {
            if (strncmp(rest, " error: ", 8) != 0) rest = NULL;
        }
        found = rest && strstr(rest, c->expect);
        line = nl ? nl + 1 : line + strlen(line);
    }
    if (!found) FAIL("  no '%s' error containing \"%s\"; stderr:\n%s\n", c->where, c->expect, err);

    /* the output: untouched, or still absent; nothing else appeared (no
     * temporary file left behind) */
    if (dir_entries(dir) != before) FAIL("  files were created or removed in the output directory\n");
    if (preexisting) {
        size_t len = 0;
        char *now = tu_read_file(out, &len);
        if (!now || len != sizeof previous - 1 || memcmp(now, previous, len) != 0)
            FAIL("  the pre-existing output file was changed\n");
        free(now);
        unlink(out);
    } else if (access(out, F_OK) == 0) {
        FAIL("  an output file was created\n");
        unlink(out);
    }
    if (drop) {
        char p[1100];
        snprintf(p, sizeof p, "%s/unreadable.yaml", dir);
        unlink(p);
    }
    rmdir(dir);
    free(err);
#undef FAIL
}

Test(bad_inputs, every_case_is_refused_cleanly, .timeout = 3000)
{
    bad_case_t *cs = NULL;
    size_t n = load_cases(&cs);
    size_t cap = 1 << 20, nfail = 0;
    char *report = calloc(cap, 1), *fail = calloc(1 << 16, 1);
    for (size_t i = 0; i < n; i++) {
        for (int pre = 1; pre >= 0; pre--) {
            fail[0] = 0;
            run_case(&cs[i], pre, fail, 1 << 16);
            if (fail[0]) {
                nfail++;
                size_t u = strlen(report);
                snprintf(report + u, cap - u, "%s (%s output):\n%s", cs[i].name, pre ? "existing" : "no", fail);
            }
        }
    }
    cr_log_info("bad-input corpus: %zu cases, each run twice", n);
    cr_assert_eq(nfail, 0, "%zu failing runs of %zu cases:\n%s", nfail, n, report);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < cs[i].nargs; k++) free(cs[i].args[k]);
    free(cs);
    free(report);
    free(fail);
}

/* The corpus covers what it promises: its size and every category. */
Test(bad_inputs, corpus_covers_the_categories)
{
    bad_case_t *cs = NULL;
    size_t n = load_cases(&cs);
    cr_assert_geq(n, 100, "only %zu cases", n);
    static const char *const prefixes[] = {"syntax-", "tab-", "type-", "unknown-", "duplicate-", "missing-",
                                           "value-", "unit-", "ref-", "cycle-", "alias-", "nesting-", "empty",
                                           "binary-", "utf8-", "utf32-", "directory", "missing-file",
                                           "unreadable-file", "set-", "cli-", "impossible-", "name-", "sweep-",
                                           NULL};
    for (int p = 0; prefixes[p]; p++) {
        bool any = false;
        for (size_t i = 0; i < n && !any; i++) any = !strncmp(cs[i].name, prefixes[p], strlen(prefixes[p]));
        cr_expect(any, "no case named %s*", prefixes[p]);
    }
    size_t nset = 0, ncli = 0, nsweep = 0;
    for (size_t i = 0; i < n; i++) {
        nset += !strcmp(cs[i].where, "set");
        ncli += !strcmp(cs[i].where, "cli");
        nsweep += !strcmp(cs[i].cmd, "sweep");
    }
    cr_expect_geq(nset, 10);
    cr_expect_geq(ncli, 10);
    cr_expect_geq(nsweep, 3);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < cs[i].nargs; k++) free(cs[i].args[k]);
    free(cs);
}
