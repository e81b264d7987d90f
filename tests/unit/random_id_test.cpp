// sio::random_id: every id a client sees or that names a room comes from the OS CSPRNG.
#include <gtest/gtest.h>

#include <array>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sio/common/random_id.hpp"

namespace {
bool url_safe(const std::string& s) {
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  return true;
}
}  // namespace

TEST(RandomId, LengthAndAlphabet) {
  EXPECT_EQ(sio::random_id().size(), 20u);  // 15 bytes, as Engine.IO's and Socket.IO's ids
  for (std::size_t n = 1; n <= 48; ++n) {
    auto id = sio::random_id(n);
    EXPECT_EQ(id.size(), (n * 4 + 2) / 3) << n;
    EXPECT_TRUE(url_safe(id)) << id;
  }
}

TEST(RandomId, NoRepeatsAcrossThreads) {
  std::mutex mutex;
  std::set<std::string> seen;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      for (int i = 0; i < 20000; ++i) mine.push_back(sio::random_id(9));  // 72 bits: a repeat is a bug
      std::lock_guard lock(mutex);
      seen.insert(mine.begin(), mine.end());
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(seen.size(), 80000u);
}

// Every character position takes all 64 values about equally often (a coarse check that the
// bytes are used whole: a generator that, say, zeroed a byte would fail it).
TEST(RandomId, CharactersAreUniform) {
  constexpr int ids = 64 * 400;
  std::array<std::array<int, 128>, 20> counts{};
  for (int i = 0; i < ids; ++i) {
    auto id = sio::random_id();
    for (std::size_t p = 0; p < id.size(); ++p) ++counts[p][static_cast<unsigned char>(id[p])];
  }
  for (std::size_t p = 0; p < 20; ++p) {
    int distinct = 0;
    for (int c : counts[p]) {
      if (c == 0) continue;
      ++distinct;
      EXPECT_GT(c, 400 / 2) << "position " << p;  // expected 400 each; 200 is > 10 sigma away
      EXPECT_LT(c, 400 * 2) << "position " << p;
    }
    EXPECT_EQ(distinct, 64) << "position " << p;
  }
}

TEST(RandomBytes, LargerThanTheReserve) {
  std::vector<unsigned char> a(1000), b(1000);
  sio::random_bytes(a.data(), a.size());
  sio::random_bytes(b.data(), b.size());
  EXPECT_NE(a, b);
}
