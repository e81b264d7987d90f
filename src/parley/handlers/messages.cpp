// message:send, private:message, message:history.
//
// Order. One socket's messages are stored, acknowledged, delivered and listed in history in the
// order they arrived. Before its insert a message may wait for a conversation lookup (one not
// cached yet: every message of a new public conversation until its first insert commits), for its
// binary attachments to be written, or for its direct conversation: steps that finish on other
// threads, in any order. So the messages of a socket pass through its sequencer (sequencer.hpp),
// one turn each: a message's steps start once the message before it has queued its insert (or
// was refused), and its turn ends as soon as its own insert is queued, so that inserts still
// share group commits. The store runs writes and calls them back in the order they were queued
// (store.hpp: one thread at a time, in commit order, the sync thread's hand-over included), and
// each callback delivers and acknowledges before the next runs. Store threads run no event
// loop, so their sends go straight to each session's loop inbox, in order, and a session's
// packets leave in the order they were queued, on every transport. A message that needs no
// asynchronous step (a cached conversation, no binary attachment) has its turn at once, on the
// socket's thread.
// Bound: at most max_waiting_messages wait per socket, then RATE_LIMITED; the rate limiter
// (default 20/s, burst 40) refuses long before, unless it is switched off.
#include <spdlog/spdlog.h>

#include "parley/handlers/brain.hpp"
#include "parley/store/ids.hpp"

