# layer_headers(<target> <PUBLIC|PRIVATE|INTERFACE> <header>...)
#
# The build enforces the layers: a target reaches exactly the headers of the targets it links,
# and its own. No target has src/ on its include path; instead each gets an include directory of
# its own in the build tree, holding links to the headers it publishes (PUBLIC/INTERFACE: to the
# targets that link it too) or keeps for itself (PRIVATE). Headers keep their paths ("sio/adapter/
# adapter.hpp"), so a source that includes a header of a layer its target does not link does not
# compile. <header> paths are include paths: relative to src/.
function(layer_headers target scope)
  string(TOLOWER ${scope} kind)
  set(dir ${CMAKE_BINARY_DIR}/layer-include/${target}-${kind})
  file(REMOVE_RECURSE ${dir})  # a header no longer listed must not stay reachable
  foreach(header IN LISTS ARGN)
    set(source ${PROJECT_SOURCE_DIR}/src/${header})
    if(NOT EXISTS ${source})
      message(FATAL_ERROR "layer_headers(${target}): no such header ${source}")
    endif()
    get_filename_component(sub ${header} DIRECTORY)
    file(MAKE_DIRECTORY ${dir}/${sub})
    file(CREATE_LINK ${source} ${dir}/${header} SYMBOLIC)
  endforeach()
  target_include_directories(${target} ${scope} ${dir})
endfunction()
