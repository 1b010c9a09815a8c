/* bw.c - the guest-side workloads of tools/platbench.py, one static i386 Linux program.
 *
 *   bw forkexec N PATH [ARG...]   fork, execv PATH and wait for it, N times
 *   bw getppid N                  N getppid() system calls
 *   bw run COMMAND                /bin/sh -c COMMAND, once
 *
 * Each prints one line, "bw WHAT N ns NANOSECONDS status S", with the time the work took on the
 * guest's CLOCK_MONOTONIC (platbench.py also times each command from the host and compares).
 * Built with gcc -m32 -static -O2; it runs only inside the guest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}

static int spawn(char *const argv[]) {
  pid_t pid = fork();
  if (pid < 0) {
    perror("bw: fork");
    return -1;
  }
  if (pid == 0) {
    execv(argv[0], argv);
    perror(argv[0]);
    _exit(127);
  }
  int status;
  if (waitpid(pid, &status, 0) < 0) {
    perror("bw: waitpid");
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void usage(void) {
  fprintf(stderr, "usage: bw forkexec N PATH [ARG...] | bw getppid N | bw run COMMAND\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 3)
    usage();
  const char *what = argv[1];
  unsigned long long t0, t1;
  long n = 1;
  int status = 0;
  if (!strcmp(what, "forkexec") && argc >= 4) {
    n = strtol(argv[2], NULL, 0);
    t0 = now_ns();
    for (long i = 0; i < n && status == 0; i++)
      status = spawn(argv + 3);
    t1 = now_ns();
  } else if (!strcmp(what, "getppid") && argc == 3) {
    n = strtol(argv[2], NULL, 0);
    pid_t want = getppid();
    t0 = now_ns();
    for (long i = 0; i < n; i++)
      if (getppid() != want)
        status = 1;
    t1 = now_ns();
  } else if (!strcmp(what, "run") && argc == 3) {
    char *sh[] = {"/bin/sh", "-c", argv[2], NULL};
    t0 = now_ns();
    status = spawn(sh);
    t1 = now_ns();
  } else {
    usage();
  }
  printf("bw %s %ld ns %llu status %d\n", what, n, t1 - t0, status);
  return status != 0;
}
