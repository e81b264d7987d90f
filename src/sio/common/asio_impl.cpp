// The one translation unit that compiles Asio and Beast (separate compilation saves
// minutes per build on two cores).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
