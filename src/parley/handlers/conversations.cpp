// conversation:join / leave / create / list.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "parley/handlers/brain.hpp"

namespace parley {

namespace ev = events;

void brain::conversation_join(const std::shared_ptr<session>& ss, sio::event& e) {
  auto req = ev::parse_conversation_ref(e.args());
  if (!req) return e.ack(ev::error_ack(req.error()));
  if (auto err = check_conversation_id(req->conversationId)) return e.ack(ev::error_ack(*err));
  with_access(req->conversationId, ss->user_id, e.ack_callback(), [ss, id = req->conversationId, ack = e.ack_callback()] {
    ss->socket->join(id);  // thread-safe; ignored if the socket disconnected meanwhile
    ack(ev::conversation_id_ack{true, id});
  });
}

void brain::conversation_leave(const std::shared_ptr<session>& ss, sio::event& e) {
  auto req = ev::parse_conversation_ref(e.args());
  if (!req) return e.ack(ev::error_ack(req.error()));
  if (auto err = check_conversation_id(req->conversationId)) return e.ack(ev::error_ack(*err));
  ss->socket->leave(req->conversationId);
  if (typing_.stop(ss->socket->id(), req->conversationId))
    ss->socket->to(req->conversationId)
        .emit<ev::typing_stop>(ev::typing_payload{ss->user_id, req->conversationId});
  e.ack(ev::conversation_id_ack{true, req->conversationId});
}

void brain::conversation_create(const std::shared_ptr<session>& ss, sio::event& e) {
  auto req = ev::parse_create(e.args(), opts_.limits);
  if (!req) return e.ack(ev::error_ack(req.error()));
  conversation c;
  c.id = req->conversationId ? *req->conversationId : "c-" + files::random_id();
  if (auto err = check_conversation_id(c.id)) return e.ack(ev::error_ack(*err));
  c.title = req->title.value_or("");
  c.is_private = req->is_private;
  c.member_ids = std::move(req->memberIds);
  c.member_ids.push_back(ss->user_id);  // the creator is always a member
  std::sort(c.member_ids.begin(), c.member_ids.end());
  c.member_ids.erase(std::unique(c.member_ids.begin(), c.member_ids.end()), c.member_ids.end());
  if (c.member_ids.size() > opts_.limits.max_conversation_members)
    return e.ack(ev::error_ack(ev::code::bad_request, "too many members: a conversation has at most " +
                                                          std::to_string(opts_.limits.max_conversation_members)));
  // Each conversation lands in every member's list: a user may not fill others' lists at will.
  if (!ss->quota->take_create())
    return e.ack(ev::error_ack(ev::code::rate_limited, "too many conversations created: try again later"));
  c.created_by = ss->user_id;
  c.created_at = now_ms();
  db_.create_conversation(std::move(c), [this, ack = e.ack_callback()](sio::result<conversation> r) {
    if (!r) return ack(ev::error_ack(to_error(r.error(), "conversation")));
    remember(*r);
    auto reply = [ack, wire = to_wire(*r)] { ack(ev::conversation_ack{true, wire}); };
    if (!r->is_private) return reply();
    evict_non_members(*r, std::move(reply));
  });
}

// Sockets that joined the id while it was a plain (public) room do not stay in it once it is
// created private without them.
void brain::evict_non_members(const conversation& c, std::function<void()> then) {
  io_.in(c.id).fetch_sockets([c, then = std::move(then)](sio::result<std::vector<sio::remote_socket>> sockets) {
    if (!sockets) {
      // Only a cluster adapter fails (a node that did not answer): its non-members, if any, stay.
      spdlog::error("conversation {}: could not list the sockets in its room to evict non-members: {}", c.id,
                    sockets.error().message());
      return then();
    }
    for (const auto& rs : *sockets) {
      const auto* o = rs.data.if_object();
      const auto* u = o ? o->if_contains("userId") : nullptr;
      const bool member = u && u->is_string() &&
                          std::find(c.member_ids.begin(), c.member_ids.end(), u->get_string()) != c.member_ids.end();
      if (!member) rs.leave(c.id);
    }
    then();
  });
}

void brain::conversation_list(const std::shared_ptr<session>& ss, sio::event& e) {
  auto req = ev::parse_list(e.args(), opts_.limits);
  if (!req) return e.ack(ev::error_ack(req.error()));
  std::optional<conversation_cursor> after;
  if (req->before) {
    after = parse_list_cursor(*req->before);
    if (!after) return e.ack(ev::error_ack(ev::code::bad_request, "before must be the `next` of a previous page"));
  }
  const auto budget = opts_.limits.max_reply_bytes;
  db_.list_conversations(ss->user_id, std::move(after), req->limit,
                         [ack = e.ack_callback(), budget](sio::result<conversation_page> r) {
    if (!r) return ack(ev::error_ack(to_error(r.error(), "conversation")));
    ev::conversations_ack out;
    out.conversations.reserve(r->conversations.size());
    std::size_t size = 64;  // the ack around the list
    bool more = r->more;
    const conversation* last = nullptr;
    for (const auto& c : r->conversations) {
      auto wire = to_wire(c);
      size += ev::json_size_bound(wire) + 1;
      if (size > budget && !out.conversations.empty()) {  // the rest on the next page
        more = true;
        break;
      }
      out.conversations.push_back(std::move(wire));
      last = &c;
    }
    if (more && last) out.next = format_list_cursor({last->created_at, last->id});
    ack(out);
  });
}

}  // namespace parley
