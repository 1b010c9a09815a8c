/* userprog.c - a static i386 glibc program for the Linux boot test.
 *
 * busybox alone exercises little of what ordinary programs do to the guest's address spaces:
 * glibc's start-up (TLS through set_thread_area and %gs, IRELATIVE relocations), big
 * allocations that glibc serves with mmap, copy-on-write after fork, data streamed through a
 * pipe between two processes (an address-space switch per buffer), and exec. Each of those
 * takes a different path through bt386's host views on mov cr3, so a wrong mapping shows here
 * as a SIGSEGV or a wrong checksum.
 *
 *     userprog MIB SEED     prints "userprog: crc32=XXXXXXXX pipe=XXXXXXXX cow=ok exec=ok tls=ok"
 *
 * crc32 is zlib's CRC-32 of MIB MiB of xorshift32(SEED) output (boot_test.py computes it on the
 * host); pipe is the same CRC computed over what a forked child sent back through a pipe after
 * it overwrote its copy-on-write copy of the buffer and restored it. Any inconsistency prints
 * "userprog: FAIL ..." and exits with status 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static __thread int tls_value = 1234;

static void fail(const char *what)
{
	printf("userprog: FAIL %s\n", what);
	exit(1);
}

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	static uint32_t table[256];
	if (!table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = (c >> 1) ^ (0xEDB88320u & -(c & 1));
			table[i] = c;
		}
	}
	crc = ~crc;
	while (n--)
		crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
	return ~crc;
}

static void fill(uint32_t *words, size_t count, uint32_t seed)
{
	uint32_t x = seed;
	for (size_t i = 0; i < count; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		words[i] = x;
	}
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n < 4096 ? n : 4096);  /* a switch per page or so */
		if (w <= 0)
			fail("pipe write");
		p += w;
		n -= (size_t)w;
	}
}

/* The child: overwrite its copy (copy-on-write), restore it, stream it to the parent. */
static void child(uint8_t *buf, size_t size, uint32_t seed, int fd)
{
	memset(buf, 0x5A, size);
	fill((uint32_t *)buf, size / 4, seed);
	write_all(fd, buf, size);
	_exit(0);
}

static uint32_t through_pipe(uint8_t *buf, size_t size, uint32_t seed)
{
	int fds[2];
	if (pipe(fds))
		fail("pipe");
	pid_t pid = fork();
	if (pid < 0)
		fail("fork");
	if (pid == 0) {
		close(fds[0]);
		child(buf, size, seed, fds[1]);
	}
	close(fds[1]);
	uint8_t *got = malloc(size);
	if (!got)
		fail("malloc for the pipe");
	size_t have = 0;
	ssize_t r;
	while (have < size && (r = read(fds[0], got + have, size - have)) > 0)
		have += (size_t)r;
	close(fds[0]);
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("the pipe child did not exit cleanly");
	if (have != size)
		fail("short pipe");
	uint32_t crc = crc32_update(0, got, size);
	free(got);
	return crc;
}

/* exec: a child runs this program again with "exec N"; it exits with N + its TLS value. */
static void check_exec(const char *self)
{
	pid_t pid = fork();
	if (pid < 0)
		fail("fork for exec");
	if (pid == 0) {
		execl(self, self, "exec", "7", (char *)NULL);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		fail("the exec child did not exit");
	if (WEXITSTATUS(status) != (7 + 1234) % 256)
		fail("the exec child's exit status");
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "exec"))
		return (atoi(argv[2]) + tls_value) % 256;
	if (argc != 3)
		fail("usage: userprog MIB SEED");
	size_t size = (size_t)atoi(argv[1]) << 20;
	uint32_t seed = (uint32_t)strtoul(argv[2], NULL, 0);
	if (!size || !seed)
		fail("MIB and SEED must not be 0");

	if (tls_value != 1234)
		fail("TLS initial value");
	tls_value++;

	uint8_t *buf = malloc(size);  /* glibc maps this with mmap */
	if (!buf)
		fail("malloc");
	fill((uint32_t *)buf, size / 4, seed);
	uint32_t crc = crc32_update(0, buf, size);

	uint32_t piped = through_pipe(buf, size, seed);
	if (crc32_update(0, buf, size) != crc)
		fail("the child's writes reached the parent's copy (copy-on-write)");
	if (piped != crc)
		fail("what came through the pipe differs from the buffer");
	check_exec(argv[0]);
	if (tls_value != 1235)
		fail("TLS value after fork and exec");

	printf("userprog: crc32=%08x pipe=%08x cow=ok exec=ok tls=ok\n", crc, piped);
	return 0;
}
