#pragma once
// Ids that clients see or that name rooms (Engine.IO session ids, Socket.IO socket ids, the chat
// service's conversation and file ids) must not be guessable: knowing one must tell nothing
// about the next. They all come from here, from the operating system's CSPRNG (getrandom(2)).
//
//   sio::random_id()     // "mT0s7iJ3fVgkq8z_y-2P": 20 url-safe characters, 120 random bits
//   sio::random_id(12)   // 16 characters, 96 bits
//
// Thread-safe. Never blocks once the kernel's pool is initialised (early boot only).
#include <cstddef>
#include <string>

namespace sio {

// `random_bytes` bytes from the OS CSPRNG, in unpadded base64url (RFC 4648 §5): 4 characters
// per 3 bytes, so a multiple of 3 gives no partial character. `random_bytes` at most 48.
std::string random_id(std::size_t random_bytes = 15);

// Fills `out` with `n` bytes from the OS CSPRNG.
void random_bytes(unsigned char* out, std::size_t n);

}  // namespace sio
