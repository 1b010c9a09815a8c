/* compute.c - CPU-bound programs as gcc -O2 compiles them, the code benchmarks run: a sieve
 * of Eratosthenes, quicksort, heapsort and merge sort of pseudo-random data (each checked
 * sorted and permutation-preserving), table-driven CRC-32 over megabytes, 64-bit arithmetic
 * through libgcc (division, modulo), an integer matrix product and a hash table. Each prints
 * a result that is checked against the known answer. */
#include "lib/guest.h"

static uint32_t rng_state = 12345;
static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static int failures;

static void check(const char *what, uint64_t got, uint64_t want) {
  printf("%s: %llu %s\n", what, (unsigned long long)got, got == want ? "ok" : "WRONG");
  if (got != want)
    failures++;
}

/* ---- sieve ---- */

#define SIEVE_N 2000000
static uint8_t composite[SIEVE_N + 1];

static void sieve(void) {
  uint32_t count = 0, last = 0;
  for (uint32_t i = 2; i <= SIEVE_N; i++) {
    if (composite[i])
      continue;
    count++;
    last = i;
    for (uint32_t j = i * 2; j <= SIEVE_N; j += i)
      composite[j] = 1;
  }
  check("primes up to 2000000", count, 148933);
  check("largest of them", last, 1999993);
}

/* ---- sorting ---- */

#define SORT_N 200000
static uint32_t data[SORT_N], work[SORT_N], tmp[SORT_N];

static void quicksort(uint32_t *a, int lo, int hi) {
  while (lo < hi) {
    uint32_t p = a[(lo + hi) / 2];
    int i = lo, j = hi;
    while (i <= j) {
      while (a[i] < p)
        i++;
      while (a[j] > p)
        j--;
      if (i <= j) {
        uint32_t t = a[i];
        a[i++] = a[j];
        a[j--] = t;
      }
    }
    if (j - lo < hi - i) {
      quicksort(a, lo, j);
      lo = i;
    } else {
      quicksort(a, i, hi);
      hi = j;
    }
  }
}

static void sift_down(uint32_t *a, int n, int i) {
  for (;;) {
    int c = 2 * i + 1;
    if (c >= n)
      return;
    if (c + 1 < n && a[c + 1] > a[c])
      c++;
    if (a[i] >= a[c])
      return;
    uint32_t t = a[i];
    a[i] = a[c];
    a[c] = t;
    i = c;
  }
}

static void heapsort(uint32_t *a, int n) {
  for (int i = n / 2 - 1; i >= 0; i--)
    sift_down(a, n, i);
  for (int end = n - 1; end > 0; end--) {
    uint32_t t = a[0];
    a[0] = a[end];
    a[end] = t;
    sift_down(a, end, 0);
  }
}

static void merge_sort(uint32_t *a, uint32_t *scratch, int n) {
  for (int width = 1; width < n; width *= 2) {
    for (int lo = 0; lo < n; lo += 2 * width) {
      int mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
      int i = lo, j = mid, k = lo;
      while (i < mid && j < hi)
        scratch[k++] = a[i] <= a[j] ? a[i++] : a[j++];
      while (i < mid)
        scratch[k++] = a[i++];
      while (j < hi)
        scratch[k++] = a[j++];
    }
    memcpy(a, scratch, (size_t)n * sizeof(*a));
  }
}

/* sorted, and the same multiset as the input (sum and xor of a mixing function) */
static int sorted_permutation(const uint32_t *a, uint64_t sum, uint32_t mix) {
  uint64_t s = 0;
  uint32_t m = 0;
  for (int i = 0; i < SORT_N; i++) {
    if (i && a[i - 1] > a[i])
      return 0;
    s += a[i];
    m ^= a[i] * 0x9e3779b1u + (a[i] >> 7);
  }
  return s == sum && m == mix;
}

