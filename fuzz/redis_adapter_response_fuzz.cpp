// libFuzzer target: a message on a Redis adapter's response channel ("<key>-response#<nsp>#..."),
// JSON or MessagePack, read as the answer to every request type. Nothing crashes; errors are
// sio.redis_wire or sio.msgpack ones; what reads fine writes back to the same.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sio/redis_adapter/messages.hpp"

namespace wire = sio::redis_wire;

namespace {

bool expected_error(std::error_code ec) {
  return ec.category() == wire::category() || ec.category() == sio::msgpack::category();
}

template <class T>
void must_be_value_or_expected(const sio::result<T>& r) {
  if (!r && !expected_error(r.error())) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  (void)wire::parse_js_date(input);

  auto r = wire::decode_response(input);
  if (!r) {
    if (!expected_error(r.error())) __builtin_trap();
    return 0;
  }
  auto ids = wire::read_socket_ids(*r);
  must_be_value_or_expected(ids);
  if (ids) {
    auto back = wire::decode_response(wire::encode_sockets_response(r->request_id, *ids));
    if (!back || back->request_id != r->request_id || *wire::read_socket_ids(*back) != *ids) __builtin_trap();
  }
  auto rooms = wire::read_rooms(*r);
  must_be_value_or_expected(rooms);
  if (rooms) {
    auto back = wire::decode_response(wire::encode_all_rooms_response(r->request_id, *rooms));
    if (!back || *wire::read_rooms(*back) != *rooms) __builtin_trap();
  }
  auto sockets = wire::read_fetched_sockets(*r);
  must_be_value_or_expected(sockets);
  if (sockets) {
    auto back = wire::decode_response(wire::encode_fetch_response(r->request_id, *sockets));
    if (!back) __builtin_trap();
    auto again = wire::read_fetched_sockets(*back);
    if (!again || again->size() != sockets->size()) __builtin_trap();
    for (std::size_t i = 0; i < again->size(); ++i)
      if ((*again)[i].id != (*sockets)[i].id || (*again)[i].rooms != (*sockets)[i].rooms) __builtin_trap();
  }
  auto count = wire::read_client_count(*r);
  must_be_value_or_expected(count);
  if (count) {
    auto back = wire::decode_response(wire::encode_client_count_response(r->request_id, *count));
    if (!back || *wire::read_client_count(*back) != *count) __builtin_trap();
  }
  auto reply = wire::read_reply(*r);
  must_be_value_or_expected(reply);
  if (reply) {
    if (reply->args.size() > 1 || sio::parser::count_placeholders(reply->args) != reply->attachments.size()) __builtin_trap();
    auto bytes_back = wire::encode_broadcast_ack_response(r->request_id, *reply);
    if (!bytes_back) __builtin_trap();
    auto back = wire::decode_response(*bytes_back);
    if (!back) __builtin_trap();
    auto again = wire::read_reply(*back);
    if (!again || again->args.size() != reply->args.size() || again->attachments != reply->attachments) __builtin_trap();
    auto third = wire::encode_broadcast_ack_response(r->request_id, *again);
    if (!third || *third != *bytes_back) __builtin_trap();
  }
  return 0;
}