namespace parley {

namespace ev = events;

void brain::in_message_order(const std::shared_ptr<session>& ss, const sio::ack_fn& ack, sequencer::task step) {
  // The steps run on store threads too, where nothing would answer the client: a bug still gets
  // its one ack (as route() does on the socket's thread).
  auto guarded = [ss, ack, step = std::move(step)](sequencer::turn turn) {
    try {
      step(std::move(turn));
    } catch (const std::exception& ex) {
      spdlog::error("message from socket {}: {}", ss->socket->id(), ex.what());
      ack(ev::error_ack(ev::code::internal, "internal error"));
    }
  };
  if (!ss->message_order.push(std::move(guarded)))
    ack(ev::error_ack(ev::code::rate_limited, "too many messages waiting to be stored: wait for their acks"));
}

void brain::resolve_attachments(std::vector<ev::attachment_ref> refs, std::string uploader,
                                std::function<void(sio::result<std::vector<std::string>>)> done) {
  // One step per attachment, in order: a file id is taken as is, bytes are stored first.
  struct state {
    std::vector<ev::attachment_ref> refs;
    std::vector<std::string> ids;
    std::string uploader;
    std::function<void(sio::result<std::vector<std::string>>)> done;
  };
  auto st = std::make_shared<state>(state{std::move(refs), {}, std::move(uploader), std::move(done)});
  auto step = std::make_shared<std::function<void()>>();
  *step = [this, st, weak_step = std::weak_ptr<std::function<void()>>(step)] {
    while (st->ids.size() < st->refs.size()) {
      auto& ref = st->refs[st->ids.size()];
      if (ref.fileId) {
        st->ids.push_back(*ref.fileId);
        continue;
      }
      auto next = weak_step.lock();
      files::file_info info{ref.name.empty() ? "attachment" : ref.name,
                            ref.contentType.empty() ? "application/octet-stream" : ref.contentType, st->uploader};
      auto bytes = ref.data->shared();
      files_.save(bytes, *bytes, std::move(info), [st, next](sio::result<file_record> r) {
        if (!r) return st->done(r.error());
        st->ids.push_back(r->id);
        (*next)();
      });
      return;
    }
    st->done(std::move(st->ids));
  };
  // The chain keeps `step` alive through the callbacks that hold it.
  auto run = step;
  (*run)();
}

void brain::store_in_turn(new_message m, std::vector<ev::attachment_ref> refs, sio::ack_fn ack, deliver_fn deliver,
                          sequencer::turn turn) {
  const std::string uploader = m.sender_id;
  resolve_attachments(std::move(refs), uploader, [this, m = std::move(m), ack = std::move(ack),
                                                  deliver = std::move(deliver), turn](
                                                     sio::result<std::vector<std::string>> ids) mutable {
    if (!ids) {
      turn.end();
      return ack(ev::error_ack(ev::code::internal, "the attachment could not be stored"));
    }
    m.attachment_file_ids = std::move(*ids);
    m.created_at = now_ms();
    store_and_deliver(std::move(m), std::move(ack), std::move(deliver));
    turn.end();  // the insert is queued: the next message may go
  });
}

void brain::store_and_deliver(new_message m, sio::ack_fn ack, deliver_fn deliver) {
  db_.insert_message(std::move(m), [ack = std::move(ack), deliver = std::move(deliver)](sio::result<insert_result> r) {
    if (!r) {
      if (r.error() == store_error::forbidden)
        return ack(ev::error_ack(ev::code::forbidden, "attachments must be files you uploaded or may download"));
      if (r.error() == store_error::not_found) return ack(ev::error_ack(to_error(r.error(), "conversation")));
      spdlog::error("storing a message failed: {}", r.error().message());
      return ack(ev::error_ack(ev::code::internal, "the message could not be stored"));
    }
    auto msg = to_wire(r->message);
    // Stored (and committed) before anyone hears of it. A retry with the same clientMessageId
    // gets the stored message back, and nothing is delivered twice.
    if (r->created) deliver(msg);
    ack(ev::message_ack{true, std::move(msg)});
  });
}

void brain::message_send(const std::shared_ptr<session>& ss, sio::event& e) {
  auto req = ev::parse_send(e.args(), e.attachments(), opts_.limits);
  if (!req) return e.ack(ev::error_ack(req.error()));
  if (auto err = check_conversation_id(req->conversationId)) return e.ack(ev::error_ack(*err));
  auto ack = e.ack_callback();
  in_message_order(ss, ack, [this, ss, req = std::move(*req), ack](sequencer::turn turn) mutable {
    const std::string id = req.conversationId;  // not req...: the lambda below moves req
    // Refused (FORBIDDEN, or the lookup failed): with_access acks and drops `then`, and with it
    // the turn, so that the next message goes.
    with_access(id, ss->user_id, ack, [this, ss, req = std::move(req), ack, turn]() mutable {
      new_message m{std::move(req.conversationId), ss->user_id, std::move(req.content), 0,
                    std::move(req.clientMessageId), {}};
      // Everyone in the conversation's room but the sending socket.
      auto deliver = [ss](const ev::message& msg) { ss->socket->to(msg.conversationId).emit<ev::message_new>(msg); };
      store_in_turn(std::move(m), std::move(req.attachments), ack, std::move(deliver), std::move(turn));
    });
  });
}

void brain::private_message(const std::shared_ptr<session>& ss, sio::event& e) {
  auto req = ev::parse_private(e.args(), e.attachments(), opts_.limits);
  if (!req) return e.ack(ev::error_ack(req.error()));
  if (req->recipientUserId == ss->user_id)
    return e.ack(ev::error_ack(ev::code::bad_request, "recipientUserId must be another user"));
  auto ack = e.ack_callback();
  in_message_order(ss, ack, [this, ss, req = std::move(*req), ack](sequencer::turn turn) mutable {
    // Every socket of the recipient, and the sender's other sockets.
    auto deliver = [ss, recipient = req.recipientUserId](const ev::message& msg) {
      const auto to = ev::user_room(recipient);
      const auto self = ev::user_room(ss->user_id);
      ss->socket->to({std::string_view(to), std::string_view(self)}).emit<ev::message_new>(msg);
    };
    auto store = [this, ss, req, ack, deliver, turn](const std::string& conversation_id) mutable {
      new_message m{conversation_id, ss->user_id, std::move(req.content), 0, std::move(req.clientMessageId), {}};
      store_in_turn(std::move(m), std::move(req.attachments), ack, std::move(deliver), std::move(turn));
    };
    // The direct conversation never changes once created: after its first use it is cached.
    if (auto c = cached(direct_conversation_id(ss->user_id, req.recipientUserId))) return store(c->id);
    db_.direct_conversation(ss->user_id, req.recipientUserId, now_ms(),
                            [this, ack, turn, store = std::move(store)](sio::result<conversation> c) mutable {
      if (!c) {
        turn.end();
        return ack(ev::error_ack(to_error(c.error(), "conversation")));
      }
      remember(*c);
      store(c->id);
    });
  });
}

void brain::message_history(const std::shared_ptr<session>& ss, sio::event& e) {
  auto req = ev::parse_history(e.args(), opts_.limits);
  if (!req) return e.ack(ev::error_ack(req.error()));
  if (auto err = check_conversation_id(req->conversationId)) return e.ack(ev::error_ack(*err));
  const std::string id = req->conversationId;  // not req->...: the lambda below moves req
  with_access(id, ss->user_id, e.ack_callback(), [this, ss, req = std::move(*req), ack = e.ack_callback()]() mutable {
    db_.history(req.conversationId, req.before, req.limit,
                [ack](sio::result<std::vector<stored_message>> msgs) {
      if (!msgs) return ack(ev::error_ack(to_error(msgs.error(), "message `before`")));
      ev::messages_ack out;
      out.messages.reserve(msgs->size());
      for (const auto& m : *msgs) out.messages.push_back(to_wire(m));
      ack(out);
    });
  });
}

}  // namespace parley
