/*
 * Inside the library: the key text of signed notes (NAME+KEYID+BASE64 of
 * the signature type byte and the key), shared by note signers (type 0x01,
 * note.c) and witnesses' cosignature/v1 keys (type 0x04, witness.c).
 */
#ifndef GB_NOTE_INT_H
#define GB_NOTE_INT_H

#include <stdint.h>

#include "gb/note.h"

/* The key ID: the first four bytes of SHA-256(name || '\n' || type ||
 * pub), big-endian. */
uint32_t gb__note_key_id(const char *name, uint8_t type,
    const uint8_t pub[32]);

/* "PREFIXNAME+KEYID+BASE64(type || key)" as a new string. 0, or
 * GB_ENOMEM. */
int gb__note_key_text(const char *prefix, const char *name, uint32_t id,
    uint8_t type, const uint8_t key[32], char **out);

/* Parses "NAME+KEYID+BASE64(type || key)": the name (a signed-note key
 * name), the ID as written and the key. It does not check the ID against
 * the key (the caller knows which key the ID is of). 0 or GB_EINVAL. */
int gb__note_key_parse(const char *s, uint8_t type,
    char name[GB_NOTE_NAME_MAX + 1], uint32_t *id, uint8_t key[32]);

#endif /* GB_NOTE_INT_H */
