// message:send, private:message, message:history.
#include <spdlog/spdlog.h>

#include "parley/handlers/brain.hpp"

namespace parley {

namespace ev = events;

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

void brain::store_and_deliver(new_message m, sio::ack_fn ack, std::function<void(const ev::message&)> deliver) {
  db_.insert_message(std::move(m), [ack = std::move(ack), deliver = std::move(deliver)](sio::result<insert_result> r) {
    if (!r) {
      if (r.error() == store_error::not_found) return ack(ev::error_ack(ev::code::not_found, "attachment not found"));
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
  const std::string id = req->conversationId;  // not req->...: the lambda below moves req
  with_access(id, ss->user_id, e.ack_callback(), [this, ss, req = std::move(*req), ack = e.ack_callback()]() mutable {
    // Everyone in the conversation's room but the sending socket.
    auto deliver = [ss](const ev::message& msg) { ss->socket->to(msg.conversationId).emit<ev::message_new>(msg); };
    if (req.attachments.empty()) {  // the common case: straight to the store
      new_message m{std::move(req.conversationId), ss->user_id, std::move(req.content), now_ms(),
                    std::move(req.clientMessageId), {}};
      return store_and_deliver(std::move(m), std::move(ack), deliver);
    }
    auto attachments = std::move(req.attachments);
    resolve_attachments(std::move(attachments), ss->user_id,
                        [this, ss, req = std::move(req), ack, deliver](sio::result<std::vector<std::string>> ids) mutable {
      if (!ids) return ack(ev::error_ack(ev::code::internal, "the attachment could not be stored"));
      new_message m{req.conversationId, ss->user_id, std::move(req.content), now_ms(), std::move(req.clientMessageId),
                    std::move(*ids)};
      store_and_deliver(std::move(m), ack, deliver);
    });
  });
}

void brain::private_message(const std::shared_ptr<session>& ss, sio::event& e) {
  auto req = ev::parse_private(e.args(), e.attachments(), opts_.limits);
  if (!req) return e.ack(ev::error_ack(req.error()));
  if (req->recipientUserId == ss->user_id)
    return e.ack(ev::error_ack(ev::code::bad_request, "recipientUserId must be another user"));
  std::string recipient = req->recipientUserId;  // not req->...: the lambda below moves req
  db_.direct_conversation(ss->user_id, std::move(recipient), now_ms(),
                          [this, ss, req = std::move(*req), ack = e.ack_callback()](sio::result<conversation> c) mutable {
    if (!c) return ack(ev::error_ack(to_error(c.error(), "conversation")));
    remember(*c);
    auto attachments = std::move(req.attachments);
    resolve_attachments(std::move(attachments), ss->user_id,
                        [this, ss, conv = c->id, req = std::move(req), ack](sio::result<std::vector<std::string>> ids) mutable {
      if (!ids) return ack(ev::error_ack(ev::code::internal, "the attachment could not be stored"));
      new_message m{conv, ss->user_id, std::move(req.content), now_ms(), std::move(req.clientMessageId), std::move(*ids)};
      // Every socket of the recipient, and the sender's other sockets.
      store_and_deliver(std::move(m), ack, [ss, recipient = req.recipientUserId](const ev::message& msg) {
        const auto to = ev::user_room(recipient);
        const auto self = ev::user_room(ss->user_id);
        ss->socket->to({std::string_view(to), std::string_view(self)}).emit<ev::message_new>(msg);
      });
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
