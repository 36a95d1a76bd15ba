/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fuzz target's entry point, shared by the libFuzzer build and the plain
 * replay driver. */
#ifndef VEVENT_FUZZ_H
#define VEVENT_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
