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

void brain::resolve_attachments(std::vector<ev::attachment_ref> refs, const std::string& uploader,
                                std::function<void(sio::result<resolved_attachments>)> done) {
  std::vector<files::file_storage::bytes_to_store> binaries;
  for (const auto& ref : refs) {
    if (ref.fileId) continue;
    const auto& bytes = ref.data->shared();
    binaries.push_back({bytes, *bytes,
                        {ref.name.empty() ? "attachment" : ref.name,
                         ref.contentType.empty() ? "application/octet-stream" : ref.contentType, uploader}});
  }
  if (binaries.empty()) {  // file ids only (the common case): at once, on this thread
    resolved_attachments r;
    for (auto& ref : refs) r.file_ids.push_back(std::move(*ref.fileId));
    return done(std::move(r));
  }
  files_.write_unrecorded(std::move(binaries), [refs = std::move(refs), done = std::move(done)](
                                                   sio::result<std::vector<file_record>> written) {
    if (!written) return done(written.error());
    resolved_attachments r;
    auto next_written = written->begin();
    for (const auto& ref : refs) r.file_ids.push_back(ref.fileId ? *ref.fileId : (next_written++)->id);
    r.new_files = std::move(*written);
    done(std::move(r));
  });
}

void brain::store_in_turn(new_message m, std::vector<ev::attachment_ref> refs, sio::ack_fn ack, deliver_fn deliver,
                          sequencer::turn turn) {
  const std::string uploader = m.sender_id;
  resolve_attachments(std::move(refs), uploader, [this, m = std::move(m), ack = std::move(ack),
                                                  deliver = std::move(deliver), turn](
                                                     sio::result<resolved_attachments> r) mutable {
    if (!r) {
      turn.end();
      return ack(ev::error_ack(ev::code::internal, "the attachment could not be stored"));
    }
    m.attachment_file_ids = std::move(r->file_ids);
    m.new_files = std::move(r->new_files);
    m.created_at = now_ms();
    store_and_deliver(std::move(m), std::move(ack), std::move(deliver));
    turn.end();  // the insert is queued: the next message may go
  });
}

void brain::store_and_deliver(new_message m, sio::ack_fn ack, deliver_fn deliver) {
  auto new_files = m.new_files;  // removed again if the store does not record them
  db_.insert_message(std::move(m), [this, ack = std::move(ack), deliver = std::move(deliver),
                                    new_files = std::move(new_files)](sio::result<insert_result> r) mutable {
    if (r && r->created) {
      auto msg = to_wire(r->message);
      // Stored (and committed) before anyone hears of it.
      deliver(msg);
      return ack(ev::message_ack{true, std::move(msg)});
    }
    // Refused; or a retry with the same clientMessageId, answered with the message stored the
    // first time (and delivered then, not again).
    const bool outcome_unknown = !r && r.error() == store_error::unavailable;
    auto answer = [ack, r = std::move(r)] {
      if (r) return ack(ev::message_ack{true, to_wire(r->message)});
      if (r.error() == store_error::forbidden)
        return ack(ev::error_ack(ev::code::forbidden, "attachments must be files you uploaded or may download"));
      if (r.error() == store_error::not_found) return ack(ev::error_ack(to_error(r.error(), "conversation")));
      spdlog::error("storing a message failed: {}", r.error().message());
      ack(ev::error_ack(ev::code::internal, "the message could not be stored"));
    };
    // The files that came with it were not recorded: removed before the answer, so that whoever
    // hears it finds nothing left behind. Kept when the store failed: a commit that failed may
    // still have happened, and a record without its bytes would be worse than bytes without one.
    if (new_files.empty() || outcome_unknown) return answer();
    files_.discard_unrecorded(std::move(new_files), std::move(answer));
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
                    std::move(req.clientMessageId), {}, {}};
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
      new_message m{conversation_id, ss->user_id, std::move(req.content), 0, std::move(req.clientMessageId), {}, {}};
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
                [ack, budget = opts_.limits.max_reply_bytes](sio::result<std::vector<stored_message>> msgs) {
      if (!msgs) return ack(ev::error_ack(to_error(msgs.error(), "message `before`")));
      // The newest that fit in one reply (see limits::max_reply_bytes): a client paging back with
      // the first id it holds as `before` gets the older ones next.
      std::vector<ev::message> newest_first;
      std::size_t size = 64;  // the ack around the list
      for (auto it = msgs->rbegin(); it != msgs->rend(); ++it) {
        auto wire = to_wire(*it);
        size += ev::json_size_bound(wire) + 1;
        if (size > budget && !newest_first.empty()) break;
        newest_first.push_back(std::move(wire));
      }
      ev::messages_ack out;
      out.messages.assign(std::make_move_iterator(newest_first.rbegin()), std::make_move_iterator(newest_first.rend()));
      ack(out);
    });
  });
}

}  // namespace parley
