#include "parley/store/file_access.hpp"

#include <algorithm>

namespace parley {

bool may_read_file(const file_record& f, const std::vector<conversation>& attached_in, std::string_view user_id) {
  if (f.uploader_id == user_id || attached_in.empty()) return true;
  return std::any_of(attached_in.begin(), attached_in.end(), [&](const conversation& c) {
    return !c.is_private || std::find(c.member_ids.begin(), c.member_ids.end(), user_id) != c.member_ids.end();
  });
}

}  // namespace parley