static void sorting(void) {
  uint64_t sum = 0;
  uint32_t mix = 0;
  for (int i = 0; i < SORT_N; i++) {
    data[i] = rng() % 1000000;
    sum += data[i];
    mix ^= data[i] * 0x9e3779b1u + (data[i] >> 7);
  }
  memcpy(work, data, sizeof(work));
  quicksort(work, 0, SORT_N - 1);
  check("quicksort sorted", (uint64_t)sorted_permutation(work, sum, mix), 1);
  uint32_t median = work[SORT_N / 2];
  memcpy(work, data, sizeof(work));
  heapsort(work, SORT_N);
  check("heapsort sorted", (uint64_t)sorted_permutation(work, sum, mix), 1);
  check("same median", work[SORT_N / 2], median);
  memcpy(work, data, sizeof(work));
  merge_sort(work, tmp, SORT_N);
  check("merge sort sorted", (uint64_t)sorted_permutation(work, sum, mix), 1);
  printf("median %u, sum %llu\n", median, (unsigned long long)sum);
}

/* ---- CRC-32 ---- */

static uint32_t crc_table[256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = (c >> 1) ^ (0xedb88320u & -(c & 1));
    crc_table[i] = c;
  }
}

static uint32_t crc32_table(const uint8_t *p, size_t n, uint32_t crc) {
  crc = ~crc;
  while (n--)
    crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

static void crc(void) {
  crc_init();
  static const char check_string[] = "123456789";
  check("crc32(\"123456789\")", crc32_table((const uint8_t *)check_string, 9, 0), 0xcbf43926);
  uint8_t *buf = composite; /* reuse the sieve's 2 MB */
  for (uint32_t i = 0; i < SIEVE_N; i++)
    buf[i] = (uint8_t)(i * 31 + (i >> 11));
  uint32_t c = 0;
  for (int round = 0; round < 2; round++)
    c = crc32_table(buf, SIEVE_N, c);
  printf("crc32 of 2 x 2 MB: %08x (bitwise: %08x)\n", c,
         crc32_update(crc32_update(0, buf, SIEVE_N), buf, SIEVE_N));
}

/* ---- 64-bit arithmetic, matrices, hashing ---- */

static void arithmetic64(void) {
  uint64_t x = 0x0123456789abcdefull, acc = 0;
  int64_t s = -1234567890123456789ll;
  for (uint32_t i = 1; i < 20000; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    acc += x / (i * 977u + 1) + x % (i + 7);
    s = s / 3 + (int64_t)(x >> 3) % 1000003;
  }
  printf("64-bit: %llx %lld\n", (unsigned long long)acc, (long long)s);
}

#define MAT 64
static int32_t ma[MAT][MAT], mb[MAT][MAT], mc[MAT][MAT];

static void matrices(void) {
  for (int i = 0; i < MAT; i++)
    for (int j = 0; j < MAT; j++) {
      ma[i][j] = (int32_t)(rng() % 201) - 100;
      mb[i][j] = (int32_t)(rng() % 201) - 100;
    }
  for (int r = 0; r < 4; r++)
    for (int i = 0; i < MAT; i++)
      for (int j = 0; j < MAT; j++) {
        int32_t s = 0;
        for (int k = 0; k < MAT; k++)
          s += ma[i][k] * mb[k][j];
        mc[i][j] = s + r;
      }
  int64_t trace = 0;
  for (int i = 0; i < MAT; i++)
    trace += mc[i][i];
  printf("matrix product trace %lld, corner %d\n", (long long)trace, mc[MAT - 1][0]);
}

#define HASH_SIZE 65536
static uint32_t keys[HASH_SIZE], vals[HASH_SIZE];

static void hashing(void) {
  uint32_t inserted = 0, found = 0;
  for (uint32_t i = 0; i < 40000; i++) {
    uint32_t k = rng() | 1, h = (k * 2654435761u) >> 16;
    while (keys[h] && keys[h] != k)
      h = (h + 1) & (HASH_SIZE - 1);
    if (!keys[h])
      inserted++;
    keys[h] = k;
    vals[h] = i;
  }
  rng_state = 777;
  for (uint32_t i = 0; i < 40000; i++) {
    uint32_t k = rng() | 1, h = (k * 2654435761u) >> 16;
    while (keys[h] && keys[h] != k)
      h = (h + 1) & (HASH_SIZE - 1);
    found += keys[h] == k;
  }
  printf("hash table: %u inserted, %u of another 40000 found\n", inserted, found);
}

int main(void) {
  sieve();
  sorting();
  crc();
  arithmetic64();
  matrices();
  hashing();
  printf("%d failures\n", failures);
  return failures;
}
