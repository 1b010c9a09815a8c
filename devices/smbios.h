/* smbios.h - the SMBIOS (DMI) tables a PC BIOS leaves for the operating system (DMTF SMBIOS
 * 2.8, DSP0134): a 2.1-style entry point ("_SM_" with its "_DMI_" part) in the BIOS area,
 * where kernels scan for it on a 16-byte boundary, and the structure table after it: BIOS
 * information (type 0), system information (type 1) and the end-of-table marker (type 127).
 * Linux names the machine from them ("DMI: bt386 bt386 PC, BIOS ...") and matches its quirk
 * tables against them; without them it says "DMI not present or invalid".
 *
 * Usage:
 *   smbios_build(mmu_phys_ptr(&m->mmu, SMBIOS_ADDR, SMBIOS_SIZE), SMBIOS_SIZE, SMBIOS_ADDR); */
#ifndef BT386_SMBIOS_H
#define BT386_SMBIOS_H

#include <stddef.h>
#include <stdint.h>

/* After the MP tables (mptable.h) in the BIOS area 0xF0000-0xFFFFF. */
#define SMBIOS_ADDR 0xf0400u
#define SMBIOS_SIZE 0x200u

/* Write the entry point and the structure table at buf (guest physical address phys).
 * Returns the bytes used, or -ENOSPC if size is too small. */
int smbios_build(uint8_t *buf, size_t size, uint32_t phys);

#endif
