/* Child processes for the test harnesses: see spawn.h. fork+exec rather than posix_spawn
 * because the child has to put itself into a new process group before exec. */
#include "spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* In the child between fork and exec: only async-signal-safe calls, and _exit on failure
 * with a status the harnesses never expect from nnzc. */
static void redirect(int fd, const char *path, int flags)
{
	int f = open(path ? path : "/dev/null", flags, 0644);
	if (f < 0 || dup2(f, fd) < 0)
		_exit(127);
	if (f != fd)
		close(f);
}

int child_start(Child *c, char *const argv[], const char *out_path, const char *err_path, double timeout)
{
	/* Whatever the parent buffered must not be written twice. */
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		setpgid(0, 0);
		redirect(0, "/dev/null", O_RDONLY);
		redirect(1, out_path, O_WRONLY | O_CREAT | O_TRUNC);
		redirect(2, err_path, O_WRONLY | O_CREAT | O_TRUNC);
		execv(argv[0], argv);
		_exit(127);
	}
	/* Also from the parent, so that a kill(-pid) right after fork cannot miss the group. */
	setpgid(pid, pid);
	c->pid = pid;
	c->start = now_seconds();
	c->timeout = timeout;
	return 0;
}

static void fill_result(int st, const Child *c, ChildResult *r)
{
	memset(r, 0, sizeof *r);
	r->seconds = now_seconds() - c->start;
	if (WIFEXITED(st)) {
		r->exited = true;
		r->status = WEXITSTATUS(st);
	} else if (WIFSIGNALED(st)) {
		r->signal = WTERMSIG(st);
	}
}

int child_poll(Child *c, ChildResult *r)
{
	int st;
	pid_t w = waitpid(c->pid, &st, WNOHANG);
	if (w < 0)
		return errno == EINTR ? 0 : -1;
	if (w == c->pid) {
		fill_result(st, c, r);
		return 1;
	}
	if (c->timeout > 0 && now_seconds() - c->start > c->timeout) {
		/* The child is not reaped yet, so its group id cannot belong to anyone else. */
		kill(-c->pid, SIGKILL);
		while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
			;
		fill_result(st, c, r);
		r->timed_out = true;
		return 1;
	}
	return 0;
}

int child_run(char *const argv[], const char *out_path, const char *err_path, double timeout, ChildResult *r)
{
	Child c;
	if (child_start(&c, argv, out_path, err_path, timeout) < 0)
		return -1;
	/* Poll with a short sleep: simple, and the harnesses' children run for milliseconds to
	 * minutes, so 2 ms of latency does not matter. */
	for (;;) {
		int rc = child_poll(&c, r);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
}

void child_describe(const ChildResult *r, char *buf, size_t cap)
{
	if (r->timed_out)
		snprintf(buf, cap, "timeout after %.0f s", r->seconds);
	else if (r->exited)
		snprintf(buf, cap, "exit %d", r->status);
	else
		snprintf(buf, cap, "signal %d (%s)", r->signal, strsignal(r->signal));
}

char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf != NULL) {
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (n + 1 < cap)
			break;
		char *nb = realloc(buf, cap * 2);
		if (nb == NULL) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	fclose(f);
	if (buf == NULL)
		return NULL;
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

int count_lines(const char *text)
{
	int n = 0;
	const char *p = text;
	for (; *p; p++)
		if (*p == '\n')
			n++;
	if (p > text && p[-1] != '\n')
		n++;
	return n;
}

void last_line(const char *text, char *buf, size_t cap)
{
	size_t end = strlen(text);
	while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r' || text[end - 1] == ' '))
		end--;
	size_t begin = end;
	while (begin > 0 && text[begin - 1] != '\n')
		begin--;
	size_t n = end - begin;
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, text + begin, n);
	buf[n] = '\0';
}

void remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *dir = opendir(path);
		if (dir != NULL) {
			struct dirent *e;
			while ((e = readdir(dir)) != NULL) {
				if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
					continue;
				char sub[4096];
				snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
				remove_tree(sub);
			}
			closedir(dir);
		}
		rmdir(path);
	} else {
		unlink(path);
	}
}
