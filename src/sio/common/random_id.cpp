#include "sio/common/random_id.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sio {

namespace {

// getrandom(2) costs a system call; ids are made on every connection. Each thread keeps a small
// reserve of CSPRNG output and hands it out once: the bytes are as unpredictable as the
// kernel's, and no byte is ever used twice.
struct reserve {
  unsigned char bytes[256];
  std::size_t used = sizeof bytes;  // empty
};

void fill_from_kernel(unsigned char* out, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    auto r = ::getrandom(out + got, n - got, 0);
    if (r > 0) {
      got += static_cast<std::size_t>(r);
    } else if (r < 0 && errno != EINTR) {
      // Only without the system call (Linux < 3.17): nothing safe to fall back to.
      throw std::runtime_error(std::string("getrandom failed: ") + std::strerror(errno));
    }
  }
}

}  // namespace

void random_bytes(unsigned char* out, std::size_t n) {
  thread_local reserve r;
  if (n > sizeof r.bytes) return fill_from_kernel(out, n);
  if (sizeof r.bytes - r.used < n) {
    fill_from_kernel(r.bytes, sizeof r.bytes);
    r.used = 0;
  }
  std::memcpy(out, r.bytes + r.used, n);
  std::memset(r.bytes + r.used, 0, n);  // handed out once: not left behind for a later reader of memory
  r.used += n;
}

std::string random_id(std::size_t n) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  unsigned char bytes[48];
  if (n > sizeof bytes) n = sizeof bytes;
  random_bytes(bytes, n);
  std::string id;
  id.reserve((n * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    unsigned v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    id += alphabet[(v >> 18) & 63];
    id += alphabet[(v >> 12) & 63];
    id += alphabet[(v >> 6) & 63];
    id += alphabet[v & 63];
  }
  if (n - i == 1) {
    unsigned v = bytes[i] << 16;
    id += alphabet[(v >> 18) & 63];
    id += alphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    unsigned v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    id += alphabet[(v >> 18) & 63];
    id += alphabet[(v >> 12) & 63];
    id += alphabet[(v >> 6) & 63];
  }
  return id;
}

}  // namespace sio
