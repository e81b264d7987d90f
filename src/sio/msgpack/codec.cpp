#include "sio/msgpack/codec.hpp"

namespace sio::msgpack {

namespace {

class category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sio.msgpack"; }
  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::truncated: return "MessagePack value cut short";
      case error::trailing_bytes: return "bytes after the MessagePack value";
      case error::invalid_type: return "invalid MessagePack type byte";
      case error::invalid_timestamp: return "invalid MessagePack timestamp";
      case error::unsupported_key: return "map key that is not a string, number, boolean or nil";
      case error::duplicate_binary_key: return "repeated map key discards binary data";
      case error::message_too_large: return "MessagePack message too large";
      case error::too_deep: return "MessagePack nesting too deep";
      case error::too_many_elements: return "too many MessagePack elements";
      case error::too_many_attachments: return "too many binary values";
      case error::value_too_large: return "value too large for MessagePack";
    }
    return "unknown MessagePack error";
  }
};

}  // namespace

const std::error_category& category() noexcept {
  static const category_impl instance;
  return instance;
}

std::error_code make_error_code(error e) noexcept { return {static_cast<int>(e), category()}; }

wire_format request_format(std::string_view message) noexcept {
  // 0x7b is also the positive fixint 123: a MessagePack message that is just that number reads
  // as JSON here, as it does in the reference.
  return !message.empty() && message.front() == '{' ? wire_format::json : wire_format::msgpack;
}

}  // namespace sio::msgpack
