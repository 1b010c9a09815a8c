/* test_console.c - serial backends: -serial parsing, the pipe/file backend and its reader
 * thread, flow control into the frontend, Ctrl-A escape keys, and the stdio backend's
 * terminal handling on a pseudo-terminal (raw while running; restored at exit, on a fatal
 * signal, and on Ctrl-A x). */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "devices/console.h"

/* ---- -serial ------------------------------------------------------------------------------ */

START_TEST(parses_the_supported_spellings) {
  struct chardev_spec s;
  char err[200];
  ck_assert_int_eq(chardev_parse("stdio", &s, err, sizeof(err)), 0);
  ck_assert_int_eq(s.kind, CHARDEV_STDIO);
  ck_assert(s.signals);
  ck_assert_int_eq(chardev_parse("stdio,signal=off", &s, err, sizeof(err)), 0);
  ck_assert_int_eq(s.kind, CHARDEV_STDIO);
  ck_assert(!s.signals);
  ck_assert_int_eq(chardev_parse("mon:stdio", &s, err, sizeof(err)), 0);
  ck_assert_int_eq(s.kind, CHARDEV_STDIO);
  ck_assert(!s.signals);
  ck_assert_int_eq(chardev_parse("file:/tmp/serial.log", &s, err, sizeof(err)), 0);
  ck_assert_int_eq(s.kind, CHARDEV_FILE);
  ck_assert_str_eq(s.path, "/tmp/serial.log");
  ck_assert_int_eq(chardev_parse("null", &s, err, sizeof(err)), 0);
  ck_assert_int_eq(s.kind, CHARDEV_NULL);
  ck_assert_int_eq(chardev_parse("none", &s, err, sizeof(err)), 0);
  ck_assert_int_eq(s.kind, CHARDEV_NONE);
  ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(refuses_the_rest_with_a_message) {
  static const char *const unsupported[] = {"pipe:/tmp/fifo", "tcp::4444,server", "pty", "vc",
                                            "telnet:localhost:4321", "unix:/tmp/s",
                                            "udp::5555", "/dev/ttyS0", "mon:pty",
                                            "chardev:ser0", "msmouse"};
  struct chardev_spec s;
  char err[200];
  for (size_t i = 0; i < sizeof(unsupported) / sizeof(*unsupported); i++) {
    ck_assert_int_eq(chardev_parse(unsupported[i], &s, err, sizeof(err)), -ENOTSUP);
    ck_assert_ptr_nonnull(strstr(err, unsupported[i]));
    ck_assert_ptr_nonnull(strstr(err, "file:PATH"));
  }
  static const char *const wrong[] = {"file:", "stdio,signal=maybe", "stdio,echo=on", "stdin",
                                      "", "STDIO", "nul"};
  for (size_t i = 0; i < sizeof(wrong) / sizeof(*wrong); i++) {
    ck_assert_int_eq(chardev_parse(wrong[i], &s, err, sizeof(err)), -EINVAL);
    ck_assert_uint_gt(strlen(err), 10);
  }
  ck_assert_int_eq(chardev_parse("pty", &s, NULL, 0), -ENOTSUP);
}
END_TEST

/* ---- a frontend that records, and a host that counts ---------------------------------------- */

static struct chardev chr;
static uint16_t got[20000]; /* bytes, or 0x100 | event */
static size_t ngot, room = 64;
static int kicks, quits;
static pthread_mutex_t kick_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kicked = PTHREAD_COND_INITIALIZER;

static size_t fe_room(void *o) {
  (void)o;
  return room;
}

static void fe_receive(void *o, const uint8_t *buf, size_t len) {
  (void)o;
  ck_assert_uint_le(len, room);
  for (size_t i = 0; i < len; i++)
    got[ngot++] = buf[i];
}

static void fe_event(void *o, enum chardev_event ev) {
  (void)o;
  got[ngot++] = 0x100 | ev;
}

static void host_kick(void *o) {
  (void)o;
  pthread_mutex_lock(&kick_lock);
  kicks++;
  pthread_cond_broadcast(&kicked);
  pthread_mutex_unlock(&kick_lock);
}

static void host_quit(void *o) {
  (void)o;
  quits++;
}

static void attach(void) {
  ngot = 0;
  room = 64;
  kicks = quits = 0;
  chardev_set_frontend(&chr, &(struct chardev_frontend){fe_room, fe_receive, fe_event, NULL});
  chardev_set_host(&chr, &(struct chardev_host){host_kick, host_quit, NULL});
}

/* Poll like the run loop until n entries arrived (or two seconds passed). */
static void poll_until(size_t n) {
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  end.tv_sec += 2;
  while (ngot < n) {
    if (chardev_poll(&chr))
      continue;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ck_assert_msg(now.tv_sec < end.tv_sec || (now.tv_sec == end.tv_sec &&
                                              now.tv_nsec < end.tv_nsec),
                  "only %zu of %zu entries arrived", ngot, n);
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
}

static void write_str(int fd, const char *s) {
  ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static char *read_file(const char *path) {
  static char buf[4096];
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

/* ---- the fd backend ------------------------------------------------------------------------- */

START_TEST(pipe_input_arrives_through_the_reader_thread) {
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  char path[] = "/tmp/bt386-console-XXXXXX";
  int out = mkstemp(path);
  ck_assert_int_ge(out, 0);
  ck_assert_int_eq(chardev_init_fd(&chr, p[0], out, CHARDEV_FD_CLOSE), 0);
  attach();
  write_str(p[1], "hello\001x");
  poll_until(7);
  pthread_mutex_lock(&kick_lock);
  ck_assert_int_gt(kicks, 0);
  pthread_mutex_unlock(&kick_lock);
  ck_assert_int_eq(quits, 0); /* no escape keys on this backend */
  const char *want = "hello\001x";
  for (size_t i = 0; i < 7; i++)
    ck_assert_uint_eq(got[i], (uint8_t)want[i]);

  ck_assert_int_eq(chardev_write(&chr, (const uint8_t *)"to the file", 11), 11);
  ck_assert_uint_eq(chr.out_bytes, 11);
  close(p[1]); /* end of input: the reader stops, exit still joins it */
  chardev_exit(&chr);
  ck_assert_str_eq(read_file(path), "to the file");
  unlink(path);
}
END_TEST

START_TEST(input_waits_while_the_frontend_is_full) {
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  ck_assert_int_eq(chardev_init_fd(&chr, p[0], -1, CHARDEV_FD_CLOSE), 0);
  attach();
  room = 0;
  write_str(p[1], "abc");
  pthread_mutex_lock(&kick_lock);
  while (!kicks)
    pthread_cond_wait(&kicked, &kick_lock);
  pthread_mutex_unlock(&kick_lock);
  ck_assert(chardev_pending(&chr));
  ck_assert(!chardev_poll(&chr));
  ck_assert_uint_eq(ngot, 0);
  room = 1;
  poll_until(3);
  ck_assert_uint_eq(got[0], 'a');
  ck_assert_uint_eq(got[2], 'c');
  ck_assert(!chardev_pending(&chr));
  close(p[1]);
  chardev_exit(&chr);
}
END_TEST

static void *pusher(void *arg) {
  (void)arg;
  uint8_t b[10000];
  for (int i = 0; i < 10000; i++)
    b[i] = (uint8_t)(i * 7);
  return (void *)(intptr_t)chardev_push_input(&chr, b, sizeof(b));
}

/* More than the queue holds: the producer blocks until the vCPU side drains. */
START_TEST(a_full_queue_holds_the_producer_back) {
  ck_assert_int_eq(chardev_init_fd(&chr, -1, -1, 0), 0);
  attach();
  room = 7;
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, pusher, NULL), 0);
  poll_until(10000);
  void *ret;
  pthread_join(t, &ret);
  ck_assert_int_eq((int)(intptr_t)ret, 0);
  for (int i = 0; i < 10000; i++)
    ck_assert_uint_eq(got[i], (uint8_t)(i * 7));
  chardev_exit(&chr);
}
END_TEST

START_TEST(escape_keys) {
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  char path[] = "/tmp/bt386-console-XXXXXX";
  int out = mkstemp(path);
  ck_assert_int_ge(out, 0);
  ck_assert_int_eq(chardev_init_fd(&chr, p[0], out, CHARDEV_FD_CLOSE | CHARDEV_FD_ESCAPES), 0);
  attach();
  /* Ctrl-A Ctrl-A, a, Ctrl-A b (break), Ctrl-A z (unknown: swallowed), Ctrl-A h (help),
   * then b, Ctrl-A c (no monitor), then Ctrl-A x (quit). */
  write_str(p[1], "\001\001a\001b\001z\001hb\001c");
  poll_until(4);
  ck_assert_uint_eq(ngot, 4);
  ck_assert_uint_eq(got[0], 0x01);
  ck_assert_uint_eq(got[1], 'a');
  ck_assert_uint_eq(got[2], 0x100 | CHARDEV_BREAK);
  ck_assert_uint_eq(got[3], 'b');
  ck_assert_int_eq(quits, 0);
  /* An escape split across two reads still counts. */
  write_str(p[1], "\001");
  struct timespec ms = {0, 20000000};
  nanosleep(&ms, NULL);
  write_str(p[1], "x");
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  while (!quits) {
    chardev_poll(&chr);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ck_assert_int_le(now.tv_sec, end.tv_sec + 2);
    nanosleep(&ms, NULL);
  }
  ck_assert_int_eq(quits, 1);
  ck_assert_uint_eq(ngot, 4);
  close(p[1]);
  chardev_exit(&chr);
  const char *text = read_file(path);
  ck_assert_ptr_nonnull(strstr(text, "escape keys"));
  ck_assert_ptr_nonnull(strstr(text, "no monitor"));
  unlink(path);
}
END_TEST

START_TEST(file_and_null_backends) {
  char path[] = "/tmp/bt386-console-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  write_str(fd, "old contents");
  close(fd);
  char arg[64];
  snprintf(arg, sizeof(arg), "file:%s", path);
  struct chardev_spec spec;
  ck_assert_int_eq(chardev_parse(arg, &spec, NULL, 0), 0);
  ck_assert_int_eq(chardev_init(&chr, &spec), 0);
  ck_assert(!chr.reader_running); /* output only */
  ck_assert_int_eq(chardev_write(&chr, (const uint8_t *)"boot\r\n", 6), 6);
  chardev_exit(&chr);
  ck_assert_str_eq(read_file(path), "boot\r\n"); /* truncated, then written */
  unlink(path);

  ck_assert_int_eq(chardev_parse("null", &spec, NULL, 0), 0);
  ck_assert_int_eq(chardev_init(&chr, &spec), 0);
  ck_assert_int_eq(chardev_write(&chr, (const uint8_t *)"gone", 4), 4);
  ck_assert(!chardev_poll(&chr));
  chardev_exit(&chr);

  ck_assert_int_eq(chardev_parse("file:/nonexistent-dir/x", &spec, NULL, 0), 0);
  ck_assert_int_eq(chardev_init(&chr, &spec), -ENOENT);
  ck_assert_int_eq(chardev_parse("none", &spec, NULL, 0), 0);
  ck_assert_int_eq(chardev_init(&chr, &spec), -EINVAL);
}
END_TEST

/* stdio on a pipe (not a terminal): reads standard input, writes standard output, takes the
 * escape keys, and there is only one. */
START_TEST(stdio_backend_on_pipes) {
  int saved_in = dup(0), saved_out = dup(1);
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  char path[] = "/tmp/bt386-console-XXXXXX";
  int out = mkstemp(path);
  dup2(p[0], 0);
  dup2(out, 1);
  close(p[0]);
  close(out);
  struct chardev_spec spec;
  ck_assert_int_eq(chardev_parse("stdio", &spec, NULL, 0), 0);
  ck_assert_int_eq(chardev_init(&chr, &spec), 0);
  struct chardev second;
  ck_assert_int_eq(chardev_init(&second, &spec), -EBUSY);
  attach();
  write_str(p[1], "in\001\001");
  poll_until(3);
  ck_assert_uint_eq(got[2], 0x01);
  ck_assert_int_eq(chardev_write(&chr, (const uint8_t *)"out", 3), 3);
  close(p[1]);
  chardev_exit(&chr);
  /* Released: a stdio chardev may be made again (its input is at end of file by now). */
  ck_assert_int_eq(chardev_init(&chr, &spec), 0);
  chardev_exit(&chr);
  dup2(saved_in, 0);
  dup2(saved_out, 1);
  close(saved_in);
  close(saved_out);
  ck_assert_str_eq(read_file(path), "out");
  unlink(path);
}
END_TEST

/* ---- stdio on a pseudo-terminal ------------------------------------------------------------- */

enum how_to_end { END_EXIT, END_SIGTERM, END_CTRL_A_X, END_CHARDEV_EXIT };

static int pty_master(char *name, size_t len) {
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  ck_assert_int_ge(m, 0);
  ck_assert_int_eq(grantpt(m), 0);
  ck_assert_int_eq(unlockpt(m), 0);
  ck_assert_int_eq(ptsname_r(m, name, len), 0);
  return m;
}

/* A child in its own session with the pty's slave as controlling terminal and stdio; it
 * opens a stdio chardev, says "ready" on the pipe, and ends as told. */
static pid_t spawn_stdio_child(const char *slave, int ready_fd, enum how_to_end how,
                               bool signals) {
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid)
    return pid;
  /* As in bt386: default dispositions (Check's runner handles SIGINT and SIGTERM itself, and
   * a stdio chardev leaves signals alone that someone else handles). */
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  setsid();
  int s = open(slave, O_RDWR); /* becomes the controlling terminal */
  if (s < 0)
    _exit(90);
  dup2(s, 0);
  dup2(s, 1);
  struct chardev c;
  struct chardev_spec spec = {.kind = CHARDEV_STDIO, .signals = signals};
  if (chardev_init(&c, &spec) < 0)
    _exit(91);
  if (write(ready_fd, "r", 1) != 1)
    _exit(92);
  char cmd;
  if (read(ready_fd, &cmd, 1) != 1) /* wait until the parent looked at the terminal */
    _exit(93);
  switch (how) {
  case END_EXIT:
    exit(0); /* no chardev_exit: the atexit hook restores */
  case END_SIGTERM:
    raise(SIGTERM);
    _exit(94);
  case END_CTRL_A_X:
    for (;;) /* no quit callback: the reader thread ends the process */
      pause();
  case END_CHARDEV_EXIT:
    chardev_exit(&c);
    if (tcgetattr(0, &(struct termios){0}) < 0)
      _exit(95);
    _exit(0);
  }
  _exit(96);
}

static void run_pty_case(enum how_to_end how, bool signals) {
  char slave[128];
  int m = pty_master(slave, sizeof(slave));
  int s = open(slave, O_RDWR | O_NOCTTY);
  ck_assert_int_ge(s, 0);
  struct termios before, during, after;
  ck_assert_int_eq(tcgetattr(s, &before), 0);
  ck_assert(before.c_lflag & ICANON);
  ck_assert(before.c_lflag & ECHO);
  int sp[2];
  ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
  pid_t pid = spawn_stdio_child(slave, sp[1], how, signals);
  char c;
  ck_assert_int_eq(read(sp[0], &c, 1), 1);
  ck_assert_int_eq(tcgetattr(s, &during), 0);
  ck_assert(!(during.c_lflag & (ICANON | ECHO)));
  ck_assert(!(during.c_iflag & ICRNL));
  ck_assert(during.c_oflag & OPOST);
  ck_assert_int_eq(!!(during.c_lflag & ISIG), signals);
  ck_assert_int_eq(write(sp[0], "go", 1), 1);
  if (how == END_CTRL_A_X)
    write_str(m, "\001x");
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  switch (how) {
  case END_SIGTERM:
    ck_assert(WIFSIGNALED(status));
    ck_assert_int_eq(WTERMSIG(status), SIGTERM);
    break;
  case END_CTRL_A_X:
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 1);
    break;
  default:
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
  }
  ck_assert_int_eq(tcgetattr(s, &after), 0);
  ck_assert_uint_eq(after.c_lflag, before.c_lflag);
  ck_assert_uint_eq(after.c_iflag, before.c_iflag);
  ck_assert_uint_eq(after.c_oflag, before.c_oflag);
  close(sp[0]);
  close(sp[1]);
  close(s);
  close(m);
}

