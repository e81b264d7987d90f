#include "parley/store/store.hpp"

namespace parley {

namespace {
class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "parley.store"; }
  std::string message(int ev) const override {
    switch (static_cast<store_error>(ev)) {
      case store_error::not_found: return "not found";
      case store_error::conflict: return "already exists";
      case store_error::unavailable: return "the store is unavailable";
      case store_error::forbidden: return "not allowed";
    }
    return "unknown store error";
  }
};
}  // namespace

const std::error_category& store_category() noexcept {
  static const category c;
  return c;
}

std::error_code make_error_code(store_error e) noexcept { return {static_cast<int>(e), store_category()}; }

}  // namespace parley
