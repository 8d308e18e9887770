# sockkit_set_warnings(<target>): the project's warning set, per target (STYLE.md, "Build").
# Third-party headers come in as system includes, so they never trip these.
function(sockkit_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast
    -Wnon-virtual-dtor -Woverloaded-virtual)
  if(SOCKKIT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