START_TEST(terminal_is_raw_while_running_and_restored_at_exit) {
  run_pty_case(END_EXIT, true);
}
END_TEST

START_TEST(terminal_is_restored_on_a_fatal_signal) { run_pty_case(END_SIGTERM, false); }
END_TEST

START_TEST(terminal_is_restored_by_ctrl_a_x) { run_pty_case(END_CTRL_A_X, false); }
END_TEST

START_TEST(terminal_is_restored_by_chardev_exit) { run_pty_case(END_CHARDEV_EXIT, true); }
END_TEST

int main(void) {
  Suite *s = suite_create("console");
  TCase *parse = tcase_create("parse");
  tcase_add_test(parse, parses_the_supported_spellings);
  tcase_add_test(parse, refuses_the_rest_with_a_message);
  suite_add_tcase(s, parse);
  TCase *fd = tcase_create("backends");
  tcase_add_test(fd, pipe_input_arrives_through_the_reader_thread);
  tcase_add_test(fd, input_waits_while_the_frontend_is_full);
  tcase_add_test(fd, a_full_queue_holds_the_producer_back);
  tcase_add_test(fd, escape_keys);
  tcase_add_test(fd, file_and_null_backends);
  tcase_add_test(fd, stdio_backend_on_pipes);
  suite_add_tcase(s, fd);
  TCase *tty = tcase_create("terminal");
  tcase_add_test(tty, terminal_is_raw_while_running_and_restored_at_exit);
  tcase_add_test(tty, terminal_is_restored_on_a_fatal_signal);
  tcase_add_test(tty, terminal_is_restored_by_ctrl_a_x);
  tcase_add_test(tty, terminal_is_restored_by_chardev_exit);
  suite_add_tcase(s, tty);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
