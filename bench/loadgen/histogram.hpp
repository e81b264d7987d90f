#pragma once
// A log-linear latency histogram (HdrHistogram's layout, simplified): 128 linear sub-buckets
// per power of two, so a percentile is within 1% of the true value. Fixed size, no allocation
// on record(), mergeable: each generator thread keeps its own and they are summed at the end.
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace bench {

class histogram {
 public:
  static constexpr int sub_bits = 7;
  static constexpr std::uint64_t sub_count = 1u << sub_bits;
  static constexpr int octaves = 64 - sub_bits;

  void record(std::int64_t value) noexcept {
    std::uint64_t v = value < 0 ? 0 : static_cast<std::uint64_t>(value);
    ++counts_[index_of(v)];
    ++total_;
    max_ = std::max(max_, v);
  }
  void merge(const histogram& o) noexcept {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
  }
  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t max() const noexcept { return max_; }

  // The value at quantile q (0..1): the upper bound of the bucket that holds it.
  std::uint64_t quantile(double q) const noexcept {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(upper_of(i), max_);
    }
    return max_;
  }

 private:
  static std::size_t index_of(std::uint64_t v) noexcept {
    if (v < sub_count) return static_cast<std::size_t>(v);
    int shift = std::bit_width(v) - 1 - sub_bits;  // >= 0
    return static_cast<std::size_t>((shift + 1) * sub_count + ((v >> shift) - sub_count));
  }
  static std::uint64_t upper_of(std::size_t i) noexcept {
    if (i < sub_count) return i;
    std::uint64_t shift = i / sub_count - 1;
    std::uint64_t sub = i % sub_count + sub_count;
    return ((sub + 1) << shift) - 1;
  }

  std::array<std::uint64_t, (octaves + 1) * sub_count> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace bench
