#pragma once
// Who may read a stored file: download it, or attach it to a message (which shares it with that
// conversation). One rule, used by the download route and by every store's insert_message.
//
//   store.file_conversations(id, [&](auto convs) { if (parley::may_read_file(file, *convs, user)) ... });
//
// Access is the union of what each conversation the file is attached in grants; attaching it
// somewhere never takes access away from anyone:
// - its uploader, always;
// - anyone while the file is attached nowhere (the contract's restriction starts once it is
//   attached to a private conversation), or once it is attached in any public conversation;
// - the members of every private conversation it is attached in.
// Pure; safe from any thread.
#include <string_view>
#include <vector>

#include "parley/store/store.hpp"

namespace parley {

// `attached_in`: the conversations whose messages attach `f` (store::file_conversations), with
// their members.
bool may_read_file(const file_record& f, const std::vector<conversation>& attached_in, std::string_view user_id);

}  // namespace parley
