/* hello.c - the smallest test kernel: print and exit. */
#include "lib/guest.h"

int main(void) {
  printf("hello from bt386 guest %d %x\n", 42, 0xbeef);
  return 0;
}
