# sockkit_set_warnings(<target>): the project's warning set, per target (docs/design.md).
# Third-party headers come in as system includes, so they never trip these.
function(sockkit_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast
    -Wnon-virtual-dtor -Woverloaded-virtual)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 at -O3 reports impossible overlaps inside std::string's operator+ (GCC bug
    # 105329, fixed in 13); with -Werror that false positive would break release builds.
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(SOCKKIT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
