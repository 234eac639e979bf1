/*
 * fuzz_wire.c - libFuzzer on the message codec (wire.h): any bytes, taken
 * as a result header, slots and data against a fixed job, are accepted or
 * refused without reading out of bounds; and what is accepted describes
 * exactly the bytes that came with it, as the receiver will trust.
 */
#include "wire.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tf__wire_result h;
    if (size < sizeof h + 1)
        return 0;
    const tf__job job = {data[0] % 8, 1 + data[0] / 32, 1, NULL};
    memcpy(&h, data + 1, sizeof h);
    data += 1 + sizeof h;
    size -= 1 + sizeof h;
    if (tf__wire_check_header(&h, &job) != 0)
        return 0;
    /* As a receiver does: only now are the slots' bytes read. */
    size_t slot_bytes = h.count * sizeof(tf__slot);
    if (size < slot_bytes)
        return 0;
    tf__slot *slots = malloc(slot_bytes);
    memcpy(slots, data, slot_bytes);
    int end_at_failure = (int)(h.start & 1);
    if (tf__wire_check_slots(&h, slots, &job, end_at_failure) == 0) {
        size_t total = 0;
        for (uint64_t i = 0; i < h.count; i++) {
            if (slots[i].off != total)
                abort(); /* accepted, yet not contiguous */
            total += slots[i].len;
        }
        if (total != h.len)
            abort(); /* accepted, yet not the message's length */
    }
    free(slots);
    return 0;
}
