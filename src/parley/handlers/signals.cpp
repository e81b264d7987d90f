// typing:start / typing:stop and message:read: the small signals around messages.
#include <algorithm>

#include "parley/handlers/brain.hpp"

namespace parley {

namespace ev = events;

void brain::typing_start(const std::shared_ptr<session>& ss, sio::event& e) {
  auto req = ev::parse_conversation_ref(e.args());
  if (!req) return e.ack(ev::error_ack(req.error()));
  if (auto err = check_conversation_id(req->conversationId)) return e.ack(ev::error_ack(*err));
  auto relay = [this, ss](const std::string& id, const sio::ack_fn& ack) {
    ev::typing_payload p{ss->user_id, id};
    ss->socket->to(id).emit<ev::typing_start>(p);
    // Expires into a typing:stop sent by the server, unless the client stops first.
    typing_.start(ss->socket->id(), id, [ss, p] { ss->socket->to(p.conversationId).emit<ev::typing_stop>(p); });
    ack(ev::conversation_id_ack{true, id});
  };
  // In the room already: it was allowed to join, so it may type (no store read per keystroke).
  const auto rooms = ss->socket->rooms();
  if (std::find(rooms.begin(), rooms.end(), req->conversationId) != rooms.end())
    return relay(req->conversationId, e.ack_callback());
  with_access(req->conversationId, ss->user_id, e.ack_callback(), [ss, relay, id = req->conversationId, ack = e.ack_callback()] {
    relay(id, ack);
  });
}

void brain::typing_stop(const std::shared_ptr<session>& ss, sio::event& e) {
  auto req = ev::parse_conversation_ref(e.args());
  if (!req) return e.ack(ev::error_ack(req.error()));
  if (auto err = check_conversation_id(req->conversationId)) return e.ack(ev::error_ack(*err));
  // Only an indicator this socket started is stopped: so nothing reaches a private
  // conversation from a non-member (whose typing:start was refused).
  if (typing_.stop(ss->socket->id(), req->conversationId))
    ss->socket->to(req->conversationId).emit<ev::typing_stop>(ev::typing_payload{ss->user_id, req->conversationId});
  e.ack(ev::conversation_id_ack{true, req->conversationId});
}

void brain::message_read(const std::shared_ptr<session>& ss, sio::event& e) {
  auto req = ev::parse_read(e.args());
  if (!req) return e.ack(ev::error_ack(req.error()));
  // Access is decided before anything about the message shows: whoever may not use its
  // conversation gets the very answer of a message that does not exist, and its sender hears
  // nothing. Otherwise message ids, which are sequential, would tell outsiders who talks to whom.
  std::string message_id = req->messageId;  // not req->...: the lambda below moves req
  db_.get_message(std::move(message_id), [this, ss, named = std::move(req->conversationId),
                                          ack = e.ack_callback()](sio::result<stored_message> m) mutable {
    const auto not_found = ev::error_ack(ev::code::not_found, "message not found");
    if (!m) return ack(m.error() == store_error::not_found ? not_found : ev::error_ack(to_error(m.error(), "message")));
    const std::string conv = m->conversation_id;
    lookup(conv, [this, ss, named = std::move(named), msg = std::move(*m), ack, not_found](lookup_result c) {
      if (!c) return ack(ev::error_ack(to_error(c.error(), "conversation")));
      if (!may_access(*c, ss->user_id) || (named && *named != msg.conversation_id)) return ack(not_found);
      db_.mark_read(msg.id, ss->user_id, now_ms(), [this, ss, ack](sio::result<read_result> rr) {
        if (!rr) return ack(ev::error_ack(to_error(rr.error(), "message")));
        ev::read_receipt_payload p{rr->message.id, rr->message.conversation_id, ss->user_id, ev::format_time(rr->read_at)};
        // Reading twice notifies once.
        if (rr->first_read) io_.to(ev::user_room(rr->message.sender_id)).emit<ev::message_read>(p);
        ack(ev::read_ack{true, p.messageId, p.conversationId, p.readBy, p.readAt});
      });
    });
  });
}

}  // namespace parley
