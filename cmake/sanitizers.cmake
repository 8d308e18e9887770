# SOCKKIT_SANITIZE applies to everything built in this tree (library, tests, examples), so
# instrumented and uninstrumented code never mix across a call.
if(SOCKKIT_SANITIZE)
  if(SOCKKIT_SANITIZE MATCHES "thread" AND SOCKKIT_SANITIZE MATCHES "address")
    message(FATAL_ERROR "SOCKKIT_SANITIZE: ThreadSanitizer cannot be combined with AddressSanitizer")
  endif()
  set(_sockkit_san_flags -fsanitize=${SOCKKIT_SANITIZE} -fno-omit-frame-pointer -g)
  if(SOCKKIT_SANITIZE MATCHES "undefined")
    # A UBSan report must fail the test that caused it, not scroll past.
    list(APPEND _sockkit_san_flags -fno-sanitize-recover=all)
  endif()
  add_compile_options(${_sockkit_san_flags})
  add_link_options(${_sockkit_san_flags})
  message(STATUS "sockkit: building with -fsanitize=${SOCKKIT_SANITIZE}")
endif()

if(SOCKKIT_BUILD_FUZZ)
  # Coverage instrumentation for everything the fuzzers call; only the harnesses link
  # libFuzzer's main().
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
