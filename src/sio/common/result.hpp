#pragma once
// A value or a std::error_code: how every parser and fallible call in sio reports failure.
#include <boost/system/result.hpp>
#include <system_error>

namespace sio {

template <class T>
using result = boost::system::result<T, std::error_code>;

}  // namespace sio
