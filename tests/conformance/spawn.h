/* Child processes for the black-box test harnesses (conformance, hostile, e2e): start nnzc
 * with its output captured to files, wait for it with a time limit, and read what it said.
 *
 * Each child runs in its own process group, so that a timeout kills the child and anything it
 * started, and nothing else. */
#ifndef NNZC_TEST_SPAWN_H
#define NNZC_TEST_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct ChildResult {
	bool exited;    /* terminated normally; status is valid */
	int status;     /* exit status */
	int signal;     /* terminating signal, 0 if none */
	bool timed_out; /* killed by us after the time limit */
	double seconds; /* wall time */
} ChildResult;

typedef struct Child {
	pid_t pid;
	double start;
	double timeout;
} Child;

/* Start argv (argv[0] is a path, argv NULL-terminated) with stdin from /dev/null and stdout,
 * stderr into the given files (NULL: /dev/null). 0 on success, -1 (errno set) on failure. */
int child_start(Child *c, char *const argv[], const char *out_path, const char *err_path, double timeout);
/* 1 and *r filled if the child has finished (or was killed for its time limit), 0 if it is still
 * running, -1 on a waitpid error. Never blocks. */
int child_poll(Child *c, ChildResult *r);
/* child_start + wait. */
int child_run(char *const argv[], const char *out_path, const char *err_path, double timeout, ChildResult *r);
/* "exit 1", "signal 11 (Segmentation fault)", "timeout after 60 s" */
void child_describe(const ChildResult *r, char *buf, size_t cap);

double now_seconds(void);
/* Whole file, NUL-terminated, malloc'd; NULL if unreadable. *len may be NULL. */
char *slurp(const char *path, size_t *len);
/* Number of lines of text (a last line without '\n' counts). */
int count_lines(const char *text);
/* The last non-empty line of text into buf (truncated to cap-1 bytes); "" if none. */
void last_line(const char *text, char *buf, size_t cap);
/* rm -r, for the harnesses' own temporary directories only. */
void remove_tree(const char *path);

#endif
